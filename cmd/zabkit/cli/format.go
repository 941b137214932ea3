package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/core/zkerr"
)

// javaDate is java.util.Date.toString's layout, which zkCli uses for
// ctime and mtime; scripts written against zkCli parse it.
const javaDate = "Mon Jan 02 15:04:05 MST 2006"

// writeStat prints a Stat the way zkCli's StatPrinter does.
func writeStat(w io.Writer, st *zk.Stat) {
	fmt.Fprintf(w, "cZxid = 0x%x\n", uint64(st.Czxid))
	fmt.Fprintf(w, "ctime = %s\n", time.UnixMilli(st.Ctime).Format(javaDate))
	fmt.Fprintf(w, "mZxid = 0x%x\n", uint64(st.Mzxid))
	fmt.Fprintf(w, "mtime = %s\n", time.UnixMilli(st.Mtime).Format(javaDate))
	fmt.Fprintf(w, "pZxid = 0x%x\n", uint64(st.Pzxid))
	fmt.Fprintf(w, "cversion = %d\n", st.Cversion)
	fmt.Fprintf(w, "dataVersion = %d\n", st.Version)
	fmt.Fprintf(w, "aclVersion = %d\n", st.Aversion)
	fmt.Fprintf(w, "ephemeralOwner = 0x%x\n", uint64(st.EphemeralOwner))
	fmt.Fprintf(w, "dataLength = %d\n", st.DataLength)
	fmt.Fprintf(w, "numChildren = %d\n", st.NumChildren)
}

// permLetters is the order zkCli prints permission letters in.
var permLetters = []struct {
	bit    int32
	letter byte
}{
	{zk.PermCreate, 'c'}, {zk.PermDelete, 'd'}, {zk.PermRead, 'r'}, {zk.PermWrite, 'w'}, {zk.PermAdmin, 'a'},
}

func permString(p int32) string {
	var b []byte
	for _, pl := range permLetters {
		if p&pl.bit != 0 {
			b = append(b, pl.letter)
		}
	}
	return string(b)
}

