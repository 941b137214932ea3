package launch

import (
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zabkit/zabkit/tests/internal/proxy"
)

// Ensemble is a set of server processes of one kind forming a quorum on
// loopback: Members[i] has myid i+1.
type Ensemble struct {
	Kind    Kind
	Members []*Server
	opts    []Options
	// proxies[i][j] carry member i's quorum and election connections to
	// member j when the ensemble was started with PeerProxies.
	proxies [][][2]*proxy.Proxy
}

// StartEnsemble starts size voting members (plus observers, which get the
// highest ids) and waits until every one serves. opts applies to each. The
// ensemble is stopped when the test ends.
func StartEnsemble(t testing.TB, kind Kind, size, observers int, opts Options) *Ensemble {
	t.Helper()
	e, err := LaunchEnsemble(kind, size, observers, opts, t.TempDir())
	if e != nil {
		t.Cleanup(func() {
			e.Close()
			if t.Failed() {
				for i, m := range e.Members {
					t.Logf("member %d (%s) log tail:\n%s", i+1, kind, m.LogTail(40))
				}
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// LaunchEnsemble is StartEnsemble without a testing.TB: members keep their
// configs, logs and data under dir. On error the returned ensemble (if
// any) holds what was started; the caller must Close it either way.
func LaunchEnsemble(kind Kind, size, observers int, opts Options, dir string) (*Ensemble, error) {
	// Ports picked free can be taken by another process before a member
	// binds them: start again on other ports a few times.
	for attempt := 0; ; attempt++ {
		tryDir := dir
		if attempt > 0 {
			tryDir = filepath.Join(dir, fmt.Sprintf("retry-%d", attempt))
		}
		e, err := launchEnsembleOnce(kind, size, observers, opts, tryDir)
		if err == nil || e == nil || attempt == 2 || !e.portTaken() {
			return e, err
		}
		e.Close()
	}
}

// portTaken reports whether a member failed because a port it was given
// was in use (zabkit and the JVM both say "Address already in use").
func (e *Ensemble) portTaken() bool {
	for _, m := range e.Members {
		if strings.Contains(strings.ToLower(m.LogTail(200)), "address already in use") {
			return true
		}
	}
	return false
}

func launchEnsembleOnce(kind Kind, size, observers int, opts Options, dir string) (*Ensemble, error) {
	total := size + observers
	type ports struct{ client, quorum, election int }
	ps := make([]ports, total)
	free, err := freePorts(3 * total)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		ps[i] = ports{free[3*i], free[3*i+1], free[3*i+2]}
	}
	e := &Ensemble{Kind: kind}
	// addr[i][j] is how member i reaches member j's quorum and election
	// ports: directly, or through a proxy the test can cut.
	addr := make([][]ports, total)
	for i := range addr {
		addr[i] = make([]ports, total)
		for j := range addr[i] {
			addr[i][j] = ps[j]
		}
	}
	if opts.PeerProxies {
		e.proxies = make([][][2]*proxy.Proxy, total)
		for i := 0; i < total; i++ {
			e.proxies[i] = make([][2]*proxy.Proxy, total)
			for j := 0; j < total; j++ {
				if i == j {
					continue
				}
				q, err := proxy.Start(fmt.Sprintf("127.0.0.1:%d", ps[j].quorum))
				if err != nil {
					return e, err
				}
				e.proxies[i][j][0] = q
				el, err := proxy.Start(fmt.Sprintf("127.0.0.1:%d", ps[j].election))
				if err != nil {
					return e, err
				}
				e.proxies[i][j][1] = el
				addr[i][j].quorum, addr[i][j].election = portOf(q.Addr), portOf(el.Addr)
			}
		}
	}
	if opts.TickTime == 0 {
		opts.TickTime = 500
	}
	for i := 0; i < total; i++ {
		o := opts
		o.Extra = maps.Clone(opts.Extra)
		if o.Extra == nil {
			o.Extra = map[string]string{}
		}
		for j := 0; j < total; j++ {
			role := ""
			if j >= size {
				role = ":observer"
			}
			o.Extra[fmt.Sprintf("server.%d", j+1)] = fmt.Sprintf("127.0.0.1:%d:%d%s;127.0.0.1:%d", addr[i][j].quorum, addr[i][j].election, role, ps[j].client)
		}
		if i >= size {
			o.Extra["peerType"] = "observer"
		}
		setDefault(o.Extra, "initLimit", "10")
		setDefault(o.Extra, "syncLimit", "5")
		o.Port = ps[i].client
		o.Quorum, o.NoWait = true, true
		o.DataDir = filepath.Join(dir, fmt.Sprintf("member-%d", i+1), "data")
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return e, err
		}
		if err := os.WriteFile(filepath.Join(o.DataDir, "myid"), []byte(strconv.Itoa(i+1)+"\n"), 0o644); err != nil {
			return e, err
		}
		e.opts = append(e.opts, o)
		s, err := Launch(kind, o, filepath.Join(dir, fmt.Sprintf("member-%d", i+1)))
		if err != nil {
			return e, fmt.Errorf("start member %d: %w", i+1, err)
		}
		s.ensemble, s.member = e, i
		e.Members = append(e.Members, s)
	}
	if err := e.WaitReady(90 * time.Second); err != nil {
		return e, err
	}
	return e, nil
}

// freePorts asks the kernel for n distinct free loopback ports: all the
// listeners stay open until every port is known, so none comes twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func setDefault(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// WaitReady waits until every running member serves sessions.
func (e *Ensemble) WaitReady(timeout time.Duration) error {
	var wg sync.WaitGroup
	errs := make([]error, len(e.Members))
	for i, m := range e.Members {
		select {
		case <-m.Exited():
			continue
		default:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.WaitReady(timeout)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("member %d not ready: %w\nlog tail:\n%s", i+1, err, e.Members[i].LogTail(40))
		}
	}
	return nil
}

// Addrs are the members' client addresses.
func (e *Ensemble) Addrs() []string {
	out := make([]string, len(e.Members))
	for i, m := range e.Members {
		out[i] = m.Addr
	}
	return out
}

// Mode asks a member for its mode (srvr's "Mode:" line): leader,
// follower, observer, standalone, or "" if it does not serve.
func (e *Ensemble) Mode(i int) string {
	out, err := FourLetter(e.Members[i].Addr, "srvr", time.Second)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// Leader is the index of the member that reports itself leader, waiting
// up to timeout for one; -1 if none.
func (e *Ensemble) Leader(timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for i, m := range e.Members {
			select {
			case <-m.Exited():
				continue
			default:
			}
			if e.Mode(i) == "leader" {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return -1
}

// Restart starts member i again on its data directory (it must have been
// stopped or killed) without waiting for it to serve.
func (e *Ensemble) Restart(i int) error {
	s, err := Launch(e.Kind, e.opts[i], filepath.Dir(e.opts[i].DataDir))
	if err != nil {
		return err
	}
	s.ensemble, s.member = e, i
	e.Members[i] = s
	return nil
}

// Close stops every member and closes the peer proxies.
func (e *Ensemble) Close() {
	e.Stop()
	for _, row := range e.proxies {
		for _, pair := range row {
			for _, p := range pair {
				if p != nil {
					p.Close()
				}
			}
		}
	}
}

// Stop stops every member.
func (e *Ensemble) Stop() {
	var wg sync.WaitGroup
	for _, m := range e.Members {
		wg.Add(1)
		go func() { defer wg.Done(); m.Stop() }()
	}
	wg.Wait()
}

func portOf(addr string) int {
	_, p, _ := strings.Cut(addr, "127.0.0.1:")
	n, _ := strconv.Atoi(p)
	return n
}

// Isolate cuts member i off from every other member (a silent partition:
// connections stay open, nothing flows). It needs PeerProxies.
func (e *Ensemble) Isolate(i int) {
	for j := range e.proxies {
		if j == i {
			continue
		}
		for _, p := range append(e.proxies[i][j][:], e.proxies[j][i][:]...) {
			p.SetCut(true)
		}
	}
}

// Heal ends every partition.
func (e *Ensemble) Heal() {
	for i := range e.proxies {
		for j := range e.proxies[i] {
			for _, p := range e.proxies[i][j] {
				if p != nil {
					p.SetCut(false)
				}
			}
		}
	}
}
