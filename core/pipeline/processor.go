package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/session"
)

// ErrStopped is returned by Submit once the processor has stopped.
var ErrStopped = errors.New("pipeline: stopped")

// ErrStoreFailed is returned by Submit once the store has failed: the
// request was not prepped and nothing of it reached the store, so the
// caller may tell its client so (ZooKeeper's NOTREADONLY).
var ErrStoreFailed = errors.New("pipeline: store failed; writes are refused")

// ErrStall is the failure recorded when an Append has not returned within
// Config.StallTimeout. Whether the stuck batch ends up on disk is unknown.
var ErrStall = errors.New("pipeline: store append stalled")

// ErrNotServing is returned by Submit while the server has no role in its
// ensemble (it is looking for a leader) or its leader cannot be reached.
var ErrNotServing = errors.New("pipeline: not serving: no leader")

// Role is how a processor takes writes.
type Role int32

const (
	// RoleStandalone: prep → log → apply, a quorum of one.
	RoleStandalone Role = iota
	// RoleLeader: prep → log, and the Replicator proposes each batch;
	// txns are applied when Commit releases them.
	RoleLeader
	// RoleLearner: Submit forwards writes to the leader; txns the leader
	// proposes arrive through Log and are applied when Commit releases them.
	RoleLearner
	// RoleNone: not serving (between roles).
	RoleNone
)

// Replicator connects a processor to ZAB when the server is a member of
// an ensemble. Its methods must not block for long: Proposing and Logged
// run on the log stage, Forward on a client connection.
type Replicator interface {
	// Proposing is called with this leader's own txns, in zxid order, as
	// they are prepared (before the log stage appends them), so followers
	// log in parallel with the leader. It runs under the prep lock.
	Proposing(batch []*Request)
	// Logged reports that every txn up to zxid is durable (the local ACK).
	Logged(zxid int64)
	// Forward sends a client's write to the leader (RoleLearner).
	Forward(req *Request) error
}

// Dropper is implemented by an Origin that must hear about a request the
// pipeline gave up on because the store failed while the request was in
// flight. Its txn may already be on disk (it reappears after a restart) or
// not, so the outcome is unknown: the origin must report neither success
// nor a definite failure (a client connection is closed, as a crash would
// close it). Dropped is called at most once, instead of Applied, from any
// goroutine.
type Dropper interface {
	Dropped(req *Request)
}

// Hooks lets the node observe the pipeline without the pipeline knowing
// about metrics or the server.
type Hooks struct {
	// Synced is called after each group commit with its size and duration.
	Synced func(batch int, d time.Duration)
	// Snapshotted is called after a snapshot attempt.
	Snapshotted func(zxid int64, d time.Duration, err error)
	// Applied is called for every applied txn after its origin.
	Applied func(req *Request, res *datatree.Result)
	// Fatal is called once if the store fails (an Append, RollLog or
	// snapshot error, or an Append stalled beyond StallTimeout): durability
	// of the failing batch is unknown, so nothing more is acknowledged.
	Fatal func(err error)
}

// Config configures a Processor.
type Config struct {
	Store    ext.Store
	Tree     *datatree.Tree
	Sessions *session.Tracker
	Prep     *Prepper
	// SnapCount: a snapshot is taken after snapCount/2 + rand(snapCount/2)
	// txns, as ZooKeeper does, so an ensemble's members do not all
	// snapshot at once.
	SnapCount int
	// SnapSizeLimit is the size-based twin of SnapCount (snapSizeLimitInKb,
	// in bytes): a snapshot is also taken once this many logged bytes,
	// jittered the same way, have accumulated. <= 0 disables it.
	SnapSizeLimit int64
	// MaxBatch bounds one group commit (zookeeper.maxBatchSize).
	MaxBatch int
	// StallTimeout fails the store when an Append has not returned after
	// this long; 0 waits forever. A stuck disk otherwise holds every write
	// (and every read queued behind one) with no signal to the operator.
	StallTimeout time.Duration
	Logger       *slog.Logger
	Hooks        Hooks
	// Rand seeds the snapshot jitter; nil uses a random seed.
	Rand *rand.Rand
	// Replicator, when set, makes this processor a member of an ensemble;
	// it starts in RoleNone. Without one it is standalone.
	Replicator Replicator
	// Clock is the node's monotonic millisecond clock (session expiry).
	Clock func() int64
}