func parsePerms(s string) (int32, error) {
	var p int32
	for i := 0; i < len(s); i++ {
		found := false
		for _, pl := range permLetters {
			if s[i] == pl.letter || s[i] == pl.letter-'a'+'A' {
				p |= pl.bit
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown permission %q in %q (want letters of crwda)", s[i], s)
		}
	}
	return p, nil
}

// parseACL parses zkCli's ACL syntax: comma-separated scheme:id:perms,
// where the id may itself contain colons (digest:user:hash:perms), so the
// scheme ends at the first colon and the perms start after the last.
func parseACL(s string) ([]zk.ACL, error) {
	var acl []zk.ACL
	for _, part := range strings.Split(s, ",") {
		first := strings.IndexByte(part, ':')
		last := strings.LastIndexByte(part, ':')
		if first < 0 || first == last {
			return nil, fmt.Errorf("%s does not have the form scheme:id:perm", part)
		}
		perms, err := parsePerms(part[last+1:])
		if err != nil {
			return nil, err
		}
		acl = append(acl, zk.ACL{Scheme: part[:first], ID: part[first+1 : last], Perms: perms})
	}
	return acl, nil
}

func writeACL(w io.Writer, acl []zk.ACL) {
	for _, a := range acl {
		fmt.Fprintf(w, "'%s,'%s\n: %s\n", a.Scheme, a.ID, permString(a.Perms))
	}
}

// goZKErrors maps go-zookeeper's sentinel errors back to ZooKeeper codes.
var goZKErrors = []struct {
	err  error
	code zkerr.Code
}{
	{zk.ErrNoNode, zkerr.NoNode},
	{zk.ErrNodeExists, zkerr.NodeExists},
	{zk.ErrNotEmpty, zkerr.NotEmpty},
	{zk.ErrNoAuth, zkerr.NoAuth},
	{zk.ErrBadVersion, zkerr.BadVersion},
	{zk.ErrNoChildrenForEphemerals, zkerr.NoChildrenForEphemerals},
	{zk.ErrInvalidACL, zkerr.InvalidACL},
	{zk.ErrBadArguments, zkerr.BadArguments},
	{zk.ErrAuthFailed, zkerr.AuthFailed},
	{zk.ErrSessionExpired, zkerr.SessionExpired},
	{zk.ErrAPIError, zkerr.APIError},
	{zk.ErrSessionMoved, zkerr.SessionMoved},
	{zk.ErrReconfigDisabled, zkerr.ReconfigDisabled},
	{zk.ErrConnectionClosed, zkerr.ConnectionLoss},
}

// codeOf recovers the ZooKeeper error code behind err, if there is one.
func codeOf(err error) (zkerr.Code, bool) {
	var c zkerr.Code
	if errors.As(err, &c) {
		return c, true
	}
	for _, m := range goZKErrors {
		if errors.Is(err, m.err) {
			return m.code, true
		}
	}
	// go-zookeeper reports codes it has no sentinel for (Unimplemented,
	// QuotaExceeded, ...) as "unknown error: <code>".
	if rest, ok := strings.CutPrefix(err.Error(), "unknown error: "); ok {
		if n, perr := strconv.Atoi(rest); perr == nil {
			return zkerr.Code(n), true
		}
	}
	return 0, false
}

// javaCodeNames are KeeperException.Code names, used in the generic
// "KeeperErrorCode = X for /path" message.
var javaCodeNames = map[zkerr.Code]string{
	zkerr.SystemError: "SystemError", zkerr.RuntimeInconsistency: "RuntimeInconsistency",
	zkerr.DataInconsistency: "DataInconsistency", zkerr.ConnectionLoss: "ConnectionLoss",
	zkerr.MarshallingError: "MarshallingError", zkerr.Unimplemented: "Unimplemented",
	zkerr.OperationTimeout: "OperationTimeout", zkerr.BadArguments: "BadArguments",
	zkerr.UnknownSession: "UnknownSession", zkerr.APIError: "APIError",
	zkerr.SessionExpired: "Session expired", zkerr.AuthFailed: "AuthFailed",
	zkerr.SessionMoved: "Session moved", zkerr.NoWatcher: "No such watcher",
	zkerr.ReconfigDisabled: "Reconfig is disabled", zkerr.QuotaExceeded: "Quota has exceeded",
	zkerr.ThrottledOp: "Op throttled due to high load", zkerr.RequestTimeout: "Request timeout",
	zkerr.EphemeralOnLocalSession: "Ephemeral node on local session",
}

// message renders err as zkCli does for a command on path.
func message(err error, path string) string {
	code, ok := codeOf(err)
	if !ok {
		return err.Error()
	}
	switch code {
	case zkerr.NoNode:
		return "Node does not exist: " + path
	case zkerr.NoChildrenForEphemerals:
		return "Ephemerals cannot have children: " + path
	case zkerr.NodeExists:
		return "Node already exists: " + path
	case zkerr.NotEmpty:
		return "Node not empty: " + path
	case zkerr.NotReadOnly:
		return "Not a read-only call: " + path
	case zkerr.InvalidACL:
		return "Acl is not valid : " + path
	case zkerr.NoAuth:
		return "Insufficient permission : " + path
	case zkerr.BadArguments:
		return "Arguments are not valid : " + path
	case zkerr.BadVersion:
		return "version No is not valid : " + path
	}
	name, ok := javaCodeNames[code]
	if !ok {
		name = code.String()
	}
	return "KeeperErrorCode = " + name + " for " + path
}

// eventName is the Java Watcher.Event.EventType name.
func eventName(t int32) string {
	switch t {
	case -1:
		return "None"
	case 1:
		return "NodeCreated"
	case 2:
		return "NodeDeleted"
	case 3:
		return "NodeDataChanged"
	case 4:
		return "NodeChildrenChanged"
	case 5:
		return "DataWatchRemoved"
	case 6:
		return "ChildWatchRemoved"
	case 7:
		return "PersistentWatchRemoved"
	}
	return "Unknown(" + strconv.Itoa(int(t)) + ")"
}

// stateName is the Java Watcher.Event.KeeperState name.
func stateName(s int32) string {
	switch s {
	case 0:
		return "Disconnected"
	case 3:
		return "SyncConnected"
	case 4:
		return "AuthFailed"
	case 5:
		return "ConnectedReadOnly"
	case 6:
		return "SaslAuthenticated"
	case -112:
		return "Expired"
	case 7:
		return "Closed"
	}
	return "Unknown(" + strconv.Itoa(int(s)) + ")"
}

// writeEvent prints a watch notification in zkCli's form.
func writeEvent(w io.Writer, typ, state int32, path string) {
	fmt.Fprintf(w, "\nWATCHER::\n\nWatchedEvent state:%s type:%s path:%s\n", stateName(state), eventName(typ), path)
}

// tokenize splits a command line on blanks, honouring '…' and "…" quoting
// so data with spaces can be given.
func tokenize(line string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	inTok := false
	var quote byte
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			quote = ch
			inTok = true
		case ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n':
			if inTok {
				toks = append(toks, cur.String())
				cur.Reset()
				inTok = false
			}
		default:
			cur.WriteByte(ch)
			inTok = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inTok {
		toks = append(toks, cur.String())
	}
	return toks, nil
}
