package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/internal/chunkio"
	"github.com/zabkit/zabkit/core/pipeline"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/server"
	"github.com/zabkit/zabkit/core/zab"
)

// ensemble is a node's quorum side (ZooKeeper's QuorumPeer): it owns the
// transport, the election and the ZAB role, and drives the pure kernels
// from one goroutine. Everything that reaches it (peer messages, link
// events, the log stage's progress, forwarded client writes, a loaded SNAP)
// is an event in one queue, so the kernels see a single ordered history.
type ensemble struct {
	n        *Node
	log      *slog.Logger
	tr       ext.Transport
	factory  ext.ElectionFactory
	zcfg     zab.Config
	self     int64
	observer bool
	start    time.Time

	mu    sync.Mutex
	queue []any
	wake  chan struct{}

	meta      ext.Meta
	elect     ext.Election
	electWake time.Duration
	leader    *zab.Leader
	learner   *zab.Learner
	roleWake  time.Duration
	roleGen   uint64
	early     []ext.Message
	snap      *snapLoad
	// pendLog and pendCommit collect a round of events' work for the log
	// and apply stages (see flush).
	pendLog    []ext.Entry
	pendCommit int64
	linkUp     bool // the learner's connection to its leader is up
	stopped    bool

	// Read by other goroutines.
	servingLearner atomic.Bool
	servingLeader  atomic.Bool
	status         atomic.Pointer[EnsembleStatus]
	lists          atomic.Pointer[learnerLists]
}

// EnsembleStatus is what four-letter words and the admin endpoint report.
type EnsembleStatus struct {
	State    ext.PeerState // looking, leading, following, observing
	Serving  bool
	Epoch    int64
	LeaderID int64
	// Followers and Synced are the leader's learners (sids).
	Followers, Synced, Observers []int64
}

type (
	evPropose    struct{ entries []ext.Entry }
	evLogged     struct{ zxid int64 }
	evForward    struct{ req *pipeline.Request }
	evLocalSync  struct{} // a sync from a client of this leader
	evStoreFault struct{ err error }
	evSnapLoaded struct {
		gen      uint64
		tree     *datatree.Tree
		sessions map[int64]int32
		err      error
	}
)

// snapLoad is a SNAP stream being parsed from the bulk channel.
type snapLoad struct {
	gen    uint64
	zxid   int64 // -1 until ExpectSnapshot names it
	reader *chunkio.Reader
	result *evSnapLoaded
}

func newEnsemble(n *Node, tr ext.Transport, factory ext.ElectionFactory) (*ensemble, error) {
	cfg := n.cfg
	e := &ensemble{n: n, log: n.log.With("sid", cfg.MyID), tr: tr, factory: factory, self: cfg.MyID,
		start: time.Now(), wake: make(chan struct{}, 1)}
	e.zcfg = zab.Config{
		Self:      cfg.MyID,
		TickTime:  time.Duration(cfg.TickTime) * time.Millisecond,
		InitLimit: cfg.InitLimit,
		SyncLimit: cfg.SyncLimit,
		// ZooKeeper's default when unset.
		CommitLogCount: cfg.CommitLogCount,
	}
	ids := make([]int64, 0, len(cfg.Servers))
	for id := range cfg.Servers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if cfg.Servers[id].Role == config.Observer {
			e.zcfg.Observers = append(e.zcfg.Observers, id)
		} else {
			e.zcfg.Voters = append(e.zcfg.Voters, id)
		}
	}
	spec, ok := cfg.Servers[cfg.MyID]
	if !ok {
		return nil, fmt.Errorf("myid %d has no server.%d line", cfg.MyID, cfg.MyID)
	}
	e.observer = spec.Role == config.Observer
	meta, err := n.store.LoadMeta()
	if err != nil {
		return nil, fmt.Errorf("load epochs: %w", err)
	}
	// Missing epochs start from the last zxid's epoch, as ZooKeeper
	// initialises missing acceptedEpoch/currentEpoch files.
	last := zab.EpochOf(n.tree.LastZxid())
	if meta.CurrentEpoch < 0 {
		meta.CurrentEpoch = last
	}
	if meta.AcceptedEpoch < meta.CurrentEpoch {
		meta.AcceptedEpoch = meta.CurrentEpoch
	}
	if meta.CurrentEpoch < last {
		return nil, fmt.Errorf("the log holds epoch %d but currentEpoch is %d: the data directory is inconsistent", last, meta.CurrentEpoch)
	}
	e.meta = meta
	e.setStatus(EnsembleStatus{State: ext.Looking})
	n.setLocalConfig()
	return e, nil
}