// Processor runs the log and apply stages.
type Processor struct {
	cfg Config
	// queue feeds the log stage. It is unbounded on purpose: Submit runs
	// under the prep lock, and the apply stage needs that lock too, so a
	// blocking send could deadlock the pipeline. Clients are throttled
	// before they submit (see Outstanding) instead.
	qmu     sync.Mutex
	queue   []*Request
	qclosed bool
	qwake   chan struct{}
	applyCh chan []*Request
	stopped atomic.Bool
	failed  atomic.Bool
	failure atomic.Pointer[error]
	wg      sync.WaitGroup

	// inflight is the batch handed to the store and not yet settled; ifMu
	// makes "settle it" and "fail the store" exclusive, so a batch is
	// either applied or dropped, never both. appendStart is when the
	// current Append began (ns since base), 0 between Appends.
	ifMu        sync.Mutex
	inflight    []*Request
	base        time.Time
	appendStart atomic.Int64

	sinceSnap      int
	bytesSinceSnap int64
	snapBytesAt    int64
	snapAt         int
	snapping       atomic.Bool
	snapWG         sync.WaitGroup
	appliedZxid    atomic.Int64
	outstanding    atomic.Int64
	cancel         context.CancelFunc
	stopOnce       sync.Once
	fatalOnce      sync.Once

	// Ensemble state. role changes under the prep lock. uncommitted holds
	// logged-or-queued txns in zxid order until Commit releases them;
	// forwarded holds this server's client writes sent to the leader,
	// until their txn is applied. Both under cmu. applyMu orders sends on
	// applyCh with its close.
	role        atomic.Int32
	cmu         sync.Mutex
	uncommitted []*Request
	forwarded   map[fwdKey]*Request
	syncs       []*Request // forwarded syncs, oldest first
	applyMu     sync.Mutex
	applyClosed bool
	// idle is signalled by the log stage whenever its queue runs dry;
	// logBusy (under qmu) is set while it works on a batch it took.
	idle    *sync.Cond
	logBusy bool
}

type fwdKey struct {
	session int64
	cxid    int32
}

// New returns a processor; call Start to run it.
func New(cfg Config) *Processor {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.SnapCount < 2 {
		cfg.SnapCount = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	p := &Processor{
		cfg:     cfg,
		qwake:   make(chan struct{}, 1),
		applyCh: make(chan []*Request, 64),
		base:    time.Now(),
	}
	p.appliedZxid.Store(cfg.Tree.LastZxid())
	p.nextSnapAt()
	p.forwarded = map[fwdKey]*Request{}
	p.idle = sync.NewCond(&p.qmu)
	if cfg.Replicator != nil {
		p.role.Store(int32(RoleNone))
	}
	return p
}

func (p *Processor) nextSnapAt() {
	half := p.cfg.SnapCount / 2
	p.snapAt = half + p.cfg.Rand.IntN(half+1)
	p.sinceSnap = 0
	p.bytesSinceSnap = 0
	p.snapBytesAt = -1
	if p.cfg.SnapSizeLimit > 0 {
		halfBytes := p.cfg.SnapSizeLimit / 2
		p.snapBytesAt = halfBytes + p.cfg.Rand.Int64N(halfBytes+1)
	}
}

// Start launches the stages; they run until Stop.
func (p *Processor) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go p.logLoop(ctx)
	go p.applyLoop()
	if p.cfg.StallTimeout > 0 {
		go p.watchdog(ctx)
	}
}

