package ensemble_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/node"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/session"
	"github.com/zabkit/zabkit/election/fle"
	"github.com/zabkit/zabkit/internal/zkraw"
	"github.com/zabkit/zabkit/stores/file"
	"github.com/zabkit/zabkit/stores/file/faultfs"
	"github.com/zabkit/zabkit/transports/mem"
)

// member is one in-process server of an ensemble on transport.mem.
type member struct {
	id     int64
	dir    string
	fs     *faultfs.FS
	n      *node.Node
	cancel context.CancelFunc
	done   chan error
}

type cluster struct {
	t         *testing.T
	net       *mem.Network
	size      int
	members   []*member
	tweak     func(*config.Config)
	observers int
	sendQueue int // transport.mem's per-peer queue; 0 = default
}

func newCluster(t *testing.T, size int, tweak func(*config.Config)) *cluster {
	return newClusterObservers(t, size, 0, tweak)
}

func newClusterObservers(t *testing.T, size, observers int, tweak func(*config.Config)) *cluster {
	return (&cluster{t: t, size: size, tweak: tweak, observers: observers}).launch()
}

// launch starts every member of a cluster set up by its fields.
func (c *cluster) launch() *cluster {
	c.net = mem.NewNetwork()
	c.t.Cleanup(c.net.Close)
	for i := 1; i <= c.size+c.observers; i++ {
		c.members = append(c.members, &member{id: int64(i), dir: c.t.TempDir()})
	}
	for i := range c.members {
		c.start(i)
	}
	c.t.Cleanup(func() {
		for _, m := range c.members {
			c.stop(m)
		}
	})
	return c
}

func (c *cluster) start(i int) {
	t := c.t
	m := c.members[i]
	cfg := config.Default()
	cfg.TickTime = 200
	cfg.InitLimit, cfg.SyncLimit = 10, 5
	cfg.ClientPort = 0
	cfg.ClientPortAddress = "127.0.0.1"
	cfg.DataDir = m.dir
	cfg.MyID = m.id
	cfg.Servers = map[int64]config.ServerSpec{}
	for j := 1; j <= c.size+c.observers; j++ {
		role := config.Participant
		if j > c.size {
			role = config.Observer
		}
		cfg.Servers[int64(j)] = config.ServerSpec{ID: int64(j), Host: "127.0.0.1", QuorumPort: 20000 + j, ElectionPort: 21000 + j, Role: role}
	}
	if m.id > int64(c.size) {
		cfg.PeerType = config.Observer
	}
	if c.tweak != nil {
		c.tweak(&cfg)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("member", m.id)
	if m.fs == nil {
		m.fs = &faultfs.FS{}
	}
	st, err := file.Open(file.Options{DataDir: m.dir, ForceSync: true, PreAllocSizeKB: 64, FS: m.fs})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(&cfg, st, log)
	if err != nil {
		t.Fatal(err)
	}
	n.Transport = c.net.NewTransport(mem.Options{SendQueue: c.sendQueue})
	n.Election = fle.DefaultOptions()
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.n, m.cancel, m.done = n, cancel, make(chan error, 1)
	go func() { m.done <- n.Run(ctx) }()
}

func (c *cluster) stop(m *member) {
	if m.cancel == nil {
		return
	}
	m.cancel()
	m.cancel = nil
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		c.t.Errorf("member %d did not stop", m.id)
	}
}

func (c *cluster) addr(i int) string { return c.members[i].n.Server().Addr().String() }