func (e *ensemble) now() time.Duration { return time.Since(e.start) }

func (e *ensemble) setStatus(s EnsembleStatus) { e.status.Store(&s) }

// Status is the ensemble state for operators.
func (e *ensemble) Status() EnsembleStatus {
	s := *e.status.Load()
	if l := e.leaderSnapshot(); l != nil {
		s.Followers, s.Synced, s.Observers = l.followers, l.synced, l.observers
	}
	return s
}

type learnerLists struct{ followers, synced, observers []int64 }

// leaderSnapshot is refreshed by the event loop (the kernel is not safe
// to read from other goroutines).
func (e *ensemble) leaderSnapshot() *learnerLists { return e.lists.Load() }

func (e *ensemble) post(ev any) {
	e.mu.Lock()
	e.queue = append(e.queue, ev)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Deliver and PeerChanged make the ensemble the transport's inbox.
func (e *ensemble) Deliver(m ext.Message)        { e.post(m) }
func (e *ensemble) PeerChanged(ev ext.PeerEvent) { e.post(ev) }

// Proposing, Logged and Forward make it the pipeline's Replicator.
func (e *ensemble) Proposing(batch []*pipeline.Request) {
	entries := make([]ext.Entry, len(batch))
	for i, r := range batch {
		entries[i] = ext.Entry{Zxid: r.Hdr.Zxid, Data: r.Data}
	}
	e.post(evPropose{entries})
}

func (e *ensemble) Logged(zxid int64) { e.post(evLogged{zxid}) }

func (e *ensemble) Forward(req *pipeline.Request) error {
	if req.Op == jute.OpSync && e.servingLeader.Load() {
		e.post(evLocalSync{})
		return nil
	}
	if !e.servingLearner.Load() {
		return pipeline.ErrNotServing
	}
	e.post(evForward{req})
	return nil
}

// run is the event loop; it returns when ctx ends.
func (e *ensemble) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	e.startLooking()
	for {
		e.arm(timer)
		select {
		case <-ctx.Done():
			e.stopped = true
			return
		case <-e.wake:
		case <-timer.C:
			e.tick()
		}
		e.mu.Lock()
		evs := e.queue
		e.queue = nil
		e.mu.Unlock()
		for i := 0; i < len(evs); i++ {
			if e.stopped {
				return
			}
			if p, ok := evs[i].(evPropose); ok {
				// Consecutive proposals go to the kernel as one batch.
				for i+1 < len(evs) {
					next, ok := evs[i+1].(evPropose)
					if !ok {
						break
					}
					p.entries = append(p.entries, next.entries...)
					i++
				}
				e.handle(p)
				continue
			}
			e.handle(evs[i])
		}
		e.flush()
	}
}

// flush hands the log and apply stages what this round of events asked
// for, once: a learner's txns to log, then everything committed. Batching
// them per round of the event loop (instead of per packet) saves a wake-up
// of each stage per txn. The order matters: a txn must be queued for the
// log before Commit can release it.
func (e *ensemble) flush() {
	logs, commit := e.pendLog, e.pendCommit
	e.pendLog, e.pendCommit = nil, 0
	if len(logs) > 0 {
		if err := e.n.proc.Log(logs); err != nil {
			e.log.Warn("bad txn from the leader", "err", err)
			e.stepDown(err)
			return
		}
	}
	if commit > 0 {
		e.n.proc.Commit(commit)
	}
}

func (e *ensemble) arm(t *time.Timer) {
	next := time.Duration(0)
	for _, w := range []time.Duration{e.electWake, e.roleWake} {
		if w > 0 && (next == 0 || w < next) {
			next = w
		}
	}
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	if next == 0 {
		t.Reset(time.Hour)
		return
	}
	t.Reset(max(next-e.now(), 0))
}

