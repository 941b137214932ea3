package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/core/admin"
	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/metrics"
	"github.com/zabkit/zabkit/core/node"
	"github.com/zabkit/zabkit/core/pipeline"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
	"github.com/zabkit/zabkit/internal/zkraw"
	"github.com/zabkit/zabkit/stores/file"
	"github.com/zabkit/zabkit/stores/file/faultfs"
)

// errorLog keeps the ERROR records a node logs.
type errorLog struct {
	mu   sync.Mutex
	recs []string
}

func (l *errorLog) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l *errorLog) WithGroup(string) slog.Handler                 { return l }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
}

func (l *errorLog) records() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.recs...)
}

// fileNode is a node on a store.file data directory whose file system
// injects faults.
type fileNode struct {
	n      *node.Node
	m      *metrics.Metrics
	errs   *errorLog
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func startFileNode(t *testing.T, dir string, fs file.FS, tweak func(*config.Config)) *fileNode {
	t.Helper()
	cfg := config.Default()
	cfg.ClientPort, cfg.ClientPortAddress, cfg.TickTime, cfg.MaxClientCnxns = 0, "127.0.0.1", 200, 0
	if tweak != nil {
		tweak(&cfg)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := file.Open(file.Options{DataDir: dir, ForceSync: true, PreAllocSizeKB: 16, FS: fs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	fn := &fileNode{errs: &errorLog{}, m: metrics.New(metrics.WithoutRuntimeCollectors()), done: make(chan error, 1)}
	fn.n, err = node.Open(&cfg, st, slog.New(fn.errs))
	if err != nil {
		t.Fatal(err)
	}
	fn.n.Metrics = fn.m
	if err := fn.n.Listen(); err != nil {
		t.Fatal(err)
	}
	fn.addr = fn.n.Server().Addr().String()
	var ctx context.Context
	ctx, fn.cancel = context.WithCancel(context.Background())
	go func() { fn.done <- fn.n.Run(ctx) }()
	return fn
}

// stop ends Run and returns its error.
func (fn *fileNode) stop() error {
	fn.cancel()
	return <-fn.done
}

func rawConn(t *testing.T, addr string, opts zkraw.Options) *zkraw.Conn {
	t.Helper()
	c, err := zkraw.Dial(context.Background(), addr, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkReadOnly asserts what a node in the store-failed state shows: reads
// work, every txn-needing request gets NOTREADONLY, only read-only clients
// get new sessions, and the four-letter words, monitor JSON and /metrics
// carry the failure and its cause.
func checkReadOnly(t *testing.T, fn *fileNode, raw *zkraw.Conn, cause string) {
	t.Helper()
	ctx := context.Background()
	if got, err := raw.GetData(ctx, "/ok", false); err != nil || string(got.Data) != "acked" {
		t.Fatalf("read after the failure: %q, %v", got.Data, err)
	}
	writes := []struct {
		op  int32
		rec jute.Record
	}{
		{jute.OpCreate, &jute.CreateRequest{Path: "/new", ACL: zkraw.OpenACL}},
		{jute.OpSetData, &jute.SetDataRequest{Path: "/ok", Data: []byte("x"), Version: -1}},
		{jute.OpDelete, &jute.PathVersionRequest{Path: "/ok", Version: -1}},
		{jute.OpSetACL, &jute.SetACLRequest{Path: "/ok", ACL: zkraw.OpenACL, Version: -1}},
		{jute.OpMulti, &jute.MultiRequest{Ops: []jute.MultiOp{{Type: jute.OpCreate, Record: &jute.CreateRequest{Path: "/m", ACL: zkraw.OpenACL}}}}},
		{jute.OpSync, &jute.PathRecord{Path: "/"}},
	}
	for _, w := range writes {
		f, err := raw.Call(ctx, w.op, w.rec)
		if err != nil || f.Err() != zkerr.NotReadOnly {
			t.Fatalf("op %d on a failed store: %v, %v; want NOTREADONLY", w.op, f, err)
		}
	}
	if _, err := raw.Exists(ctx, "/new", false); !errors.Is(err, zkerr.NoNode) {
		t.Fatalf("a refused create is visible: %v", err)
	}
	if _, err := raw.GetData(ctx, "/ok", false); err != nil {
		t.Fatalf("read after refused writes: %v", err)
	}

	// New sessions: only for clients that accept read-only mode.
	if c, err := zkraw.Dial(ctx, fn.addr, zkraw.Options{}); err == nil {
		c.Close()
		t.Fatal("a read-write client got a new session on a failed store")
	}
	ro := rawConn(t, fn.addr, zkraw.Options{ReadOnly: true})
	if !ro.Response().ReadOnly {
		t.Fatal("ConnectResponse does not say read-only")
	}
	if _, err := ro.GetData(ctx, "/ok", false); err != nil {
		t.Fatalf("read-only session read: %v", err)
	}
	if _, err := ro.Create(ctx, "/ro", nil, zkraw.OpenACL, 0); !errors.Is(err, zkerr.NotReadOnly) {
		t.Fatalf("read-only session write: %v, want NOTREADONLY", err)
	}

	src := node.AdminSource{N: fn.n}
	mntr := string(admin.Run("mntr", src, admin.AllowAll()))
	for _, want := range []string{"zk_server_state\tread-only\n", "zk_zabkit_store_failed\t1\n", "zk_zabkit_store_failure\t", "zk_local_sessions\t1\n", "zk_znode_count\t"} {
		if !strings.Contains(mntr, want) {
			t.Errorf("mntr lacks %q:\n%s", want, mntr)
		}
	}
	if !strings.Contains(mntr, cause) {
		t.Errorf("mntr does not name the cause %q:\n%s", cause, mntr)
	}
	if got := string(admin.Run("isro", src, admin.AllowAll())); got != "ro" {
		t.Errorf("isro = %q, want ro", got)
	}
	if got := string(admin.Run("ruok", src, admin.AllowAll())); got != "imok" {
		t.Errorf("ruok = %q, want imok (the server runs and serves reads)", got)
	}
	var mon map[string]any
	if err := json.Unmarshal(admin.RunJSON("monitor", src, nil), &mon); err != nil {
		t.Fatal(err)
	}
	if mon["zabkit_store_failed"] != 1.0 || !strings.Contains(mon["zabkit_store_failure"].(string), cause) || mon["server_state"] != "read-only" {
		t.Errorf("monitor JSON: failed=%v failure=%v state=%v", mon["zabkit_store_failed"], mon["zabkit_store_failure"], mon["server_state"])
	}
	h := httptest.NewServer(admin.Handler(src, admin.WithMetrics(fn.m.Registry())))
	defer h.Close()
	resp, err := h.Client().Get(h.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"\nzabkit_store_failed 1\n", `zabkit_server_role{role="read-only"} 1`, "zabkit_store_failure_info{reason="} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// One ERROR, naming the cause, however many requests were refused.
	if recs := fn.errs.records(); len(recs) != 1 || !strings.Contains(recs[0], cause) {
		t.Errorf("ERROR records = %q, want one naming %q", recs, cause)
	}
}

// TestStoreFaultLeavesNodeReadOnly: a write or fsync error while appending
// leaves the node up and read-only. The failed write is never
// acknowledged, and a restart on a healthy disk recovers every
// acknowledged write and accepts writes again.
func TestStoreFaultLeavesNodeReadOnly(t *testing.T) {
	cases := []struct {
		name   string
		faults faultfs.Faults
		cause  string
	}{
		{"fdatasync EIO", faultfs.Faults{DatasyncErr: syscall.EIO}, syscall.EIO.Error()},
		{"ENOSPC", faultfs.Faults{WriteErr: syscall.ENOSPC}, syscall.ENOSPC.Error()},
		{"torn write", faultfs.Faults{WriteErr: syscall.EIO, WritePartial: 40}, syscall.EIO.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := &faultfs.FS{}
			fn := startFileNode(t, dir, ffs, nil)
			ctx := context.Background()
			c, _ := connect(t, fn.addr)
			if _, err := c.Create("/ok", []byte("acked"), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			raw := rawConn(t, fn.addr, zkraw.Options{})

			ffs.Set(func(f *faultfs.Faults) { *f = tc.faults })
			if _, err := c.Create("/lost", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err == nil {
				t.Fatal("a write was acknowledged although its append failed")
			}
			if err := fn.n.StoreFailure(); err == nil || !strings.Contains(err.Error(), tc.cause) {
				t.Fatalf("StoreFailure = %v, want the cause %q", err, tc.cause)
			}
			ffs.Set(func(f *faultfs.Faults) { *f = faultfs.Faults{} }) // the disk "recovers": too late
			checkReadOnly(t, fn, raw, tc.cause)
			if _, err := raw.Exists(ctx, "/lost", false); !errors.Is(err, zkerr.NoNode) {
				t.Fatalf("the unacknowledged write is visible: %v", err)
			}
			// The go-zookeeper client re-attaches its session and reads.
			if data, _, err := c.Get("/ok"); err != nil || string(data) != "acked" {
				t.Fatalf("re-attached session read: %q, %v", data, err)
			}
			c.Close()
			if err := fn.stop(); err != nil {
				t.Fatalf("Run after a read-only period: %v", err)
			}

			// Restart on a healthy disk: the valid prefix is recovered.
			fn = startFileNode(t, dir, nil, nil)
			defer fn.stop()
			raw = rawConn(t, fn.addr, zkraw.Options{})
			if got, err := raw.GetData(ctx, "/ok", false); err != nil || string(got.Data) != "acked" {
				t.Fatalf("acknowledged write after restart: %q, %v", got.Data, err)
			}
			if _, err := raw.Create(ctx, "/after", nil, zkraw.OpenACL, 0); err != nil {
				t.Fatalf("write after restart: %v", err)
			}
			if err := fn.n.StoreFailure(); err != nil {
				t.Fatalf("restarted node reports %v", err)
			}
		})
	}
}

// TestStoreStallLeavesNodeReadOnly: an Append that does not return within
// storeStallTimeoutMs fails the store while it is still blocked. Neither
// the stuck write nor one queued behind it is acknowledged; when the stuck
// Append finally returns (successfully) its batch is still not applied.
// It is on disk, though, so a restart brings it back.
func TestStoreStallLeavesNodeReadOnly(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultfs.FS{}
	fn := startFileNode(t, dir, ffs, func(c *config.Config) { c.StoreStallTimeoutMs = 100 })
	ctx := context.Background()
	raw := rawConn(t, fn.addr, zkraw.Options{})
	if _, err := raw.Create(ctx, "/ok", []byte("acked"), zkraw.OpenACL, 0); err != nil {
		t.Fatal(err)
	}
	a := rawConn(t, fn.addr, zkraw.Options{})
	b := rawConn(t, fn.addr, zkraw.Options{})

	stuck := ffs.Stall()
	results := make(chan error, 2)
	go func() { _, err := a.Create(ctx, "/stalled", nil, zkraw.OpenACL, 0); results <- err }()
	<-stuck // a's create is in the store's fdatasync
	go func() { _, err := b.Create(ctx, "/queued", nil, zkraw.OpenACL, 0); results <- err }()
	for range 2 {
		if err := <-results; !errors.Is(err, zkraw.ErrClosed) {
			t.Fatalf("in-flight write during a stall: %v, want the connection closed (outcome unknown)", err)
		}
	}
	if err := fn.n.StoreFailure(); !errors.Is(err, pipeline.ErrStall) {
		t.Fatalf("StoreFailure = %v, want ErrStall", err)
	}
	if !fn.n.Processor().Stuck() {
		t.Fatal("the log stage is not reported stuck while its Append blocks")
	}
	checkReadOnly(t, fn, raw, "stalled")

	ffs.Release()
	for deadline := time.Now().Add(30 * time.Second); fn.n.Processor().Stuck(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the released Append has not returned")
		}
	}
	for _, p := range []string{"/stalled", "/queued"} {
		if _, err := raw.Exists(ctx, p, false); !errors.Is(err, zkerr.NoNode) {
			t.Fatalf("%s applied after a stall failed the store: %v", p, err)
		}
	}
	if err := fn.stop(); err != nil {
		t.Fatal(err)
	}

	fn = startFileNode(t, dir, nil, nil)
	defer fn.stop()
	raw = rawConn(t, fn.addr, zkraw.Options{})
	if _, err := raw.Exists(ctx, "/ok", false); err != nil {
		t.Fatalf("acknowledged write after restart: %v", err)
	}
	// The stuck Append completed on disk after the node gave up on it.
	if _, err := raw.Exists(ctx, "/stalled", false); err != nil {
		t.Fatalf("the durable (never acknowledged) write after restart: %v", err)
	}
}

// TestStoreStallExit: with storeFailure=exit a stall ends Run with
// ErrStoreFailure even though the Append never returns.
func TestStoreStallExit(t *testing.T) {
	ffs := &faultfs.FS{}
	fn := startFileNode(t, t.TempDir(), ffs, func(c *config.Config) {
		c.StoreStallTimeoutMs, c.StoreFailure = 100, config.StoreFailureExit
	})
	defer ffs.Release()
	raw := rawConn(t, fn.addr, zkraw.Options{})
	stuck := ffs.Stall()
	go raw.Create(context.Background(), "/stalled", nil, zkraw.OpenACL, 0)
	<-stuck
	if err := <-fn.done; !errors.Is(err, node.ErrStoreFailure) || !errors.Is(err, pipeline.ErrStall) {
		t.Fatalf("Run = %v, want ErrStoreFailure wrapping ErrStall", err)
	}
}

// TestSnapshotFailureLeavesNodeReadOnly: a snapshot that cannot be made
// durable fails the store too: a disk that loses snapshot fsyncs is not
// trusted with the log.
func TestSnapshotFailureLeavesNodeReadOnly(t *testing.T) {
	ffs := &faultfs.FS{}
	fn := startFileNode(t, t.TempDir(), ffs, func(c *config.Config) { c.SnapCount = 2 })
	defer fn.stop()
	ctx := context.Background()
	raw := rawConn(t, fn.addr, zkraw.Options{})
	ffs.Set(func(f *faultfs.Faults) { f.SyncErr = syscall.EIO })
	for i := 0; fn.n.StoreFailure() == nil; i++ {
		if i == 100 {
			t.Fatal("100 writes with failing snapshot fsyncs, and the store is still healthy")
		}
		_, err := raw.Create(ctx, "/s", nil, zkraw.OpenACL, jute.FlagPersistentSequential)
		if errors.Is(err, zkraw.ErrClosed) {
			// The failure dropped this write in flight: re-attach.
			raw = rawConn(t, fn.addr, zkraw.Options{SessionID: raw.SessionID(), Passwd: raw.Passwd()})
		} else if err != nil && !errors.Is(err, zkerr.NotReadOnly) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := fn.n.StoreFailure(); !strings.Contains(err.Error(), "snapshot") || !errors.Is(err, syscall.EIO) {
		t.Fatalf("StoreFailure = %v, want a snapshot EIO", err)
	}
	if _, err := raw.Create(ctx, "/after", nil, zkraw.OpenACL, 0); !errors.Is(err, zkerr.NotReadOnly) {
		t.Fatalf("write after a snapshot failure: %v, want NOTREADONLY", err)
	}
}
