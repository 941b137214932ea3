// Package node runs one zabkit server: it recovers the database from the
// store, then drives the request pipeline, the client listener, session
// expiry, container/TTL reaping, snapshots and purging. Standalone today;
// the ensemble roles plug into the same pipeline.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/zabkit/zabkit/core/admin"
	"github.com/zabkit/zabkit/core/auth"
	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/metrics"
	"github.com/zabkit/zabkit/core/pipeline"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/server"
	"github.com/zabkit/zabkit/core/session"
)

// ErrNoSnapshot means the store has txn logs but no snapshot to start
// them from; ZooKeeper refuses to start in that case and so do we.
var ErrNoSnapshot = errors.New("node: txn logs exist but no snapshot")

// ErrStoreFailure is returned by Run when the store failed: whether the
// failing batch is durable is unknown, so the node stopped acknowledging.
var ErrStoreFailure = errors.New("node: store failure")

// Node is one running server.
type Node struct {
	cfg      *config.Config
	store    ext.Store
	log      *slog.Logger
	tree     *datatree.Tree
	sessions *session.Tracker
	prep     *pipeline.Prepper
	proc     *pipeline.Processor
	srv      *server.Server
	auth     *auth.Config
	started  time.Time
	mono     time.Time

	// Hooks for the operations surface (four-letter words, metrics).
	FourLetterWord   func(word string, conn net.Conn)
	IsFourLetterWord func(first int32) (string, bool)
	PipelineHooks    pipeline.Hooks
	// Listener, when set, is the already bound client listener.
	Listener net.Listener
	// Metrics, when set, records requests, fsyncs and snapshots.
	Metrics *metrics.Metrics

	// Transport and Election, when the configuration names an ensemble
	// (server.N lines), are the modules the quorum side runs on; cmd/
	// loads them by name before Listen.
	Transport ext.Transport
	Election  ext.ElectionFactory
	ens       *ensemble

	fatalCh   chan error
	fatalOnce sync.Once
}

// Open recovers the database from store and prepares the node. Nothing
// listens until Run.
func Open(cfg *config.Config, store ext.Store, log *slog.Logger) (*Node, error) {
	if log == nil {
		log = slog.Default()
	}
	n := &Node{cfg: cfg, store: store, log: log, started: time.Now(), mono: time.Now(), fatalCh: make(chan error, 1)}
	n.auth = &auth.Config{SuperDigest: cfg.SuperDigest, SkipACL: cfg.SkipACL}
	tree, sessions, hadSnap, err := Recover(store, log)
	if err != nil {
		return nil, err
	}
	n.tree = tree
	// Session ids carry the minting server's id in the top byte, so the
	// members of an ensemble never mint the same one.
	sid := int64(1)
	if cfg.Distributed() {
		sid = cfg.MyID
	}
	first := session.InitialID(sid, time.Now().UnixMilli())
	for id := range sessions {
		if id>>56 == sid && id >= first {
			first = id + 1
		}
	}
	n.sessions = session.NewTracker(int64(cfg.TickTime), first)
	now := n.clock()
	for id, to := range sessions {
		n.sessions.Add(id, to, now)
	}
	if !hadSnap {
		// An empty data directory: write snapshot.0 as ZooKeeper does, so
		// the logs that follow always have a snapshot to start from.
		if err := pipeline.WriteSnapshot(store, tree, n.sessions, tree.LastZxid()); err != nil {
			return nil, fmt.Errorf("initial snapshot: %w", err)
		}
	}
	return n, nil
}

// clock is the monotonic millisecond clock used for session expiry, so a
// wall-clock jump cannot expire every session at once.
func (n *Node) clock() int64 { return time.Since(n.mono).Milliseconds() }

// Tree exposes the data tree (for tests and tools).
func (n *Node) Tree() *datatree.Tree { return n.tree }

// Sessions exposes the session tracker.
func (n *Node) Sessions() *session.Tracker { return n.sessions }

// Server exposes the client listener once Run has started it.
func (n *Node) Server() *server.Server { return n.srv }

// Processor exposes the pipeline once Run has started it.
func (n *Node) Processor() *pipeline.Processor { return n.proc }

// Started is when the node was opened.
func (n *Node) Started() time.Time { return n.started }

// Config is the node's configuration.
func (n *Node) Config() *config.Config { return n.cfg }

// Store is the node's store.
func (n *Node) Store() ext.Store { return n.store }