func (e *ensemble) tick() {
	now := e.now()
	if e.electWake > 0 && now >= e.electWake {
		e.electWake = 0
		e.doElection(e.elect.Tick(now))
	}
	if e.roleWake > 0 && now >= e.roleWake {
		e.roleWake = 0
		switch {
		case e.leader != nil:
			// A leader whose own log is stuck steps down rather than
			// hold the ensemble hostage (faults.md item 8): another
			// member leads while this disk recovers.
			if stall := e.n.proc.AppendAge(); stall > time.Duration(e.zcfg.SyncLimit)*e.zcfg.TickTime {
				e.doRole(e.leader.Abdicate(now, fmt.Errorf("%w: an append has not returned for %v", errDiskStalled, stall.Round(time.Millisecond))))
				return
			}
			e.doRole(e.leader.Tick(now))
		case e.learner != nil:
			e.doRole(e.learner.Tick(now))
		}
	}
}

func (e *ensemble) handle(ev any) {
	now := e.now()
	switch ev := ev.(type) {
	case ext.Message:
		switch ev.Channel {
		case ext.ChanElection:
			if e.elect != nil {
				e.doElection(e.elect.Step(now, ev.From, ev.Data))
			}
		case ext.ChanBroadcast:
			switch {
			case e.leader != nil:
				e.doRole(e.leader.Step(now, ev.From, ev.Data))
			case e.learner != nil:
				e.doRole(e.learner.Step(now, ev.From, ev.Data))
			default:
				// A learner that decided first may knock before this
				// server knows it leads.
				if len(e.early) < 256 {
					e.early = append(e.early, ev)
				}
			}
		case ext.ChanBulk:
			e.onBulk(ev)
		}
	case ext.PeerEvent:
		if ev.Channel != ext.ChanBroadcast {
			return
		}
		if ev.Up {
			if e.learner != nil && ev.Peer == e.learner.Leader() {
				e.linkUp = true
			}
			return
		}
		switch {
		case e.leader != nil:
			e.doRole(e.leader.PeerDown(now, ev.Peer))
		case e.learner != nil && e.linkUp:
			// Before this role's own connection is up, a down event is
			// the previous connection's (transports report the old
			// link's down before the new one's up).
			e.doRole(e.learner.PeerDown(now, ev.Peer))
		}
	case evPropose:
		if e.leader == nil {
			return // the role ended; EndRole drops these requests
		}
		out, err := e.leader.Propose(now, ev.entries)
		if err != nil && !errors.Is(err, zab.ErrZxidRollover) {
			e.log.Warn("proposal refused", "err", err)
		}
		e.doRole(out)
	case evLogged:
		switch {
		case e.leader != nil:
			e.doRole(e.leader.Logged(now, ev.zxid))
		case e.learner != nil:
			e.doRole(e.learner.Logged(now, ev.zxid))
		}
	case evForward:
		if e.learner != nil {
			e.doRole(e.learner.ForwardRequest(now, encodeRequest(ev.req), ev.req.Auth))
		}
	case evLocalSync:
		if e.leader != nil {
			e.doRole(e.leader.Sync(now, 0, 0, e.n.prep.LastZxid()))
		}
	case evSnapLoaded:
		if e.snap == nil || e.snap.gen != ev.gen {
			return
		}
		e.snap.result = &ev
		e.finishSnap()
	case evStoreFault:
		e.log.Error("leaving the ensemble: the store failed", "err", ev.err)
		e.endRole()
		e.stopped = true
	}
}

// encodeRequest is a REQUEST packet's body: session, cxid, type and the
// request as the client sent it.
func encodeRequest(r *pipeline.Request) []byte {
	w := jute.NewWriter(make([]byte, 0, 64))
	w.WriteLong(r.SessionID)
	w.WriteInt(r.Cxid)
	w.WriteInt(r.Op)
	if r.Record != nil {
		r.Record.Encode(w)
	}
	return w.Bytes()
}

// ---------------------------------------------------------------- election

