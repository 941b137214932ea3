package cli

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// command describes one shell command: its usage line (zkCli's), the
// single-letter flags it takes, and its positional argument count.
type command struct {
	name       string
	usage      string
	boolFlags  string
	valueFlags string
	minArgs    int
	maxArgs    int
	run        func(sh *shell, o options, args []string) error
}

var commands []*command

var commandByName = map[string]*command{}

func init() {
	commands = []*command{
		{name: "addWatch", usage: "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE", valueFlags: "m", minArgs: 1, maxArgs: 1, run: cmdAddWatch},
		{name: "addauth", usage: "addauth scheme auth", minArgs: 1, maxArgs: 2, run: cmdAddAuth},
		{name: "connect", usage: "connect host:port", minArgs: 1, maxArgs: 1, run: cmdConnect},
		{name: "create", usage: "create [-s] [-e] [-c] [-t ttl] path [data] [acl]", boolFlags: "sec", valueFlags: "t", minArgs: 1, maxArgs: 3, run: cmdCreate},
		{name: "delete", usage: "delete [-v version] path", valueFlags: "v", minArgs: 1, maxArgs: 1, run: cmdDelete},
		{name: "deleteall", usage: "deleteall path [-b batch size]", valueFlags: "b", minArgs: 1, maxArgs: 1, run: cmdDeleteAll},
		{name: "get", usage: "get [-s] [-w] path", boolFlags: "sw", minArgs: 1, maxArgs: 1, run: cmdGet},
		{name: "getAcl", usage: "getAcl [-s] path", boolFlags: "s", minArgs: 1, maxArgs: 1, run: cmdGetACL},
		{name: "help", usage: "help", maxArgs: 0, run: func(sh *shell, _ options, _ []string) error { sh.help(sh.out); return nil }},
		{name: "ls", usage: "ls [-s] [-w] [-R] path", boolFlags: "swR", minArgs: 1, maxArgs: 1, run: cmdLs},
		{name: "quit", usage: "quit", maxArgs: 0, run: func(*shell, options, []string) error { return nil }},
		{name: "set", usage: "set [-s] [-v version] path data", boolFlags: "s", valueFlags: "v", minArgs: 2, maxArgs: 2, run: cmdSet},
		{name: "setAcl", usage: "setAcl [-s] [-v version] [-R] path acl", boolFlags: "sR", valueFlags: "v", minArgs: 2, maxArgs: 2, run: cmdSetACL},
		{name: "stat", usage: "stat [-w] path", boolFlags: "w", minArgs: 1, maxArgs: 1, run: cmdStat},
		{name: "sync", usage: "sync path", minArgs: 1, maxArgs: 1, run: cmdSync},
		{name: "whoami", usage: "whoami ", maxArgs: 0, run: cmdWhoAmI},
	}
	for _, c := range commands {
		commandByName[c.name] = c
	}
}

// zkErr turns a client error into zkCli's message for path.
func zkErr(err error, path string) error {
	return errors.New(message(err, path))
}

// watch prints the one notification a go-zookeeper watch channel delivers.
// EventNotWatching (session closed) is not a server notification and is
// dropped, as zkCli drops its local disconnect events.
func (sh *shell) watch(ch <-chan zk.Event) {
	if ch == nil {
		return
	}
	go func() {
		ev, ok := <-ch
		if !ok || ev.Type == zk.EventNotWatching {
			return
		}
		writeEvent(sh.out, int32(ev.Type), int32(ev.State), ev.Path)
	}()
}

func parseVersion(s string) (int32, error) {
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("version %q is not a number", s)
	}
	return int32(v), nil
}