// Listen builds the pipeline and binds the client port, so callers learn
// the address (port 0 picks a free one) before Run serves.
func (n *Node) Listen() error {
	cfg := n.cfg
	n.prep = pipeline.NewPrepper(pipeline.PrepConfig{
		Auth:                 n.auth,
		ExtendedTypesEnabled: cfg.ExtendedTypesEnabled,
		Now:                  func() int64 { return time.Now().UnixMilli() },
	}, n.tree, n.sessions, max(n.tree.LastZxid(), n.store.LastZxid()))
	hooks := n.PipelineHooks
	if m := n.Metrics; m != nil {
		userSynced, userSnap := hooks.Synced, hooks.Snapshotted
		hooks.Synced = func(batch int, d time.Duration) {
			m.ObserveFsync(d)
			m.ObserveCommitBatch(batch)
			if userSynced != nil {
				userSynced(batch, d)
			}
		}
		hooks.Snapshotted = func(zxid int64, d time.Duration, err error) {
			if err == nil {
				m.ObserveSnapshot(d)
			}
			if userSnap != nil {
				userSnap(zxid, d, err)
			}
		}
		m.SetStateFunc(n.metricsState)
		if r, ok := n.store.(ext.MetricsReporter); ok {
			if err := m.RegisterStore(r); err != nil {
				n.log.Warn("store metrics not exported", "err", err)
			}
		}
	}
	userFatal := hooks.Fatal
	hooks.Fatal = func(err error) {
		if userFatal != nil {
			userFatal(err)
		}
		n.fail(err)
	}
	pcfg := pipeline.Config{
		Store: n.store, Tree: n.tree, Sessions: n.sessions, Prep: n.prep,
		SnapCount: cfg.SnapCount, SnapSizeLimit: cfg.SnapSizeLimitInKb * 1024, Logger: n.log, Hooks: hooks,
		StallTimeout: time.Duration(cfg.StoreStallTimeoutMs) * time.Millisecond,
		Clock:        n.clock,
	}
	if cfg.Distributed() {
		if n.Transport == nil || n.Election == nil {
			return errors.New("node: an ensemble needs a transport and an election module")
		}
		ens, err := newEnsemble(n, n.Transport, n.Election)
		if err != nil {
			return err
		}
		n.ens = ens
		pcfg.Replicator = ens
		// A closeSession applied here may come from any server (expiry
		// is the leader's): drop that session's connection if it is ours.
		userApplied := pcfg.Hooks.Applied
		pcfg.Hooks.Applied = func(req *pipeline.Request, res *datatree.Result) {
			if req.Hdr.Type == jute.OpCloseSession && n.srv != nil {
				n.srv.DropSession(req.Hdr.ClientID)
			}
			if userApplied != nil {
				userApplied(req, res)
			}
		}
	}
	n.proc = pipeline.New(pcfg)
	n.srv = server.New(server.Config{
		Addr:              cfg.ClientAddr(),
		MaxClientCnxns:    cfg.MaxClientCnxns,
		MaxBuffer:         cfg.JuteMaxBuffer,
		OutstandingLimit:  cfg.GlobalOutstandingLimit,
		MinSessionTimeout: int32(cfg.MinSessionTimeoutMs()),
		MaxSessionTimeout: int32(cfg.MaxSessionTimeoutMs()),
		FourLetterWord:    n.FourLetterWord,
		IsFourLetterWord:  n.IsFourLetterWord,
		Metrics:           n.Metrics,
		Logger:            n.log,
	}, n.proc, n.tree, n.sessions, n.auth, n.clock)
	if n.Listener != nil {
		n.srv.UseListener(n.Listener)
	}
	return n.srv.Listen()
}