// Submit preps req and queues it for the log. It returns ErrStopped after
// Stop and ErrStoreFailed after a store failure; the request is then not
// logged. A request accepted here just before a failure is dropped (see
// Dropper) rather than applied.
func (p *Processor) Submit(req *Request) error {
	if p.stopped.Load() {
		return ErrStopped
	}
	if p.failed.Load() {
		return ErrStoreFailed
	}
	switch Role(p.role.Load()) {
	case RoleNone:
		return ErrNotServing
	case RoleLearner:
		return p.forward(req)
	case RoleLeader:
		if req.Op == jute.OpSync {
			// Ordered after every commit so far, as ZooKeeper's leader
			// orders a sync behind its outstanding proposals.
			return p.forward(req)
		}
	}
	p.outstanding.Add(1)
	p.cfg.Prep.Prep(req, p.enqueue)
	return nil
}

// forward sends a learner's client write to the leader (or a leader's
// sync to its own ZAB side) and remembers it, so the answer that comes
// back is given on this server.
func (p *Processor) forward(req *Request) error {
	key := fwdKey{req.SessionID, req.Cxid}
	p.outstanding.Add(1)
	p.cmu.Lock()
	if req.Op == jute.OpSync {
		// The leader's SYNC answer names no session: answers come back
		// in the order the syncs were sent.
		p.syncs = append(p.syncs, req)
	} else {
		p.forwarded[key] = req
	}
	p.cmu.Unlock()
	if err := p.cfg.Replicator.Forward(req); err != nil {
		p.cmu.Lock()
		delete(p.forwarded, key)
		if n := len(p.syncs); n > 0 && p.syncs[n-1] == req {
			p.syncs = p.syncs[:n-1]
		}
		p.cmu.Unlock()
		p.outstanding.Add(-1)
		return fmt.Errorf("%w: %w", ErrNotServing, err)
	}
	return nil
}

// Role is the processor's current role.
func (p *Processor) Role() Role { return Role(p.role.Load()) }

// SetRole switches how writes are taken. Leaving a role drops what it
// left unfinished (see EndRole); a leader's prep restarts after lastZxid,
// the last zxid of the previous epoch's history (its first txn is then
// Zxid(epoch, 1) when lastZxid is Zxid(epoch, 0)).
func (p *Processor) SetRole(role Role, lastZxid int64) {
	p.cfg.Prep.mu.Lock()
	p.role.Store(int32(role))
	p.cfg.Prep.mu.Unlock()
	if role == RoleLeader {
		p.cfg.Prep.Reset(lastZxid)
	}
}

// Log queues txns a learner received from its leader for the log stage;
// they are applied when Commit releases them. Data must be the txn bytes
// (TxnHeader + record [+ digest]).
func (p *Processor) Log(entries []ext.Entry) error {
	reqs := make([]*Request, 0, len(entries))
	for _, e := range entries {
		txn, err := jute.DecodeTxn(e.Data)
		if err != nil {
			return fmt.Errorf("pipeline: txn %#x from the leader: %w", e.Zxid, err)
		}
		if txn.Header.Zxid != e.Zxid {
			return fmt.Errorf("pipeline: txn %#x from the leader carries zxid %#x", e.Zxid, txn.Header.Zxid)
		}
		reqs = append(reqs, &Request{SessionID: txn.Header.ClientID, Cxid: txn.Header.Cxid, Op: txn.Header.Type,
			Hdr: txn.Header, Txn: txn.Record, Data: e.Data, learned: true})
	}
	p.cfg.Prep.mu.Lock() // orders with fatal's drain, like enqueue
	defer p.cfg.Prep.mu.Unlock()
	for _, r := range reqs {
		p.outstanding.Add(1)
		p.enqueue(r)
	}
	return nil
}