// leader waits for exactly one serving leader and every other live member
// serving.
func (c *cluster) leader(timeout time.Duration) int {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		lead, serving, live := -1, 0, 0
		for i, m := range c.members {
			if m.cancel == nil {
				continue
			}
			live++
			st, _ := m.n.EnsembleStatus()
			if st.Serving {
				serving++
				if st.State == ext.Leading {
					lead = i
				}
			}
		}
		if lead >= 0 && serving == live {
			return lead
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no stable leader within %v", timeout)
	return -1
}

func connect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func TestInProcessEnsembleReplicates(t *testing.T) {
	c := newCluster(t, 3, nil)
	lead := c.leader(30 * time.Second)
	t.Logf("leader is member %d", lead+1)
	follower := (lead + 1) % 3
	fc := connect(t, c.addr(follower))
	for i := 0; i < 20; i++ {
		if _, err := fc.Create(fmt.Sprintf("/f%d", i), []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create through follower: %v", err)
		}
	}
	lc := connect(t, c.addr(lead))
	if _, err := lc.Create("/l", []byte("from leader"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create on leader: %v", err)
	}
	// Every member converges on the same tree.
	deadline := time.Now().Add(10 * time.Second)
	for {
		same := true
		d0 := c.members[0].n.Tree().Digest()
		for _, m := range c.members {
			if m.n.Tree().Digest() != d0 || m.n.Tree().LastZxid() != c.members[0].n.Tree().LastZxid() {
				same = false
			}
		}
		if same {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("members did not converge")
		}
		time.Sleep(20 * time.Millisecond)
	}
	other := (lead + 2) % 3
	oc := connect(t, c.addr(other))
	if _, err := oc.Sync("/"); err != nil {
		t.Fatal(err)
	}
	kids, _, err := oc.Children("/")
	if err != nil {
		t.Fatal(err)
	}
	if len(kids) != 22 { // 20 + /l + /zookeeper
		t.Fatalf("member %d sees %d children: %v", other+1, len(kids), kids)
	}
	// The leader goes away: a new one is elected and writes go on.
	c.stop(c.members[lead])
	lead2 := c.leader(30 * time.Second)
	if lead2 == lead {
		t.Fatal("stopped leader still leads")
	}
	c2 := connect(t, c.addr(lead2))
	if _, err := c2.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write after failover: %v", err)
	}
	if ok, _, err := c2.Exists("/f19"); err != nil || !ok {
		t.Fatalf("acknowledged write lost after failover: %v %v", ok, err)
	}
	// The old leader comes back and catches up.
	c.start(lead)
	c.leader(30 * time.Second)
	back := connect(t, c.addr(lead))
	if _, err := back.Sync("/"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := back.Exists("/after"); err != nil || !ok {
		t.Fatalf("restarted member did not catch up: %v %v", ok, err)
	}
}

// converged waits until every running member has the same zxid and digest.
func (c *cluster) converged(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ref *member
		same := true
		for _, m := range c.members {
			if m.cancel == nil {
				continue
			}
			if ref == nil {
				ref = m
				continue
			}
			if m.n.Tree().Digest() != ref.n.Tree().Digest() || m.n.Tree().LastZxid() != ref.n.Tree().LastZxid() {
				same = false
			}
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal("members did not converge")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A follower that missed more than commitLogCount txns is synced with a
// SNAP of the leader's tree, and keeps up afterwards.
func TestInProcessSnapSync(t *testing.T) {
	c := newCluster(t, 3, func(cfg *config.Config) { cfg.CommitLogCount = 5 })
	lead := c.leader(30 * time.Second)
	lagger := (lead + 1) % 3
	c.stop(c.members[lagger])
	lc := connect(t, c.addr(lead))
	for i := 0; i < 40; i++ {
		if _, err := lc.Create(fmt.Sprintf("/n%d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lc.Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.start(lagger)
	c.leader(30 * time.Second)
	c.converged(10 * time.Second)
	for i := 40; i < 45; i++ {
		if _, err := lc.Create(fmt.Sprintf("/n%d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.converged(10 * time.Second)
	// The snapshot it took at NEWLEADER lets it restart on its own state.
	c.stop(c.members[lagger])
	c.start(lagger)
	c.leader(30 * time.Second)
	c.converged(10 * time.Second)
	fc := connect(t, c.addr(lagger))
	if ok, _, err := fc.Exists("/eph"); err != nil || !ok {
		t.Fatalf("the SNAP-synced member lost an ephemeral: %v %v", ok, err)
	}
}

// An observer syncs and follows the commits, serves clients (forwarding
// their writes), and never counts toward a quorum: with the two other
// voters of a 3+1 ensemble down, nothing commits.
func TestInProcessObserver(t *testing.T) {
	c := newClusterObservers(t, 3, 1, nil)
	lead := c.leader(30 * time.Second)
	obs := connect(t, c.addr(3))
	if _, err := obs.Create("/via-observer", []byte("o"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write through the observer: %v", err)
	}
	c.converged(10 * time.Second)
	st, _ := c.members[3].n.EnsembleStatus()
	if st.State != ext.Observing {
		t.Fatalf("member 4 is %v, want observing", st.State)
	}
	// Stop both followers: the leader and the observer are no quorum.
	for i := 0; i < 3; i++ {
		if i != lead {
			c.stop(c.members[i])
		}
	}
	lc := connect(t, c.addr(lead))
	done := make(chan error, 1)
	go func() {
		_, err := lc.Create("/no-quorum", nil, 0, zk.WorldACL(zk.PermAll))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a write committed with only the leader and an observer")
		}
	case <-time.After(3 * time.Second):
	}
	for _, m := range c.members {
		if _, ok := m.n.Tree().Node("/no-quorum"); ok && m.cancel != nil {
			t.Fatalf("member %d applied a write without a quorum", m.id)
		}
	}
}

// Sessions belong to the ensemble: a client re-attaches to another server
// with its session id and password and keeps its ephemerals; when it goes
// silent the leader expires the session and its ephemerals vanish on
// every server.
func TestInProcessSessionsMoveAndExpire(t *testing.T) {
	c := newCluster(t, 3, nil)
	lead := c.leader(30 * time.Second)
	a, b := (lead+1)%3, (lead+2)%3
	conn, _, err := zk.Connect([]string{c.addr(a)}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Create("/eph", []byte("x"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	sid := conn.SessionID()
	// Move the session: a re-attach on b with the same id and password is
	// accepted there and sees the ephemeral, which stays.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pw := session.Password(sid)
	raw, err := zkraw.Dial(ctx, c.addr(b), zkraw.Options{Timeout: 4 * time.Second, SessionID: sid, Passwd: pw})
	if err != nil {
		t.Fatalf("re-attach on member %d: %v", b+1, err)
	}
	if got := raw.SessionID(); got != sid {
		t.Fatalf("re-attach gave session 0x%x, want 0x%x", got, sid)
	}
	if f, err := raw.Call(ctx, jute.OpExists, &jute.PathWatchRequest{Path: "/eph"}); err != nil || f.Err() != 0 {
		t.Fatalf("exists /eph through the moved session: %v %+v", err, f)
	}
	conn.Close() // closes the session: the ephemeral goes
	raw.Close()
	if !c.goneEverywhere("/eph", 10*time.Second) {
		t.Fatalf("ephemeral of closed session 0x%x still present", sid)
	}

	// Expiry: a session whose client vanishes is expired by the leader.
	c2, _, err := zk.Connect([]string{c.addr(a)}, 2*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Create("/eph2", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	sid2 := c2.SessionID()
	// Stop the member c2 was connected to: the session lives on only if
	// the client reconnects elsewhere; this one cannot (single address).
	c.stop(c.members[a])
	if !c.goneEverywhere("/eph2", 15*time.Second) {
		t.Fatalf("ephemeral of expired session 0x%x still present", sid2)
	}
	c2.Close()
}

// goneEverywhere waits until no running member has path.
func (c *cluster) goneEverywhere(path string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		gone := true
		for _, m := range c.members {
			if _, ok := m.n.Tree().Node(path); ok && m.cancel != nil {
				gone = false
			}
		}
		if gone {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// /zookeeper/config holds the membership on every member, as ZooKeeper
// serves it to getConfig (`zkCli.sh config`, Curator's EnsembleTracker).
func TestInProcessConfigNode(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.leader(30 * time.Second)
	conn := connect(t, c.addr(1))
	data, _, err := conn.Get("/zookeeper/config")
	if err != nil {
		t.Fatal(err)
	}
	want := "server.1=127.0.0.1:20001:21001:participant\nserver.2=127.0.0.1:20002:21002:participant\nserver.3=127.0.0.1:20003:21003:participant\nversion=0"
	if string(data) != want {
		t.Fatalf("/zookeeper/config = %q, want %q", data, want)
	}
}

// A leader whose disk stalls steps down within about syncLimit ticks
// instead of holding the ensemble hostage; the others elect a leader and
// go on; when the disk recovers the old leader rejoins and catches up.
func TestInProcessLeaderDiskStall(t *testing.T) {
	c := newCluster(t, 3, nil)
	lead := c.leader(30 * time.Second)
	other := (lead + 1) % 3
	oc := connect(t, c.addr(other))
	if _, err := oc.Create("/before", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	stuck := c.members[lead].fs.Stall()
	lc := connect(t, c.addr(lead))
	go func() { _, _ = lc.Create("/during", nil, 0, zk.WorldACL(zk.PermAll)) }()
	<-stuck
	start := time.Now()
	// The two healthy members elect a leader among themselves.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st0, _ := c.members[other].n.EnsembleStatus()
		st1, _ := c.members[(lead+2)%3].n.EnsembleStatus()
		if st0.Serving && st1.Serving && st0.LeaderID != int64(lead+1) && st0.LeaderID == st1.LeaderID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new leader while member %d's disk is stalled: %+v %+v", lead+1, st0, st1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("new leader after %v", time.Since(start).Round(time.Millisecond))
	if _, err := oc.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write during the old leader's stall: %v", err)
	}
	c.members[lead].fs.Release()
	c.leader(30 * time.Second)
	c.converged(15 * time.Second)
	if _, ok := c.members[lead].n.Tree().Node("/after"); !ok {
		t.Fatal("the old leader did not catch up after its disk recovered")
	}
}

// A SNAP bigger than the transport's send queue is paced through it (the
// leader waits for the queue to drain) instead of failing the sync.
func TestInProcessSnapLargerThanSendQueue(t *testing.T) {
	c := (&cluster{t: t, size: 3, sendQueue: 3,
		tweak: func(cfg *config.Config) { cfg.CommitLogCount = 5 }}).launch()
	lead := c.leader(30 * time.Second)
	lagger := (lead + 1) % 3
	c.stop(c.members[lagger])
	lc := connect(t, c.addr(lead))
	value := make([]byte, 4000)
	for i := 0; i < 200; i++ { // ~800 KB: about 13 bulk chunks of 64 KiB
		if _, err := lc.Create(fmt.Sprintf("/big%d", i), value, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.start(lagger)
	c.leader(30 * time.Second)
	c.converged(20 * time.Second)
}