func versionOpt(o options) (int32, error) {
	v, ok := o['v']
	if !ok {
		return -1, nil
	}
	return parseVersion(v)
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

func cmdLs(sh *shell, o options, a []string) error {
	path := a[0]
	if o.has('R') {
		return sh.walk(path, func(p string) error { fmt.Fprintln(sh.out, p); return nil })
	}
	var (
		kids []string
		st   *zk.Stat
		err  error
	)
	if o.has('w') {
		var ch <-chan zk.Event
		kids, st, ch, err = sh.conn.ChildrenW(path)
		sh.watch(ch)
	} else {
		kids, st, err = sh.conn.Children(path)
	}
	if err != nil {
		return zkErr(err, path)
	}
	slices.Sort(kids)
	fmt.Fprintf(sh.out, "[%s]\n", strings.Join(kids, ", "))
	if o.has('s') {
		writeStat(sh.out, st)
	}
	return nil
}

// walk visits path and its descendants breadth-first, children in sorted
// order, which is the order `ls -R` prints.
func (sh *shell) walk(path string, visit func(string) error) error {
	queue := []string{path}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		kids, _, err := sh.conn.Children(p)
		if errors.Is(err, zk.ErrNoNode) && p != path {
			continue // deleted while walking
		}
		if err != nil {
			return zkErr(err, p)
		}
		if err := visit(p); err != nil {
			return err
		}
		slices.Sort(kids)
		for _, k := range kids {
			queue = append(queue, join(p, k))
		}
	}
	return nil
}

func cmdGet(sh *shell, o options, a []string) error {
	path := a[0]
	var (
		data []byte
		st   *zk.Stat
		err  error
	)
	if o.has('w') {
		var ch <-chan zk.Event
		data, st, ch, err = sh.conn.GetW(path)
		sh.watch(ch)
	} else {
		data, st, err = sh.conn.Get(path)
	}
	if err != nil {
		return zkErr(err, path)
	}
	if data == nil {
		fmt.Fprintln(sh.out, "null") // zkCli prints Java's null for no data
	} else {
		fmt.Fprintln(sh.out, string(data))
	}
	if o.has('s') {
		writeStat(sh.out, st)
	}
	return nil
}

func cmdSet(sh *shell, o options, a []string) error {
	version, err := versionOpt(o)
	if err != nil {
		return err
	}
	st, err := sh.conn.Set(a[0], []byte(a[1]), version)
	if err != nil {
		return zkErr(err, a[0])
	}
	if o.has('s') {
		writeStat(sh.out, st)
	}
	return nil
}

func cmdCreate(sh *shell, o options, a []string) error {
	path := a[0]
	var data []byte
	if len(a) > 1 {
		data = []byte(a[1])
	}
	acl := zk.WorldACL(zk.PermAll)
	if len(a) > 2 {
		parsed, err := parseACL(a[2])
		if err != nil {
			return fmt.Errorf("%w\nAcl is not valid : %s", err, path)
		}
		acl = parsed
	}
	eph, seq, cont := o.has('e'), o.has('s'), o.has('c')
	var (
		created string
		err     error
	)
	switch {
	case cont && (eph || seq):
		return errors.New("-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.")
	case cont:
		created, err = sh.conn.CreateContainer(path, data, zk.FlagContainer, acl)
	case o.has('t'):
		if eph {
			return errors.New("TTLs cannot be used with Ephemeral znodes")
		}
		ttl, perr := strconv.ParseInt(o['t'], 10, 64)
		if perr != nil || ttl <= 0 {
			return fmt.Errorf("ttl %q is not a positive number of milliseconds", o['t'])
		}
		flag := int32(zk.FlagTTL)
		if seq {
			flag = zk.FlagPersistentSequentialWithTTL
		}
		created, err = sh.conn.CreateTTL(path, data, flag, acl, time.Duration(ttl)*time.Millisecond)
	default:
		var flags int32
		if eph {
			flags |= zk.FlagEphemeral
		}
		if seq {
			flags |= zk.FlagSequence
		}
		created, err = sh.conn.Create(path, data, flags, acl)
	}
	if err != nil {
		return zkErr(err, path)
	}
	fmt.Fprintf(sh.out, "Created %s\n", created)
	return nil
}

func cmdDelete(sh *shell, o options, a []string) error {
	version, err := versionOpt(o)
	if err != nil {
		return err
	}
	if err := sh.conn.Delete(a[0], version); err != nil {
		return zkErr(err, a[0])
	}
	return nil
}