// Commit releases every logged-or-queued txn up to zxid to the apply
// stage, in order. A txn may be applied before this server's own log has
// it: a quorum already logged it.
func (p *Processor) Commit(zxid int64) {
	p.cmu.Lock()
	n := 0
	for n < len(p.uncommitted) && p.uncommitted[n].Hdr.Zxid <= zxid {
		n++
	}
	batch := make([]*Request, n)
	copy(batch, p.uncommitted)
	rest := copy(p.uncommitted, p.uncommitted[n:])
	clear(p.uncommitted[rest:])
	p.uncommitted = p.uncommitted[:rest]
	p.cmu.Unlock()
	if n > 0 {
		p.toApply(batch)
	}
}

// toApply hands a batch to the apply stage unless it has stopped.
func (p *Processor) toApply(batch []*Request) {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	if p.applyClosed {
		return
	}
	p.applyCh <- batch
}

func (p *Processor) closeApply() {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	if !p.applyClosed {
		p.applyClosed = true
		close(p.applyCh)
	}
}

// EndRole ends the current ensemble role: new writes are refused, the log
// stage finishes what it was given (so the log holds everything this
// server applied or acknowledged), the apply stage catches up with what
// was committed, and everything left uncommitted or forwarded is dropped
// (its origin learns the outcome is unknown, see Dropper). It returns once
// that is done.
func (p *Processor) EndRole() {
	p.SetRole(RoleNone, 0)
	p.qmu.Lock()
	for (len(p.queue) > 0 || p.logBusy) && !p.qclosed && !p.failed.Load() {
		p.idle.Wait()
	}
	p.qmu.Unlock()
	p.cmu.Lock()
	dropped := p.uncommitted
	p.uncommitted = nil
	for k, r := range p.forwarded {
		dropped = append(dropped, r)
		delete(p.forwarded, k)
	}
	dropped = append(dropped, p.syncs...)
	p.syncs = nil
	p.cmu.Unlock()
	p.drop(dropped)
	p.WaitApplied()
}

// WaitApplied waits until the apply stage has taken every batch handed to
// it so far.
func (p *Processor) WaitApplied() {
	done := make(chan struct{})
	p.toApply([]*Request{{Origin: barrier(done), learned: true, Hdr: jute.TxnHeader{Type: barrierOp}}})
	p.applyMu.Lock()
	closed := p.applyClosed
	p.applyMu.Unlock()
	if closed {
		return
	}
	<-done
}

// SyncAnswered releases the oldest forwarded sync: the leader answered it.
// The answer follows every txn committed before it through the apply
// stage, so the client's next read sees them.
func (p *Processor) SyncAnswered() {
	p.cmu.Lock()
	if len(p.syncs) == 0 {
		p.cmu.Unlock()
		return
	}
	req := p.syncs[0]
	p.syncs = p.syncs[1:]
	p.cmu.Unlock()
	p.toApply([]*Request{{Origin: syncAnswer{p, req}, learned: true, Hdr: jute.TxnHeader{Type: barrierOp}}})
}

type syncAnswer struct {
	p   *Processor
	req *Request
}

func (s syncAnswer) Applied(*Request, *datatree.Result) {
	// The reply carries the last zxid this server has applied, as
	// ZooKeeper's does.
	s.req.Hdr.Zxid = s.p.AppliedZxid()
	if s.req.Origin != nil {
		s.req.Origin.Applied(s.req, &datatree.Result{})
	}
	s.p.outstanding.Add(-1)
}

// barrierOp marks a request that only reports its turn in the apply stage.
const barrierOp int32 = -1000

type barrier chan struct{}

func (b barrier) Applied(*Request, *datatree.Result) { close(b) }

// enqueue runs under the prep lock, which fatal also holds while it sets
// failed and empties the queue: a request either lands in the queue before
// that drain or sees failed here.
func (p *Processor) enqueue(r *Request) {
	if p.failed.Load() {
		p.drop([]*Request{r})
		return
	}
	if p.cfg.Replicator != nil {
		role := Role(p.role.Load())
		if role == RoleNone || role == RoleLeader && r.learned || role == RoleLearner && !r.learned {
			// The role changed while this request was on its way.
			p.drop([]*Request{r})
			return
		}
		p.cmu.Lock()
		p.uncommitted = append(p.uncommitted, r)
		p.cmu.Unlock()
		if role == RoleLeader {
			// Propose before logging, as ZooKeeper's leader does: followers
			// log in parallel with the leader, and a slow leader disk
			// delays only the leader's own ACK, not the quorum's. The prep
			// lock held here keeps proposals in zxid order.
			p.cfg.Replicator.Proposing([]*Request{r})
		}
	}
	p.qmu.Lock()
	p.queue = append(p.queue, r)
	p.qmu.Unlock()
	select {
	case p.qwake <- struct{}{}:
	default:
	}
}