func (e *ensemble) startLooking() {
	if e.elect == nil {
		cfg := ext.ElectionConfig{Self: e.self, Seed: time.Now().UnixNano()}
		for id, s := range e.n.cfg.Servers {
			weight := int64(1)
			if s.Role == config.Observer {
				weight = 0
			}
			cfg.Members = append(cfg.Members, ext.Member{ID: id, Observer: s.Role == config.Observer, Weight: weight, Spec: s.String()})
		}
		sort.Slice(cfg.Members, func(i, j int) bool { return cfg.Members[i].ID < cfg.Members[j].ID })
		el, err := e.factory.NewElection(cfg)
		if err != nil {
			e.log.Error("cannot start the election", "err", err)
			e.stopped = true
			return
		}
		e.elect = el
	}
	e.setStatus(EnsembleStatus{State: ext.Looking})
	e.log.Info("looking for a leader", "last_zxid", fmt.Sprintf("0x%x", e.n.tree.LastZxid()), "epoch", e.meta.CurrentEpoch)
	e.doElection(e.elect.Start(e.now(), ext.RoundStart{LastZxid: e.n.tree.LastZxid(), CurrentEpoch: e.meta.CurrentEpoch, LastVote: e.meta.LastVote}))
}

func (e *ensemble) doElection(out ext.ElectionOutput) {
	if out.PersistVote != nil {
		e.meta.LastVote = append([]byte(nil), out.PersistVote...)
		if !e.saveMeta() {
			return
		}
	}
	for _, m := range out.Send {
		if m.To == e.self {
			e.post(ext.Message{From: e.self, Channel: ext.ChanElection, Data: m.Data})
			continue
		}
		if err := e.tr.Send(m.To, ext.ChanElection, m.Data); err != nil {
			e.log.Debug("election message not sent", "to", m.To, "err", err)
		}
	}
	e.electWake = out.WakeAt
	if d := out.Decided; d != nil && e.leader == nil && e.learner == nil && !e.stopped {
		e.startRole(d)
	}
}

func (e *ensemble) saveMeta() bool {
	if err := e.n.store.SaveMeta(e.meta); err != nil {
		e.storeFault(fmt.Errorf("save epochs and vote: %w", err))
		return false
	}
	return true
}

// storeFault handles a store error on the quorum side: the server leaves
// its role at once (a leader must not go on pinging with a broken disk)
// and stops as the pipeline's store failure does.
func (e *ensemble) storeFault(err error) {
	e.log.Error("store failed", "err", err)
	e.endRole()
	e.stopped = true
	e.n.fail(err)
}

// ---------------------------------------------------------------- roles

func (e *ensemble) zabState() zab.State {
	return zab.State{AcceptedEpoch: e.meta.AcceptedEpoch, CurrentEpoch: e.meta.CurrentEpoch, LastZxid: e.n.tree.LastZxid()}
}

func (e *ensemble) startRole(d *ext.Decision) {
	e.roleGen++
	e.roleWake = 0
	e.linkUp = false
	now := e.now()
	var out zab.Output
	if d.State == ext.Leading && d.Vote.Leader == e.self {
		hist, err := e.history()
		if err != nil {
			e.storeFault(err)
			return
		}
		e.log.Info("leading", "last_zxid", fmt.Sprintf("0x%x", e.n.tree.LastZxid()))
		e.leader, out = zab.NewLeader(e.zcfg, e.zabState(), hist, now)
		e.setStatus(EnsembleStatus{State: ext.Leading, LeaderID: e.self})
	} else {
		e.log.Info("following", "leader", d.Vote.Leader, "observer", e.observer)
		// Sync txns go through the log stage before this server serves;
		// client writes are forwarded only once it does (Forward checks).
		e.n.proc.SetRole(pipeline.RoleLearner, 0)
		e.learner, out = zab.NewLearner(e.zcfg, e.zabState(), d.Vote.Leader, now)
		state := ext.Following
		if e.observer {
			state = ext.Observing
		}
		e.setStatus(EnsembleStatus{State: state, LeaderID: d.Vote.Leader})
	}
	early := e.early
	e.early = nil
	e.doRole(out)
	for _, m := range early {
		if e.leader == nil {
			break
		}
		e.doRole(e.leader.Step(e.now(), m.From, m.Data))
	}
}

