package node_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/node"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/stores/mem"
)

// startNode runs an in-process standalone node on a free loopback port.
func startNode(t testing.TB, disk *mem.Disk, tweak func(*config.Config)) (string, func()) {
	t.Helper()
	cfg := config.Default()
	cfg.ClientPort = 0
	cfg.ClientPortAddress = "127.0.0.1"
	cfg.TickTime = 200
	cfg.MaxClientCnxns = 0
	cfg.ExtendedTypesEnabled = true
	cfg.ContainerCheckIntervalMs = 100
	if tweak != nil {
		tweak(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := node.Open(&cfg, mem.Open(disk), log)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	return n.Server().Addr().String(), stop
}

func connect(t *testing.T, addr string) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(discard{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			t.Fatal("no session")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return c, ev
}

type discard struct{}

func (discard) Printf(string, ...any) {}

func TestCRUDAndRestart(t *testing.T) {
	disk := mem.NewDisk()
	addr, stop := startNode(t, disk, nil)
	c, _ := connect(t, addr)
	if _, err := c.Create("/a", []byte("1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/a", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("dup create: %v", err)
	}
	for i := 0; i < 3; i++ {
		p, err := c.Create("/a/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil || p != fmt.Sprintf("/a/s-%010d", i) {
			t.Fatalf("sequential %d: %q %v", i, p, err)
		}
	}
	if err := c.Delete("/a/s-0000000001", -1); err != nil {
		t.Fatal(err)
	}
	p, err := c.Create("/a/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil || p != "/a/s-0000000003" {
		t.Fatalf("suffix after delete must use the stored cversion: %q %v", p, err)
	}
	st, err := c.Set("/a", []byte("22"), 0)
	if err != nil || st.Version != 1 || st.DataLength != 2 {
		t.Fatalf("set: %+v %v", st, err)
	}
	if _, err := c.Set("/a", nil, 7); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("bad version: %v", err)
	}
	data, st, err := c.Get("/a")
	if err != nil || string(data) != "22" || st.NumChildren != 3 {
		t.Fatalf("get: %q %+v %v", data, st, err)
	}
	// cversion counts creates and deletes as clients see it: 4 creates, 1 delete.
	if st.Cversion != 5 {
		t.Fatalf("cversion = %d, want 5", st.Cversion)
	}
	kids, _, err := c.Children("/a")
	sort.Strings(kids)
	if err != nil || len(kids) != 3 || kids[0] != "s-0000000000" {
		t.Fatalf("children: %v %v", kids, err)
	}
	if err := c.Delete("/a", -1); !errors.Is(err, zk.ErrNotEmpty) {
		t.Fatalf("delete non-empty: %v", err)
	}
	if _, err := c.Create("bad", nil, 0, zk.WorldACL(zk.PermAll)); err == nil {
		t.Fatal("relative path accepted")
	}
	c.Close()
	stop()

	// Restart on the same disk: everything acknowledged is there.
	addr, stop = startNode(t, disk, nil)
	defer stop()
	c, _ = connect(t, addr)
	defer c.Close()
	data, st, err = c.Get("/a")
	if err != nil || string(data) != "22" || st.NumChildren != 3 || st.Cversion != 5 {
		t.Fatalf("after restart: %q %+v %v", data, st, err)
	}
}

func TestEphemeralsWatchesAndMulti(t *testing.T) {
	addr, stop := startNode(t, mem.NewDisk(), nil)
	defer stop()
	a, _ := connect(t, addr)
	defer a.Close()
	b, _ := connect(t, addr)

	_, _, wch, err := a.ExistsW("/e")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create("/e", []byte("x"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if ev := <-wch; ev.Type != zk.EventNodeCreated || ev.Path != "/e" {
		t.Fatalf("event %+v", ev)
	}
	_, _, wch, err = a.GetW("/e")
	if err != nil {
		t.Fatal(err)
	}
	b.Close() // closeSession deletes the ephemeral
	if ev := <-wch; ev.Type != zk.EventNodeDeleted {
		t.Fatalf("event %+v", ev)
	}

	res, err := a.Multi(
		&zk.CreateRequest{Path: "/m", Data: []byte("1"), Acl: zk.WorldACL(zk.PermAll)},
		&zk.SetDataRequest{Path: "/m", Data: []byte("2"), Version: 0},
		&zk.CheckVersionRequest{Path: "/m", Version: 1},
	)
	if err != nil || len(res) != 3 {
		t.Fatalf("multi: %v %v", res, err)
	}
	_, err = a.Multi(
		&zk.CreateRequest{Path: "/m2", Acl: zk.WorldACL(zk.PermAll)},
		&zk.DeleteRequest{Path: "/nope", Version: -1},
	)
	if !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("failing multi: %v", err)
	}
	if ok, _, _ := a.Exists("/m2"); ok {
		t.Fatal("failed multi was not atomic")
	}
}

func TestSessionExpiryRemovesEphemerals(t *testing.T) {
	addr, stop := startNode(t, mem.NewDisk(), nil)
	defer stop()
	a, _ := connect(t, addr)
	defer a.Close()
	b, _ := connect(t, addr)
	if _, err := b.Create("/gone", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, wch, err := a.ExistsW("/gone")
	if err != nil {
		t.Fatal(err)
	}
	// Freeze b's session: stop its pings by closing the socket underneath.
	b.Close()
	select {
	case ev := <-wch:
		if ev.Type != zk.EventNodeDeleted {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ephemeral not removed")
	}
}

func TestContainerReaped(t *testing.T) {
	addr, stop := startNode(t, mem.NewDisk(), nil)
	defer stop()
	c, _ := connect(t, addr)
	defer c.Close()
	if _, err := c.CreateContainer("/c", nil, zk.FlagTTL&0|4, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/c/x", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/c/x", -1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, _, err := c.Exists("/c")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("empty container not reaped")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMaxClientCnxnsPerIP: beyond maxClientCnxns connections from one IP,
// a new connection is closed before any reply, as ZooKeeper does; closing
// one frees a slot.
func TestMaxClientCnxnsPerIP(t *testing.T) {
	addr, stop := startNode(t, mem.NewDisk(), func(c *config.Config) { c.MaxClientCnxns = 2 })
	defer stop()
	a := rawSession(t, addr)
	b := rawSession(t, addr)
	defer b.Close()
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	req := jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}
	_ = writeFrame(extra, jute.Marshal(&req))
	if _, err := readFrame(extra); err == nil {
		t.Fatal("a third connection from the same IP was served")
	}
	extra.Close()
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = writeFrame(c, jute.Marshal(&req))
		_, err = readFrame(c)
		c.Close()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("slot not freed after a connection closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failingStore fails every Append once armed, like a disk that returned EIO.
type failingStore struct {
	*mem.Store
	armed atomic.Bool
}

func (f *failingStore) Append(ctx context.Context, e []ext.Entry) error {
	if f.armed.Load() {
		return errors.New("injected EIO")
	}
	return f.Store.Append(ctx, e)
}

// TestStoreFailureStopsAcknowledging: once an append fails, the write is
// never acknowledged; with storeFailure=exit the node stops and says why.
func TestStoreFailureStopsAcknowledging(t *testing.T) {
	cfg := config.Default()
	cfg.ClientPort, cfg.ClientPortAddress, cfg.TickTime = 0, "127.0.0.1", 200
	cfg.StoreFailure = config.StoreFailureExit
	st := &failingStore{Store: mem.New()}
	n, err := node.Open(&cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(context.Background()) }()
	c, _ := connect(t, n.Server().Addr().String())
	defer c.Close()
	if _, err := c.Create("/ok", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	st.armed.Store(true)
	if _, err := c.Create("/lost", nil, 0, zk.WorldACL(zk.PermAll)); err == nil {
		t.Fatal("a write was acknowledged although its append failed")
	}
	select {
	case err := <-done:
		if !errors.Is(err, node.ErrStoreFailure) {
			t.Fatalf("Run returned %v, want ErrStoreFailure", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("node kept running after a store failure")
	}
}