// takeBatch waits for queued requests and returns up to max of them; nil
// once the queue is closed and empty.
func (p *Processor) takeBatch(buf []*Request, max int) []*Request {
	for {
		p.qmu.Lock()
		p.logBusy = false
		if n := len(p.queue); n > 0 {
			p.logBusy = true
			if n > max {
				n = max
			}
			buf = append(buf[:0], p.queue[:n]...)
			rest := copy(p.queue, p.queue[n:])
			clear(p.queue[rest:])
			p.queue = p.queue[:rest]
			p.qmu.Unlock()
			return buf
		}
		closed := p.qclosed
		p.idle.Broadcast()
		p.qmu.Unlock()
		if closed {
			return nil
		}
		<-p.qwake
	}
}

// Outstanding is the number of submitted requests not yet applied.
func (p *Processor) Outstanding() int64 { return p.outstanding.Load() }

// SetApplied records that the tree was replaced with a state at zxid (a
// learner's SNAP sync or TRUNC reload), outside the apply stage.
func (p *Processor) SetApplied(zxid int64) { p.appliedZxid.Store(zxid) }

// AppliedZxid is the last applied zxid.
func (p *Processor) AppliedZxid() int64 { return p.appliedZxid.Load() }

// Failed reports whether the store failed.
func (p *Processor) Failed() bool { return p.failed.Load() }

// Failure is the error that failed the store, nil while it is healthy.
func (p *Processor) Failure() error {
	if e := p.failure.Load(); e != nil {
		return *e
	}
	return nil
}

// AppendAge is how long the Append in progress has been running, 0 when
// none is (a leader whose disk stalls steps down, see core/node).
func (p *Processor) AppendAge() time.Duration {
	start := p.appendStart.Load()
	if start == 0 {
		return 0
	}
	return time.Since(p.base) - time.Duration(start)
}

// Stuck reports whether the log stage is still blocked in an Append after
// a stall failed the store. The store must not be closed then: Close would
// wait for that Append.
func (p *Processor) Stuck() bool {
	return p.failed.Load() && p.appendStart.Load() != 0
}

// Stop drains what was submitted, waits for a running snapshot and stops.
// After a stall it does not wait for the Append that is still blocked (the
// stages finish on their own if it ever returns); see Stuck.
func (p *Processor) Stop() {
	p.stopOnce.Do(func() {
		p.stopped.Store(true)
		// Submit holds the prep lock while sending, so taking it here
		// guarantees no send races with close.
		p.cfg.Prep.mu.Lock()
		p.qmu.Lock()
		p.qclosed = true
		p.qmu.Unlock()
		p.cfg.Prep.mu.Unlock()
		select {
		case p.qwake <- struct{}{}:
		default:
		}
		if p.Stuck() {
			p.cfg.Logger.Error("stopping with a store append still blocked; leaving it behind")
		} else {
			p.wg.Wait()
		}
		p.snapWG.Wait()
		if p.cancel != nil {
			p.cancel()
		}
	})
}