// Run serves until ctx is cancelled (a clean shutdown, which writes a
// snapshot so the next start is fast) or, with storeFailure=exit, the store
// fails (ErrStoreFailure). With storeFailure=readonly a store failure
// leaves the node serving reads; see fail.
func (n *Node) Run(ctx context.Context) error {
	if n.srv == nil {
		if err := n.Listen(); err != nil {
			return err
		}
	}
	n.proc.Start()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if n.ens != nil {
		n.srv.SetServing(false) // until this server has a role
		if err := n.Transport.Start(ctx, n.transportConfig(), n.ens); err != nil {
			n.proc.Stop()
			return fmt.Errorf("start the quorum transport: %w", err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); n.ens.run(ctx) }()
	}
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveErr <- n.srv.Serve(ctx)
	}()
	wg.Add(1)
	go func() { defer wg.Done(); n.expireLoop(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); n.reapLoop(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); n.purgeLoop(ctx) }()
	n.log.Info("serving", "addr", n.srv.Addr().String(), "zxid", fmt.Sprintf("0x%x", n.tree.LastZxid()),
		"znodes", n.tree.Stats().NodeCount, "sessions", n.sessions.Len())

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = err
	case err := <-n.fatalCh:
		runErr = fmt.Errorf("%w: %w", ErrStoreFailure, err)
	}
	cancel()
	n.srv.Close()
	if n.ens != nil {
		_ = n.Transport.Close()
	}
	n.proc.Stop()
	wg.Wait()
	if runErr == nil && !n.proc.Failed() {
		if _, err := n.proc.Snapshot(); err != nil {
			n.log.Warn("shutdown snapshot failed", "err", err)
		}
	}
	if n.proc.Stuck() {
		// Close would wait for the Append that never returned.
		n.log.Warn("not closing the store: an append is still blocked in it")
		return runErr
	}
	if err := n.store.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// every calls fn each interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// expireLoop closes sessions whose expiry bucket has passed, every half tick.
func (n *Node) expireLoop(ctx context.Context) {
	every(ctx, time.Duration(n.cfg.TickTime)*time.Millisecond/2, func() {
		if n.proc.Failed() {
			return // expiring needs a closeSession txn: sessions wait for a restart
		}
		if !n.ownsExpiry() {
			return
		}
		for _, id := range n.sessions.Expire(n.clock()) {
			n.srv.ExpireSession(id)
		}
	})
}

// ownsExpiry: only a standalone server or an ensemble's leader expires
// sessions and reaps nodes; the others learn it from the leader's txns.
func (n *Node) ownsExpiry() bool {
	r := n.proc.Role()
	return r == pipeline.RoleStandalone || r == pipeline.RoleLeader
}

// reapLoop deletes empty containers and expired TTL nodes, as ZooKeeper's
// ContainerManager does, at most ContainerMaxPerMinute per minute.
func (n *Node) reapLoop(ctx context.Context) {
	interval := time.Duration(n.cfg.ContainerCheckIntervalMs) * time.Millisecond
	if interval <= 0 {
		return
	}
	limit := max(1, n.cfg.ContainerMaxPerMinute*int(max(interval, time.Second)/time.Second)/60)
	every(ctx, interval, func() {
		if n.proc.Failed() || !n.ownsExpiry() {
			return
		}
		for _, path := range n.tree.ReapCandidates(time.Now().UnixMilli(), int64(n.cfg.ContainerMaxNeverUsedIntervalMs), limit) {
			_ = n.proc.Submit(&pipeline.Request{Op: jute.OpDeleteContainer, Record: &jute.PathRecord{Path: path}})
		}
	})
}

// purgeLoop keeps autopurge.snapRetainCount snapshots and the logs they
// need, every autopurge.purgeInterval hours.
func (n *Node) purgeLoop(ctx context.Context) {
	if n.cfg.AutopurgePurgeIntervalHours <= 0 {
		return
	}
	every(ctx, time.Duration(n.cfg.AutopurgePurgeIntervalHours)*time.Hour, func() {
		if n.proc.Failed() {
			return // leave an uncertain disk as it is
		}
		if err := Purge(n.store, n.cfg.AutopurgeSnapRetainCount); err != nil {
			n.log.Warn("autopurge failed", "err", err)
		}
	})
}

// Purge keeps the newest retain snapshots and the logs they need.
func Purge(store ext.Store, retain int) error {
	snaps, err := store.Snapshots()
	if err != nil {
		return err
	}
	if retain < 1 || len(snaps) <= retain {
		return nil
	}
	return store.PurgeBefore(snaps[retain-1].Zxid)
}

// Recover loads the newest valid snapshot and replays the log after it.
// It reports whether a snapshot existed.
func Recover(store ext.Store, log *slog.Logger) (*datatree.Tree, map[int64]int32, bool, error) {
	return RecoverWithHooks(store, log, RecoverHooks{})
}