// cmdDeleteAll lists the subtree, then deletes it deepest first. The -b
// batch size zkCli takes is accepted and ignored: deletes go one by one.
func cmdDeleteAll(sh *shell, _ options, a []string) error {
	var all []string
	if err := sh.walk(a[0], func(p string) error { all = append(all, p); return nil }); err != nil {
		return err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if err := sh.conn.Delete(all[i], -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return zkErr(err, all[i])
		}
	}
	return nil
}

func cmdStat(sh *shell, o options, a []string) error {
	path := a[0]
	var (
		ok  bool
		st  *zk.Stat
		err error
	)
	if o.has('w') {
		var ch <-chan zk.Event
		ok, st, ch, err = sh.conn.ExistsW(path)
		sh.watch(ch)
	} else {
		ok, st, err = sh.conn.Exists(path)
	}
	if err != nil {
		return zkErr(err, path)
	}
	if !ok {
		return zkErr(zk.ErrNoNode, path)
	}
	writeStat(sh.out, st)
	return nil
}

func cmdGetACL(sh *shell, o options, a []string) error {
	acl, st, err := sh.conn.GetACL(a[0])
	if err != nil {
		return zkErr(err, a[0])
	}
	writeACL(sh.out, acl)
	if o.has('s') {
		writeStat(sh.out, st)
	}
	return nil
}

func cmdSetACL(sh *shell, o options, a []string) error {
	path := a[0]
	version, err := versionOpt(o)
	if err != nil {
		return err
	}
	acl, err := parseACL(a[1])
	if err != nil {
		return fmt.Errorf("%w\nAcl is not valid : %s", err, path)
	}
	if o.has('R') {
		return sh.walk(path, func(p string) error {
			v := int32(-1)
			if p == path {
				v = version
			}
			if _, err := sh.conn.SetACL(p, acl, v); err != nil {
				return zkErr(err, p)
			}
			return nil
		})
	}
	st, err := sh.conn.SetACL(path, acl, version)
	if err != nil {
		return zkErr(err, path)
	}
	if o.has('s') {
		writeStat(sh.out, st)
	}
	return nil
}

func cmdAddAuth(sh *shell, _ options, a []string) error {
	var auth []byte
	if len(a) > 1 {
		auth = []byte(a[1])
	}
	if err := sh.conn.AddAuth(a[0], auth); err != nil {
		return zkErr(err, "")
	}
	sh.creds = append(sh.creds, credential{scheme: a[0], auth: auth})
	// Keep the side session's identity in step with the main one.
	if sh.side != nil {
		sh.side.close()
		sh.side = nil
	}
	return nil
}

func cmdSync(sh *shell, _ options, a []string) error {
	if _, err := sh.conn.Sync(a[0]); err != nil {
		return zkErr(err, a[0])
	}
	fmt.Fprintln(sh.out, "Sync is OK")
	return nil
}

func cmdConnect(sh *shell, _ options, a []string) error {
	return sh.connect(a[0])
}

func cmdAddWatch(sh *shell, o options, a []string) error {
	mode := jute.AddWatchPersistentRecursive
	if m, ok := o['m']; ok {
		switch strings.ToUpper(m) {
		case "PERSISTENT":
			mode = jute.AddWatchPersistent
		case "PERSISTENT_RECURSIVE":
			mode = jute.AddWatchPersistentRecursive
		default:
			return fmt.Errorf("Unsupported mode: %s", m)
		}
	}
	s, err := sh.sideSession()
	if err != nil {
		return err
	}
	if err := s.addWatch(sh.ctx, a[0], mode); err != nil {
		return zkErr(err, a[0])
	}
	return nil
}

func cmdWhoAmI(sh *shell, _ options, _ []string) error {
	s, err := sh.sideSession()
	if err != nil {
		return err
	}
	infos, err := s.whoAmI(sh.ctx)
	if err != nil {
		return zkErr(err, "")
	}
	fmt.Fprintln(sh.out, "Auth scheme: User")
	for _, ci := range infos {
		fmt.Fprintf(sh.out, "%s: %s\n", ci.AuthScheme, ci.User)
	}
	return nil
}