// fatal fails the store once: from then on nothing is acknowledged. The
// batch in the store (even if its Append later succeeds) and everything
// queued behind it are dropped, their outcome unknown to the client;
// Submit refuses new requests.
func (p *Processor) fatal(err error) {
	p.fatalOnce.Do(func() {
		p.failure.Store(&err)
		p.cfg.Prep.mu.Lock()
		p.ifMu.Lock()
		p.failed.Store(true)
		dropped := p.inflight
		p.inflight = nil
		p.ifMu.Unlock()
		p.qmu.Lock()
		dropped = append(dropped, p.queue...)
		p.queue = nil
		p.idle.Broadcast()
		p.qmu.Unlock()
		p.cfg.Prep.mu.Unlock()
		p.cfg.Logger.Error("store failed; no further writes will be acknowledged", "err", err,
			"dropped_requests", len(dropped))
		p.drop(dropped)
		if p.cfg.Hooks.Fatal != nil {
			p.cfg.Hooks.Fatal(err)
		}
	})
}

// drop gives up on requests that will never be applied.
func (p *Processor) drop(reqs []*Request) {
	for _, r := range reqs {
		if d, ok := r.Origin.(Dropper); ok {
			d.Dropped(r)
		}
		p.outstanding.Add(-1)
	}
}

// watchdog fails the store when an Append runs longer than StallTimeout.
// It only reads the start time the log stage publishes, so a healthy
// Append costs nothing; it looks four times per timeout, so a stall is
// noticed within 1.25 × StallTimeout.
func (p *Processor) watchdog(ctx context.Context) {
	limit := p.cfg.StallTimeout
	tick := time.NewTicker(max(limit/4, time.Millisecond))
	defer tick.Stop()
	for !p.failed.Load() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if start := p.appendStart.Load(); start != 0 && time.Since(p.base)-time.Duration(start) >= limit {
			p.fatal(fmt.Errorf("%w: no reply from the store for %v", ErrStall, limit))
		}
	}
}

// settle takes back the batch handed to the store, or nil when a failure
// took it first (it was dropped then, and must not be acknowledged).
func (p *Processor) settle() []*Request {
	p.ifMu.Lock()
	defer p.ifMu.Unlock()
	batch := p.inflight
	p.inflight = nil
	p.appendStart.Store(0)
	return batch
}

func (p *Processor) logLoop(ctx context.Context) {
	defer p.wg.Done()
	defer p.closeApply()
	var entries []ext.Entry
	for {
		batch := p.takeBatch(make([]*Request, 0, 16), p.cfg.MaxBatch)
		if batch == nil {
			return
		}
		p.ifMu.Lock()
		if p.failed.Load() {
			p.ifMu.Unlock()
			p.drop(batch) // never acknowledge after a store failure
			continue
		}
		p.inflight = batch
		p.appendStart.Store(int64(time.Since(p.base)))
		p.ifMu.Unlock()
		entries = entries[:0]
		for _, r := range batch {
			entries = append(entries, ext.Entry{Zxid: r.Hdr.Zxid, Data: r.Data})
			p.bytesSinceSnap += int64(len(r.Data))
		}
		start := time.Now()
		err := p.cfg.Store.Append(ctx, entries)
		if err != nil {
			p.appendStart.Store(0) // not stuck: it returned
			p.fatal(fmt.Errorf("append of %d txns (zxid %#x..%#x): %w", len(entries), entries[0].Zxid, entries[len(entries)-1].Zxid, err))
		}
		if p.settle() == nil {
			continue // the store failed meanwhile and dropped the batch
		}
		if h := p.cfg.Hooks.Synced; h != nil {
			h(len(batch), time.Since(start))
		}
		if rep := p.cfg.Replicator; rep != nil {
			rep.Logged(batch[len(batch)-1].Hdr.Zxid)
		} else {
			p.toApply(batch)
		}
		p.sinceSnap += len(batch)
		if p.sinceSnap >= p.snapAt || (p.snapBytesAt > 0 && p.bytesSinceSnap >= p.snapBytesAt) {
			p.nextSnapAt()
			p.triggerSnapshot()
		}
	}
}