// RecoverHooks let an offline tool (zabkit verify, convert) watch the very
// recovery a starting node runs, instead of a copy of it that could drift.
// An error from a hook stops recovery and is returned.
type RecoverHooks struct {
	// Loaded is called with the snapshot recovery starts from, once it
	// is loaded and before any txn is replayed (not at all when the
	// store has no snapshot).
	Loaded func(snap ext.SnapshotInfo, tree *datatree.Tree) error
	// Applied is called after each replayed txn has been applied.
	Applied func(txn *jute.Txn, tree *datatree.Tree) error
}

// RecoverWithHooks is Recover with hooks.
func RecoverWithHooks(store ext.Store, log *slog.Logger, hooks RecoverHooks) (*datatree.Tree, map[int64]int32, bool, error) {
	snaps, err := store.Snapshots()
	if err != nil {
		return nil, nil, false, fmt.Errorf("list snapshots: %w", err)
	}
	var tree *datatree.Tree
	var sessions map[int64]int32
	var snapZxid int64
	for i, s := range snaps {
		if i >= 100 {
			break
		}
		t, sess, err := loadSnapshot(store, s.Zxid)
		if err != nil {
			log.Warn("skipping unreadable snapshot", "snapshot", s.Name, "err", err)
			continue
		}
		// The tree's own idea of its last zxid may be later than the
		// name (a fuzzy snapshot); replay restarts after the name.
		t.SetLastZxid(s.Zxid)
		tree, sessions, snapZxid = t, sess, s.Zxid
		if hooks.Loaded != nil {
			if err := hooks.Loaded(s, t); err != nil {
				return nil, nil, false, err
			}
		}
		break
	}
	hadSnap := tree != nil
	if tree == nil {
		if len(snaps) > 0 {
			return nil, nil, false, fmt.Errorf("no valid snapshot among %d: %w", len(snaps), ext.ErrCorrupt)
		}
		if store.LastZxid() > 0 {
			return nil, nil, false, ErrNoSnapshot
		}
		tree = datatree.New()
		sessions = map[int64]int32{}
	}
	if sessions == nil {
		sessions = map[int64]int32{}
	}
	start := time.Now()
	replayed := 0
	err = store.ReadLog(context.Background(), snapZxid, func(e ext.Entry) error {
		txn, err := jute.DecodeTxn(e.Data)
		if err != nil {
			return fmt.Errorf("txn %#x: %w", e.Zxid, err)
		}
		tree.Apply(&txn.Header, txn.Record)
		switch txn.Header.Type {
		case jute.OpCreateSession:
			if r, ok := txn.Record.(*jute.IntRecord); ok {
				sessions[txn.Header.ClientID] = r.Value
			}
		case jute.OpCloseSession:
			delete(sessions, txn.Header.ClientID)
		}
		replayed++
		if hooks.Applied != nil {
			return hooks.Applied(txn, tree)
		}
		return nil
	})
	if err != nil {
		return nil, nil, false, fmt.Errorf("replay log: %w", err)
	}
	log.Info("database recovered", "snapshot_zxid", fmt.Sprintf("0x%x", snapZxid), "replayed", replayed,
		"last_zxid", fmt.Sprintf("0x%x", tree.LastZxid()), "took", time.Since(start))
	return tree, sessions, hadSnap, nil
}

func loadSnapshot(store ext.Store, zxid int64) (*datatree.Tree, map[int64]int32, error) {
	rc, err := store.OpenSnapshot(zxid)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	t, sess, err := datatree.ReadSnapshot(rc)
	if err != nil {
		return nil, nil, err
	}
	// A fuzzy snapshot's tree may know a later zxid than its name; replay
	// starts after the name and is idempotent.
	_, _ = io.Copy(io.Discard, rc)
	return t, sess, nil
}

// metricsState samples gauges at scrape time.
func (n *Node) metricsState() metrics.State {
	ts := n.tree.Stats()
	st := metrics.State{
		Role: "standalone", GlobalSessions: int64(n.sessions.Len()),
		Znodes: int64(ts.NodeCount), Watches: int64(ts.WatchCount), Ephemerals: int64(ts.EphemeralCount),
		ApproxDataSize: ts.ApproxDataSize, LastZxid: n.tree.LastZxid(),
	}
	if n.srv != nil {
		st.Connections = int64(len(n.srv.Connections()))
		st.LocalSessions = n.srv.LocalSessions()
	}
	if n.proc != nil {
		st.Outstanding = n.proc.Outstanding()
	}
	if err := n.StoreFailure(); err != nil {
		st.Role, st.StoreFailure = string(admin.ModeReadOnly), err.Error()
	}
	return st
}
