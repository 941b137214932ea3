package ensemble_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/tests/internal/launch"
)

func TestMain(m *testing.M) {
	code := m.Run()
	launch.Cleanup()
	os.Exit(code)
}

// writer creates sequential znodes through whichever member answers and
// records every create the ensemble acknowledged.
type writer struct {
	mu    sync.Mutex
	acked []string
	stop  chan struct{}
	done  chan struct{}
}

func startWriter(t *testing.T, addrs []string) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	conn, _, err := zk.Connect(addrs, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.done)
		defer conn.Close()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			path := fmt.Sprintf("/w/n%06d", i)
			if _, err := conn.Create(path, []byte(path), 0, zk.WorldACL(zk.PermAll)); err == nil || errors.Is(err, zk.ErrNodeExists) {
				w.mu.Lock()
				w.acked = append(w.acked, path)
				w.mu.Unlock()
			} else {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	return w
}

func (w *writer) finish() []string {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// progress waits until the writer has n more acknowledged writes.
func (w *writer) progress(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	start := w.count()
	deadline := time.Now().Add(timeout)
	for w.count() < start+n {
		if time.Now().After(deadline) {
			t.Fatalf("writes stalled: %d acknowledged in %v", w.count()-start, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

// checkAll verifies that every member holds every acknowledged write and
// that all members hold the same children of /w.
func checkAll(t *testing.T, e *launch.Ensemble, acked []string) {
	t.Helper()
	var ref []string
	for i, addr := range e.Addrs() {
		conn, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Sync("/w"); err != nil {
			t.Fatalf("member %d sync: %v", i+1, err)
		}
		kids, _, err := conn.Children("/w")
		conn.Close()
		if err != nil {
			t.Fatalf("member %d: %v", i+1, err)
		}
		slices.Sort(kids)
		have := map[string]bool{}
		for _, k := range kids {
			have["/w/"+k] = true
		}
		for _, p := range acked {
			if !have[p] {
				t.Fatalf("member %d lost acknowledged write %s", i+1, p)
			}
		}
		if ref == nil {
			ref = kids
		} else if !slices.Equal(ref, kids) {
			t.Fatalf("member %d has %d children of /w, member 1 has %d", i+1, len(kids), len(ref))
		}
	}
}

func mkdirW(t *testing.T, e *launch.Ensemble) {
	conn, _, err := zk.Connect(e.Addrs(), 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/w", nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		t.Fatal(err)
	}
}

// crashScenario runs kill -9 of the leader, of a follower and of a
// majority against a live write load, restarting each, and checks that
// every acknowledged write survives on every member.
func crashScenario(t *testing.T, size int, env map[string]string) {
	e := launch.StartEnsemble(t, launch.Zabkit, size, 0, launch.Options{TickTime: 300, Env: env})
	mkdirW(t, e)
	w := startWriter(t, e.Addrs())
	w.progress(t, 50, 20*time.Second)

	lead := e.Leader(10 * time.Second)
	if lead < 0 {
		t.Fatal("no leader")
	}
	t.Logf("kill -9 leader (member %d)", lead+1)
	e.Members[lead].Kill()
	w.progress(t, 50, 30*time.Second)
	if err := e.Restart(lead); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}

	lead = e.Leader(10 * time.Second)
	f := (lead + 1) % size
	t.Logf("kill -9 follower (member %d)", f+1)
	e.Members[f].Kill()
	w.progress(t, 50, 30*time.Second)
	if err := e.Restart(f); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}

	majority := size/2 + 1
	t.Logf("kill -9 a majority (%d of %d)", majority, size)
	for i := 0; i < majority; i++ {
		e.Members[i].Kill()
	}
	for i := 0; i < majority; i++ {
		if err := e.Restart(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.WaitReady(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	w.progress(t, 50, 30*time.Second)
	acked := w.finish()
	checkAll(t, e, acked)
	t.Logf("%d acknowledged writes present on all %d members", len(acked), size)
}

func TestEnsembleCrashesTCP(t *testing.T) { crashScenario(t, 3, nil) }

func TestEnsembleCrashesYamux(t *testing.T) {
	crashScenario(t, 3, map[string]string{"ZABKIT_TRANSPORT_MODULE": "transport.yamux"})
}

func TestEnsembleFiveNodes(t *testing.T) { crashScenario(t, 5, nil) }

// A follower cut off by a silent partition misses writes and catches up
// when healed; a leader cut off steps down (writes through it fail), the
// majority elects a new leader and goes on, and the old leader rejoins.
func TestEnsemblePartitions(t *testing.T) {
	e := launch.StartEnsemble(t, launch.Zabkit, 3, 0, launch.Options{TickTime: 300, PeerProxies: true})
	mkdirW(t, e)
	w := startWriter(t, e.Addrs())
	w.progress(t, 50, 20*time.Second)

	lead := e.Leader(10 * time.Second)
	f := (lead + 1) % 3
	t.Logf("partition follower (member %d)", f+1)
	e.Isolate(f)
	w.progress(t, 100, 30*time.Second)
	e.Heal()
	if err := e.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}

	lead = e.Leader(10 * time.Second)
	t.Logf("partition leader (member %d)", lead+1)
	isolated, _, err := zk.Connect([]string{e.Members[lead].Addr}, 20*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	defer isolated.Close()
	e.Isolate(lead)
	w.progress(t, 100, 40*time.Second)
	if m := e.Mode(lead); m == "leader" {
		t.Fatalf("the isolated member %d still says it leads", lead+1)
	}
	res := make(chan error, 1)
	go func() {
		_, err := isolated.Create("/w/isolated", nil, 0, zk.WorldACL(zk.PermAll))
		res <- err
	}()
	select {
	case err := <-res:
		if err == nil {
			t.Fatal("a write through the isolated old leader succeeded")
		}
	case <-time.After(5 * time.Second):
		// Still waiting for a server that serves: not acknowledged.
	}
	e.Heal()
	if err := e.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	w.progress(t, 50, 30*time.Second)
	acked := w.finish()
	checkAll(t, e, acked)
	t.Logf("%d acknowledged writes present on all members", len(acked))
}

// Four-letter words report each member's role as ZooKeeper does: one
// leader and the others followers or observers in srvr; mntr on the leader
// counts its synced followers; conf lists the membership.
func TestEnsembleFourLetterWords(t *testing.T) {
	e := launch.StartEnsemble(t, launch.Zabkit, 3, 1, launch.Options{TickTime: 300})
	lead := e.Leader(10 * time.Second)
	if lead < 0 {
		t.Fatal("no leader")
	}
	modes := map[string]int{}
	for i := range e.Members {
		modes[e.Mode(i)]++
	}
	if modes["leader"] != 1 || modes["follower"] != 2 || modes["observer"] != 1 {
		t.Fatalf("modes %v, want 1 leader, 2 followers, 1 observer", modes)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mntr, err := launch.FourLetter(e.Members[lead].Addr, "mntr", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(mntr, "zk_server_state\tleader") && strings.Contains(mntr, "zk_synced_followers\t2") &&
			strings.Contains(mntr, "zk_synced_observers\t1") && strings.Contains(mntr, "zk_quorum_size\t3") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader mntr:\n%s", mntr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	f := (lead + 1) % 3
	mntr, err := launch.FourLetter(e.Members[f].Addr, "mntr", time.Second)
	if err != nil || !strings.Contains(mntr, "zk_server_state\tfollower") {
		t.Fatalf("follower mntr (%v):\n%s", err, mntr)
	}
	conf, err := launch.FourLetter(e.Members[f].Addr, "conf", time.Second)
	if err != nil || !strings.Contains(conf, fmt.Sprintf("serverId=%d", f+1)) || !strings.Contains(conf, "server.4=") ||
		!strings.Contains(conf, ":observer;") {
		t.Fatalf("follower conf (%v):\n%s", err, conf)
	}
}

func TestEnsembleFiveNodesYamux(t *testing.T) {
	crashScenario(t, 5, map[string]string{"ZABKIT_TRANSPORT_MODULE": "transport.yamux"})
}