// triggerSnapshot rolls the log and writes a fuzzy snapshot in the
// background, unless one is already running (as ZooKeeper skips).
func (p *Processor) triggerSnapshot() {
	if !p.snapping.CompareAndSwap(false, true) {
		p.cfg.Logger.Warn("snapshot skipped: previous one still running")
		return
	}
	if err := p.cfg.Store.RollLog(); err != nil {
		p.snapping.Store(false)
		p.fatal(fmt.Errorf("roll log: %w", err))
		return
	}
	p.snapWG.Add(1)
	go func() {
		defer p.snapWG.Done()
		defer p.snapping.Store(false)
		if _, err := p.Snapshot(); err != nil {
			p.fatal(fmt.Errorf("snapshot: %w", err))
		}
	}()
}

// Snapshot writes a snapshot of the current tree now and returns its zxid.
// Its name is the last applied zxid read before the walk starts, so replay
// from it re-applies at most a few txns (replay is idempotent).
func (p *Processor) Snapshot() (int64, error) {
	start := time.Now()
	zxid := p.cfg.Tree.LastZxid()
	err := WriteSnapshot(p.cfg.Store, p.cfg.Tree, p.cfg.Sessions, zxid)
	if err != nil {
		p.cfg.Logger.Error("snapshot failed", "zxid", fmt.Sprintf("%#x", zxid), "err", err)
	} else {
		p.cfg.Logger.Info("snapshot written", "zxid", fmt.Sprintf("%#x", zxid), "took", time.Since(start))
	}
	if h := p.cfg.Hooks.Snapshotted; h != nil {
		h(zxid, time.Since(start), err)
	}
	return zxid, err
}

// WriteSnapshot writes tree and sessions to store as the snapshot at zxid.
func WriteSnapshot(store ext.Store, tree *datatree.Tree, sessions *session.Tracker, zxid int64) error {
	w, err := store.CreateSnapshot(zxid)
	if err != nil {
		return err
	}
	var sess map[int64]int32
	if sessions != nil {
		sess = sessions.Snapshot()
	}
	if _, err := tree.WriteSnapshot(w, sess); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Commit()
}

func (p *Processor) applyLoop() {
	defer p.wg.Done()
	for batch := range p.applyCh {
		for _, req := range batch {
			if req.Hdr.Type == barrierOp {
				req.Origin.Applied(req, nil)
				continue
			}
			res := p.cfg.Tree.Apply(&req.Hdr, req.Txn)
			p.applySessionEffects(req)
			if !req.learned {
				p.cfg.Prep.Applied(req)
			}
			p.appliedZxid.Store(req.Hdr.Zxid)
			if req.Origin != nil {
				req.Origin.Applied(req, &res)
			}
			if req.learned {
				p.answerForwarded(req, &res)
			}
			if h := p.cfg.Hooks.Applied; h != nil {
				h(req, &res)
			}
			p.outstanding.Add(-1)
		}
	}
}

// answerForwarded answers this server's client whose forwarded write the
// learned txn is.
func (p *Processor) answerForwarded(req *Request, res *datatree.Result) {
	key := fwdKey{req.Hdr.ClientID, req.Hdr.Cxid}
	p.cmu.Lock()
	local, ok := p.forwarded[key]
	if ok {
		delete(p.forwarded, key)
	}
	p.cmu.Unlock()
	if !ok {
		return
	}
	local.Hdr, local.Txn, local.Data = req.Hdr, req.Txn, req.Data
	if local.Origin != nil {
		local.Origin.Applied(local, res)
	}
	p.outstanding.Add(-1)
}

func (p *Processor) applySessionEffects(req *Request) {
	if p.cfg.Sessions == nil {
		return
	}
	switch req.Hdr.Type {
	case jute.OpCloseSession:
		p.cfg.Sessions.Remove(req.Hdr.ClientID)
	case jute.OpCreateSession:
		// Sessions created through another server of the ensemble.
		if t, ok := req.Txn.(*jute.IntRecord); ok && p.cfg.Replicator != nil {
			now := int64(0)
			if p.cfg.Clock != nil {
				now = p.cfg.Clock()
			}
			p.cfg.Sessions.AddIfAbsent(req.Hdr.ClientID, t.Value, now)
		}
	}
}