// history is the leader's committed-log seed: the txns after the newest
// snapshot (never older ones: a SNAP-synced log jumps over the snapshot),
// the last CommitLogCount of them.
func (e *ensemble) history() ([]ext.Entry, error) {
	snaps, err := e.n.store.Snapshots()
	if err != nil {
		return nil, err
	}
	from := int64(0)
	if len(snaps) > 0 {
		from = snaps[0].Zxid
	}
	limit := 500
	if e.zcfg.CommitLogCount > 0 {
		limit = e.zcfg.CommitLogCount
	}
	last := e.n.tree.LastZxid()
	var hist []ext.Entry
	err = e.n.store.ReadLog(context.Background(), from, func(en ext.Entry) error {
		if en.Zxid > last {
			return errStopRead
		}
		hist = append(hist, ext.Entry{Zxid: en.Zxid, Data: append([]byte(nil), en.Data...)})
		if len(hist) > 2*limit {
			hist = append(hist[:0], hist[len(hist)-limit:]...)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopRead) {
		return nil, fmt.Errorf("read the log for the committed history: %w", err)
	}
	if len(hist) > limit {
		hist = hist[len(hist)-limit:]
	}
	return hist, nil
}

var errStopRead = errors.New("stop")

// errDiskStalled is why a leader abdicates when its log stops moving.
var errDiskStalled = errors.New("node: the local disk stalled")

func (e *ensemble) doRole(out zab.Output) {
	gen := e.roleGen
	for _, a := range out.Actions {
		if gen != e.roleGen || e.stopped {
			return
		}
		e.act(a)
	}
	if gen == e.roleGen {
		e.roleWake = out.WakeAt
	}
	if e.leader != nil {
		f, s, o := e.leader.Learners()
		e.lists.Store(&learnerLists{followers: f, synced: s, observers: o})
	}
}

func (e *ensemble) act(a zab.Action) {
	switch a := a.(type) {
	case zab.Send:
		if err := e.tr.Send(a.To, ext.ChanBroadcast, a.Data); err != nil {
			e.log.Debug("quorum packet not sent", "to", a.To, "type", zab.TypeName(a.Type), "err", err)
			if errors.Is(err, ext.ErrBackpressure) {
				e.log.Warn("dropping a learner that does not keep up", "peer", a.To)
				e.tr.Disconnect(a.To, ext.ChanBroadcast)
				e.post(ext.PeerEvent{Peer: a.To, Channel: ext.ChanBroadcast})
			}
		}
	case zab.Disconnect:
		e.tr.Disconnect(a.Peer, ext.ChanBroadcast)
	case zab.SaveEpochs:
		e.meta.AcceptedEpoch, e.meta.CurrentEpoch = a.Accepted, a.Current
		e.saveMeta()
	case zab.Append:
		if e.learner != nil {
			e.pendLog = append(e.pendLog, a.Entries...)
		}
		// A leader's own txns are already in the log stage.
	case zab.Truncate:
		e.flush()
		e.log.Info("truncating the log to the leader's history", "after", fmt.Sprintf("0x%x", a.Zxid))
		if err := e.n.store.TruncateAfter(a.Zxid); err != nil {
			// A failed truncate once split a brain (ZOOKEEPER-3701).
			e.storeFault(fmt.Errorf("truncate after 0x%x: %w", a.Zxid, err))
			return
		}
		if err := e.reload(); err != nil {
			e.storeFault(err)
		}
	case zab.Apply:
		e.pendCommit = max(e.pendCommit, a.Entries[len(a.Entries)-1].Zxid)
	case zab.SendSnapshot:
		e.sendSnapshot(a.To, a.Zxid)
	case zab.ExpectSnapshot:
		e.ensureSnap().zxid = a.Zxid
		e.finishSnap()
	case zab.TakeSnapshot:
		e.flush()
		e.n.proc.WaitApplied()
		if err := pipeline.WriteSnapshot(e.n.store, e.n.tree, e.n.sessions, a.Zxid); err != nil {
			e.storeFault(fmt.Errorf("snapshot after SNAP sync: %w", err))
		}
	case zab.Serve:
		e.serve(a)
	case zab.Deliver:
		e.deliver(a)
	case zab.SyncDone:
		e.n.proc.SyncAnswered()
	case zab.StepDown:
		e.stepDown(a.Err)
	default:
		e.log.Error("unknown ZAB action", "action", fmt.Sprintf("%T", a))
	}
}

func (e *ensemble) serve(a zab.Serve) {
	n := e.n
	if a.State == ext.Leading {
		n.proc.SetRole(pipeline.RoleLeader, zab.Zxid(a.Epoch, 0))
		e.servingLeader.Store(true)
		// The new leader owns expiry; it cannot know when clients were
		// last heard from, so every session gets a full timeout.
		n.sessions.TouchAll(n.clock())
	} else {
		e.servingLearner.Store(true)
	}
	st := *e.status.Load()
	st.Serving, st.Epoch = true, a.Epoch
	e.setStatus(st)
	n.srv.SetServing(true)
	e.log.Info("serving", "as", a.State.String(), "epoch", a.Epoch, "zxid", fmt.Sprintf("0x%x", n.tree.LastZxid()))
	e.doElection(e.elect.Established(e.now(), a.State, a.Epoch))
}

func (e *ensemble) stepDown(err error) {
	e.log.Warn("leaving role", "reason", err)
	e.endRole()
	if !e.stopped {
		e.startLooking()
	}
}

// endRole leaves the current role the way the simulator proves safe:
// clients are disconnected (they reconnect to a serving server), the log
// stage finishes what it was given, in-flight writes are dropped with an
// unknown outcome, and memory is brought back in line with the log so
// this server never serves state its disk lacks (ZOOKEEPER-4882).
func (e *ensemble) endRole() {
	n := e.n
	// What was committed is applied; what a learner was given to log is
	// logged (its log must hold everything it acknowledged).
	e.flush()
	e.roleGen++
	e.roleWake = 0
	e.servingLearner.Store(false)
	e.servingLeader.Store(false)
	if e.learner != nil {
		e.tr.Disconnect(e.learner.Leader(), ext.ChanBroadcast)
	}
	e.leader, e.learner = nil, nil
	e.lists.Store(nil)
	if e.snap != nil {
		e.snap.reader.CloseWithError(errors.New("role ended"))
		e.snap = nil
	}
	n.srv.SetServing(false)
	n.proc.EndRole()
	if err := e.reconcile(); err != nil {
		e.storeFault(err)
	}
	e.setStatus(EnsembleStatus{State: ext.Looking})
}

// reconcile makes the tree equal to what the store holds: replaying a log
// tail the tree lacks, or reloading when the tree is ahead of the disk
// (a SNAP loaded but never snapshotted).
func (e *ensemble) reconcile() error {
	n := e.n
	durable := n.store.LastZxid()
	if snaps, err := n.store.Snapshots(); err == nil && len(snaps) > 0 {
		durable = max(durable, snaps[0].Zxid)
	}
	switch last := n.tree.LastZxid(); {
	case last > durable:
		return e.reload()
	case last < durable:
		return n.store.ReadLog(context.Background(), last, func(en ext.Entry) error {
			txn, err := jute.DecodeTxn(en.Data)
			if err != nil {
				return fmt.Errorf("replay txn 0x%x: %w", en.Zxid, err)
			}
			n.tree.Apply(&txn.Header, txn.Record)
			switch txn.Header.Type {
			case jute.OpCreateSession:
				if r, ok := txn.Record.(*jute.IntRecord); ok {
					n.sessions.AddIfAbsent(txn.Header.ClientID, r.Value, n.clock())
				}
			case jute.OpCloseSession:
				n.sessions.Remove(txn.Header.ClientID)
			}
			n.proc.SetApplied(en.Zxid)
			return nil
		})
	}
	return nil
}

// reload rebuilds the tree and sessions from the store (after TRUNC, or
// when memory got ahead of the disk).
func (e *ensemble) reload() error {
	n := e.n
	n.proc.WaitApplied()
	tree, sessions, _, err := Recover(n.store, e.log)
	if err != nil {
		return fmt.Errorf("reload from the store: %w", err)
	}
	n.tree.ReplaceWith(tree)
	n.setLocalConfig()
	n.sessions.Reset(sessions, n.clock())
	n.proc.SetApplied(n.tree.LastZxid())
	return nil
}

// deliver handles what ZAB passes up: learners' writes and pings on the
// leader, the leader's pings on a learner.
func (e *ensemble) deliver(a zab.Deliver) {
	n := e.n
	now := e.now()
	switch {
	case e.leader != nil && a.Type == zab.TypeRequest:
		r := jute.NewReader(a.Data)
		sid, cxid, op := r.ReadLong(), r.ReadInt(), r.ReadInt()
		if r.Err() != nil {
			e.log.Warn("malformed REQUEST from a learner", "peer", a.From)
			return
		}
		body := r.Rest()
		if op == jute.OpSync {
			// After every write this learner sent before it (already
			// prepped, maybe not yet proposed).
			e.doRole(e.leader.Sync(now, a.From, 0, n.prep.LastZxid()))
			return
		}
		rec := server.DecodeWrite(op, body)
		if op == jute.OpCreateSession {
			if t, ok := rec.(*jute.IntRecord); ok {
				// Track it before prep checks the session of its next
				// request (ZooKeeper's leader does the same).
				n.sessions.AddIfAbsent(sid, t.Value, n.clock())
			}
		}
		req := &pipeline.Request{SessionID: sid, Cxid: cxid, Op: op, Record: rec, Auth: a.Auth}
		if err := n.proc.Submit(req); err != nil {
			e.log.Debug("forwarded write refused", "err", err)
		}
	case e.leader != nil && a.Type == zab.TypePing:
		// Session touches: (long session, int timeout)*.
		for b := a.Data; len(b) >= 12; b = b[12:] {
			n.sessions.Touch(int64(binary.BigEndian.Uint64(b)), n.clock())
		}
	case e.learner != nil && a.Type == zab.TypeSync:
		n.proc.SyncAnswered()
	case e.learner != nil && a.Type == zab.TypePing:
		ids := n.srv.SessionIDs()
		data := make([]byte, 0, 12*len(ids))
		for _, id := range ids {
			s, ok := n.sessions.Get(id)
			if !ok {
				continue
			}
			data = binary.BigEndian.AppendUint64(data, uint64(id))
			data = binary.BigEndian.AppendUint32(data, uint32(s.TimeoutMs))
		}
		e.doRole(e.learner.Forward(now, zab.TypePing, a.Zxid, data))
	}
}

// ---------------------------------------------------------------- SNAP

// sendSnapshot streams the state at exactly zxid to a learner: the apply
// stage has caught up with every commit (the kernel committed up to zxid
// and no later commit is handed out while this runs), so the walk sees
// that state and nothing after it.
func (e *ensemble) sendSnapshot(to, zxid int64) {
	n := e.n
	e.flush()
	n.proc.WaitApplied()
	if got := n.tree.LastZxid(); got != zxid {
		e.log.Error("cannot send a consistent snapshot", "want", fmt.Sprintf("0x%x", zxid), "tree", fmt.Sprintf("0x%x", got))
		e.tr.Disconnect(to, ext.ChanBroadcast)
		return
	}
	w := &bulkWriter{tr: e.tr, to: to, buf: make([]byte, 0, bulkChunk),
		patience: time.Duration(e.zcfg.InitLimit) * e.zcfg.TickTime}
	err := n.tree.WriteSyncSnapshot(w, n.sessions.Snapshot())
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		e.log.Warn("snapshot to learner failed", "peer", to, "err", err)
		e.tr.Disconnect(to, ext.ChanBroadcast)
	}
}

const bulkChunk = 64 << 10

// bulkWriter cuts the SNAP stream into bulk-channel messages. A snapshot
// can be larger than a transport's send queue, so a full queue is waited
// out (the link drains at network speed) for up to patience before the
// transfer fails; the event loop is held meanwhile, which keeps the SNAP
// bytes ahead of every later packet to that learner.
type bulkWriter struct {
	tr       ext.Transport
	to       int64
	buf      []byte
	err      error
	patience time.Duration
}

func (w *bulkWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), bulkChunk-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == bulkChunk {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *bulkWriter) flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	deadline := time.Now().Add(w.patience)
	pause := 100 * time.Microsecond
	for {
		w.err = w.tr.Send(w.to, ext.ChanBulk, w.buf)
		if !errors.Is(w.err, ext.ErrBackpressure) || time.Now().After(deadline) {
			break
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
	w.buf = make([]byte, 0, bulkChunk)
	return w.err
}

// ensureSnap starts parsing a SNAP stream (on its first bulk chunk or on
// ExpectSnapshot, whichever comes first: they travel on different channels).
func (e *ensemble) ensureSnap() *snapLoad {
	if e.snap != nil {
		return e.snap
	}
	s := &snapLoad{gen: e.roleGen, zxid: -1, reader: chunkio.NewReader()}
	e.snap = s
	go func() {
		tree, sessions, err := datatree.ReadSyncSnapshotLimit(s.reader, e.n.cfg.JuteMaxBuffer)
		e.post(evSnapLoaded{gen: s.gen, tree: tree, sessions: sessions, err: err})
	}()
	return s
}

func (e *ensemble) onBulk(m ext.Message) {
	if e.learner == nil || m.From != e.learner.Leader() {
		return
	}
	e.ensureSnap().reader.Feed(m.Data)
}

// finishSnap installs a loaded SNAP once both the stream is parsed and the
// kernel has named its zxid.
func (e *ensemble) finishSnap() {
	s := e.snap
	if s == nil || s.zxid < 0 || s.result == nil || e.learner == nil {
		return
	}
	e.snap = nil
	s.reader.Close()
	if s.result.err != nil {
		e.stepDown(fmt.Errorf("SNAP from the leader: %w", s.result.err))
		return
	}
	n := e.n
	e.flush()
	n.proc.WaitApplied()
	// Log entries above the snapshot are a diverged tail it supersedes.
	if err := n.store.TruncateAfter(min(s.zxid, n.store.LastZxid())); err != nil {
		e.storeFault(fmt.Errorf("drop the log tail before SNAP: %w", err))
		return
	}
	s.result.tree.SetLastZxid(s.zxid)
	n.tree.ReplaceWith(s.result.tree)
	n.setLocalConfig()
	n.sessions.Reset(s.result.sessions, n.clock())
	n.proc.SetApplied(s.zxid)
	e.log.Info("state replaced by the leader's snapshot", "zxid", fmt.Sprintf("0x%x", s.zxid))
	e.doRole(e.learner.SnapshotLoaded(e.now(), s.zxid))
}

// transportConfig is the membership as the transport needs it.
func (n *Node) transportConfig() ext.TransportConfig {
	tc := ext.TransportConfig{Self: n.cfg.MyID, ElectionAlgorithm: n.cfg.Election.Module, ProtocolVersion: int64(zab.ProtocolVersion)}
	for id, s := range n.cfg.Servers {
		tc.Peers = append(tc.Peers, ext.PeerAddr{
			ID:           id,
			ElectionAddr: net.JoinHostPort(s.Host, strconv.Itoa(s.ElectionPort)),
			QuorumAddr:   net.JoinHostPort(s.Host, strconv.Itoa(s.QuorumPort)),
			Observer:     s.Role == config.Observer,
		})
	}
	sort.Slice(tc.Peers, func(i, j int) bool { return tc.Peers[i].ID < tc.Peers[j].ID })
	return tc
}

// EnsembleStatus is the quorum state, ok false for a standalone server.
func (n *Node) EnsembleStatus() (EnsembleStatus, bool) {
	if n.ens == nil {
		return EnsembleStatus{}, false
	}
	return n.ens.Status(), true
}

// memberLines are the membership's `server.N=...` lines in id order, as
// ZooKeeper prints them in conf and /zookeeper/config.
func memberLines(c *config.Config) []string {
	ids := make([]int64, 0, len(c.Servers))
	for id := range c.Servers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	lines := make([]string, 0, len(ids))
	for _, id := range ids {
		lines = append(lines, "server."+strconv.FormatInt(id, 10)+"="+c.Servers[id].String())
	}
	return lines
}

// setLocalConfig fills /zookeeper/config as a ZooKeeper member does from
// its static configuration (QuorumMaj.toString: the lines, then the
// config version in hex, 0 without reconfig).
func (n *Node) setLocalConfig() {
	var b strings.Builder
	for _, l := range memberLines(n.cfg) {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString("version=0")
	n.tree.SetLocalConfig([]byte(b.String()))
}
