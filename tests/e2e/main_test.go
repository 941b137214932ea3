// Package e2e runs real ZooKeeper clients (Go, Python kazoo, Java zkCli,
// C cli_mt) and a raw jute client against real server processes: zabkit,
// Apache ZooKeeper 3.8, or both (ZABKIT_E2E_TARGET). Running the same test
// against ZooKeeper is how we know each expectation is ZooKeeper's
// behaviour and not our guess.
package e2e

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/zkraw"
	"github.com/zabkit/zabkit/tests/internal/launch"
)

// Superuser configured on the shared servers.
const (
	superUser = "super"
	superPass = "superpw"
)

func TestMain(m *testing.M) {
	code := m.Run()
	shared.stopAll()
	launch.Cleanup()
	os.Exit(code)
}

// shared keeps one long-lived target per kind (a server, or with
// ZABKIT_E2E_ENSEMBLE an ensemble) for the tests that can share one; each
// such test works under its own root path.
var shared = sharedServers{m: map[launch.Kind]*sharedEntry{}}

type sharedServers struct {
	mu sync.Mutex
	m  map[launch.Kind]*sharedEntry
}

type sharedEntry struct {
	once sync.Once
	tg   *launch.Target
	dir  string
	err  error
}

func (s *sharedServers) get(t *testing.T, kind launch.Kind) *launch.Server {
	t.Helper()
	s.mu.Lock()
	e, ok := s.m[kind]
	if !ok {
		e = &sharedEntry{}
		s.m[kind] = e
	}
	s.mu.Unlock()
	e.once.Do(func() {
		e.dir, e.err = os.MkdirTemp("", "zabkit-e2e-shared-")
		if e.err != nil {
			return
		}
		e.tg, e.err = launch.LaunchTarget(kind, sharedOptions(), e.dir)
	})
	if e.err != nil {
		t.Fatalf("shared %s server: %v", kind, e.err)
	}
	for _, srv := range e.tg.Servers() {
		select {
		case <-srv.Exited():
			t.Fatalf("shared %s has exited; log tail:\n%s", srv.Label(), srv.LogTail(40))
		default:
		}
	}
	srv := e.tg.Server()
	t.Cleanup(func() {
		if t.Failed() && srv.Ensemble() != nil {
			for _, m := range e.tg.Servers() {
				t.Logf("%s (the test's first client was on %s) log tail:\n%s", m.Label(), srv.Label(), m.LogTail(30))
			}
		}
	})
	return srv
}

func (s *sharedServers) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.m {
		if e.tg != nil {
			e.tg.Stop()
		}
		if e.dir != "" {
			os.RemoveAll(e.dir)
		}
	}
}

func sharedOptions() launch.Options {
	return launch.Options{SuperDigest: zkraw.DigestID(superUser, superPass)}
}

// forEachTarget runs fn once per selected target against that target's
// shared server, with a fresh root path for the test. On an ensemble srv
// is the next member in turn; the test's other clients go to
// srv.AddrFor(i).
func forEachTarget(t *testing.T, fn func(t *testing.T, srv *launch.Server, root string)) {
	t.Helper()
	for _, kind := range launch.Targets(t) {
		t.Run(string(kind), func(t *testing.T) {
			srv := shared.get(t, kind)
			fn(t, srv, makeRoot(t, srv))
		})
	}
}

// forEachFreshTarget runs fn against a server of its own per target, for
// tests that kill, restart or reconfigure it.
func forEachFreshTarget(t *testing.T, opts launch.Options, fn func(t *testing.T, srv *launch.Server)) {
	t.Helper()
	for _, kind := range launch.Targets(t) {
		t.Run(string(kind), func(t *testing.T) {
			fn(t, launch.StartTarget(t, kind, opts).Server())
		})
	}
}

var nonPath = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// makeRoot creates /e2e-<TestName>-<nanos> on srv and returns it.
func makeRoot(t *testing.T, srv *launch.Server) string {
	t.Helper()
	name := nonPath.ReplaceAllString(t.Name(), "_")
	root := fmt.Sprintf("/e2e-%s-%d", name, time.Now().UnixNano())
	ctx := testCtx(t)
	c := rawDial(t, srv.Addr, zkraw.Options{})
	defer c.CloseSession(ctx)
	if _, err := c.Create(ctx, root, nil, zkraw.OpenACL, jute.FlagPersistent); err != nil {
		t.Fatalf("create root %s: %v", root, err)
	}
	return root
}

// goCatchUp syncs c's server with the leader before c reads what another
// client, connected to another ensemble member, has written: ZooKeeper
// lets a member answer a read before it has applied a write acknowledged
// elsewhere, and promises a session only its own writes and what it has
// synced. It does nothing on a standalone server, where there is no other
// member to lag behind.
func goCatchUp(t *testing.T, srv *launch.Server, c *zk.Conn, path string) {
	t.Helper()
	if srv.Ensemble() == nil {
		return
	}
	if _, err := c.Sync(path); err != nil {
		t.Fatalf("sync %s: %v", path, err)
	}
}

// rawCatchUp is goCatchUp for a raw client. Syncing is also how a test
// waits for notifications from another member's writes: the member sends
// them before the sync reply.
func rawCatchUp(t *testing.T, srv *launch.Server, c *zkraw.Conn, path string) {
	t.Helper()
	if srv.Ensemble() == nil {
		return
	}
	if _, err := c.Sync(testCtx(t), path); err != nil {
		t.Fatalf("sync %s: %v", path, err)
	}
}

// testCtx bounds every wait in a test so a hung server fails the test
// rather than hanging it.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func rawDial(t *testing.T, addr string, opts zkraw.Options) *zkraw.Conn {
	t.Helper()
	c, err := zkraw.Dial(testCtx(t), addr, opts)
	if err != nil {
		t.Fatalf("zkraw dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// goConnect opens a go-zookeeper session and waits for it to be usable.
func goConnect(t *testing.T, addr string, timeout time.Duration) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, timeout, zk.WithLogger(discardLogger{}))
	if err != nil {
		t.Fatalf("zk.Connect: %v", err)
	}
	// go-zookeeper calls wait for their reply without a deadline; a server
	// that never answers would hang the test binary. Closing the client
	// makes every pending call return an error instead.
	watchdog := time.AfterFunc(time.Minute, func() {
		t.Errorf("go-zookeeper client to %s still open after a minute: closing it (a call never got its reply?)", addr)
		c.Close()
	})
	t.Cleanup(func() { watchdog.Stop(); c.Close() })
	waitState(t, ev, zk.StateHasSession)
	return c, ev
}

// waitState reads session events until want arrives.
func waitState(t *testing.T, ev <-chan zk.Event, want zk.State) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.Type == zk.EventSession && e.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %v session event within 60 s", want)
		}
	}
}

// waitEvent waits for one watch event.
func waitEvent(t *testing.T, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no watch event within 30 s")
		return zk.Event{}
	}
}

// discardLogger silences go-zookeeper's reconnect chatter: its goroutines
// may log after a test has ended, when t.Log would panic.
type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
