package zab

import (
	"fmt"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
)

type learnerPhase int

const (
	phaseConnecting    learnerPhase = iota // FOLLOWERINFO sent, awaiting LEADERINFO
	phaseAwaitSync                         // ACKEPOCH sent, awaiting DIFF/TRUNC/SNAP
	phaseSyncing                           // collecting txns until NEWLEADER
	phaseAwaitSnap                         // SNAP received, host loading it
	phaseNewLeader                         // NEWLEADER seen, waiting for the log
	phaseAwaitUpToDate                     // NEWLEADER acked
	phaseServing                           // UPTODATE seen
)

type inflight struct {
	entry     ext.Entry
	committed bool
	acked     bool
}

// Learner is the pure ZAB follower or observer role: created after the
// election named a leader, it connects, takes the new epoch, syncs and then
// follows the broadcast.
type Learner struct {
	cfg      Config
	state    State
	leader   int64
	observer bool
	phase    learnerPhase

	newEpoch   int64
	snapZxid   int64 // SNAP sync: state replaced at this zxid
	snapNeeded bool
	pending    []inflight // proposals logged-or-not, not yet applied
	loggedZxid int64
	queued     [][]byte // packets that arrived while a snapshot loaded
	lastHeard  time.Duration
	stopped    bool
	syncTarget int64 // last txn logged at NEWLEADER; the ACK waits for it
}

// NewLearner starts following leader: it sends FOLLOWERINFO (OBSERVERINFO
// for an observer) with the accepted epoch.
func NewLearner(cfg Config, st State, leader int64, now time.Duration) (*Learner, Output) {
	cfg = cfg.withDefaults()
	f := &Learner{cfg: cfg, state: st, leader: leader, observer: cfg.isObserver(cfg.Self), lastHeard: now, loggedZxid: st.LastZxid}
	var out Output
	typ := TypeFollowerInfo
	if f.observer {
		typ = TypeObserverInfo
	}
	f.send(&out, typ, Zxid(st.AcceptedEpoch, 0), encodeLearnerInfo(cfg.Self))
	out.WakeAt = f.wake()
	return f, out
}

// Leader is the sid this learner follows.
func (f *Learner) Leader() int64 { return f.leader }

// Serving reports whether UPTODATE arrived.
func (f *Learner) Serving() bool { return f.phase == phaseServing && !f.stopped }

// Epoch is the epoch the leader announced (0 before LEADERINFO).
func (f *Learner) Epoch() int64 { return f.newEpoch }

func (f *Learner) send(out *Output, typ int32, zxid int64, data []byte) {
	out.add(Send{To: f.leader, Type: typ, Zxid: zxid, Data: Encode(typ, zxid, data)})
}

func (f *Learner) limit() time.Duration {
	if f.phase >= phaseAwaitUpToDate {
		return time.Duration(f.cfg.SyncLimit) * f.cfg.TickTime
	}
	return time.Duration(f.cfg.InitLimit) * f.cfg.TickTime
}

func (f *Learner) wake() time.Duration {
	if f.stopped {
		return 0
	}
	return f.lastHeard + f.limit()
}

func (f *Learner) stepDown(out *Output, err error) {
	if f.stopped {
		return
	}
	f.stopped = true
	out.add(Disconnect{Peer: f.leader})
	out.add(StepDown{Err: err})
}

// Tick abandons a leader that stayed silent for initLimit ticks (before
// NEWLEADER is acked) or syncLimit ticks (after).
func (f *Learner) Tick(now time.Duration) Output {
	var out Output
	if f.stopped {
		return out
	}
	if now >= f.lastHeard+f.limit() {
		f.stepDown(&out, fmt.Errorf("%w: leader %d silent for %v", ErrTimeout, f.leader, f.limit()))
		return out
	}
	out.WakeAt = f.wake()
	return out
}

// PeerDown reports that the link to the leader closed.
func (f *Learner) PeerDown(now time.Duration, peer int64) Output {
	var out Output
	if peer == f.leader && !f.stopped {
		f.stopped = true
		out.add(StepDown{Err: ErrLeaderConnection})
	}
	return out
}

// Step handles one packet from the leader.
func (f *Learner) Step(now time.Duration, from int64, data []byte) Output {
	var out Output
	if f.stopped || from != f.leader {
		return out
	}
	f.lastHeard = now
	if f.phase == phaseAwaitSnap {
		// The snapshot stream and later packets may travel on different
		// channels; keep packets until the state they apply to is loaded.
		f.queued = append(f.queued, data)
		out.WakeAt = f.wake()
		return out
	}
	f.step(now, &out, data)
	out.WakeAt = f.wake()
	return out
}

func (f *Learner) step(now time.Duration, out *Output, data []byte) {
	p, err := Decode(data)
	if err != nil {
		f.stepDown(out, err)
		return
	}
	switch {
	case p.Type == TypeLeaderInfo && f.phase == phaseConnecting:
		f.onLeaderInfo(out, p)
	case (p.Type == TypeDiff || p.Type == TypeTrunc || p.Type == TypeSnap) && f.phase == phaseAwaitSync:
		f.onSyncStart(out, p)
	case p.Type == TypeProposal && f.phase >= phaseSyncing && (!f.observer || f.phase == phaseSyncing):
		// Observers get PROPOSAL+COMMIT pairs only while syncing; INFORM after.
		f.onProposal(out, p)
	case p.Type == TypeCommit && f.phase >= phaseSyncing:
		f.onCommit(out, p.Zxid)
	case p.Type == TypeInform && f.observer && f.phase >= phaseNewLeader:
		e := ext.Entry{Zxid: p.Zxid, Data: p.Data}
		f.pending = append(f.pending, inflight{entry: e, committed: true, acked: true})
		out.add(Append{Entries: []ext.Entry{e}})
		if f.phase > phaseNewLeader {
			f.applyCommitted(out)
		}
	case p.Type == TypeNewLeader && f.phase == phaseSyncing:
		f.onNewLeader(out, p)
	case p.Type == TypeUpToDate && f.phase == phaseAwaitUpToDate:
		f.phase = phaseServing
		out.add(Serve{Epoch: f.newEpoch, State: f.role()})
		f.send(out, TypeAck, Zxid(f.newEpoch, 0), nil)
	case p.Type == TypePing && f.phase >= phaseSyncing, p.Type == TypeSync && f.phase >= phaseAwaitUpToDate,
		p.Type == TypeRevalidate && f.phase >= phaseSyncing:
		out.add(Deliver{From: f.leader, Type: p.Type, Zxid: p.Zxid, Data: p.Data})
	default:
		f.stepDown(out, fmt.Errorf("%w: %s(%#x) from leader %d while %s", ErrProtocol, TypeName(p.Type), p.Zxid, f.leader, f.phaseName()))
	}
}

func (f *Learner) role() ext.PeerState {
	if f.observer {
		return ext.Observing
	}
	return ext.Following
}

func (f *Learner) phaseName() string {
	return [...]string{"connecting", "awaiting sync", "syncing", "loading snapshot", "logging sync", "awaiting UPTODATE", "serving"}[f.phase]
}

// onLeaderInfo takes the new epoch (Learner.registerWithLeader): persist
// acceptedEpoch before acknowledging, answer -1 if it was already accepted,
// refuse an epoch below the accepted one.
func (f *Learner) onLeaderInfo(out *Output, p jute.QuorumPacket) {
	epoch := EpochOf(p.Zxid)
	cur := int32(f.state.CurrentEpoch)
	switch {
	case epoch > f.state.AcceptedEpoch:
		f.state.AcceptedEpoch = epoch
		out.add(SaveEpochs{Accepted: epoch, Current: f.state.CurrentEpoch})
	case epoch == f.state.AcceptedEpoch:
		cur = -1
	default:
		f.stepDown(out, fmt.Errorf("%w: leader %d proposed epoch %d, accepted is %d", ErrEpochRegressed, f.leader, epoch, f.state.AcceptedEpoch))
		return
	}
	f.newEpoch = epoch
	f.phase = phaseAwaitSync
	f.send(out, TypeAckEpoch, f.state.LastZxid, encodeInt(cur))
}

func (f *Learner) onSyncStart(out *Output, p jute.QuorumPacket) {
	f.phase = phaseSyncing
	switch p.Type {
	case TypeTrunc:
		out.add(Truncate{Zxid: p.Zxid})
		f.state.LastZxid = p.Zxid
		f.loggedZxid = p.Zxid
	case TypeSnap:
		f.phase = phaseAwaitSnap
		f.snapZxid = p.Zxid
		f.snapNeeded = true
		out.add(ExpectSnapshot{Zxid: p.Zxid})
	}
}

// SnapshotLoaded reports that the host replaced its state with the SNAP
// stream; packets that arrived meanwhile are processed now.
func (f *Learner) SnapshotLoaded(now time.Duration, zxid int64) Output {
	var out Output
	if f.stopped || f.phase != phaseAwaitSnap {
		return out
	}
	f.phase = phaseSyncing
	f.state.LastZxid = zxid
	f.loggedZxid = zxid
	queued := f.queued
	f.queued = nil
	for _, d := range queued {
		if f.stopped {
			break
		}
		f.step(now, &out, d)
	}
	out.WakeAt = f.wake()
	return out
}

func (f *Learner) onProposal(out *Output, p jute.QuorumPacket) {
	e := ext.Entry{Zxid: p.Zxid, Data: p.Data}
	prev := f.state.LastZxid
	if n := len(f.pending); n > 0 {
		prev = f.pending[n-1].entry.Zxid
	}
	// A leader proposes consecutive counters within an epoch, and sync
	// continues right after the learner's last zxid, so a jump within an
	// epoch means packets were lost (a transport that reconnected under
	// us). ZooKeeper only warns, trusting one TCP connection per role; a
	// hole in the log would silently lose txns, so resync instead.
	if e.Zxid <= prev || EpochOf(e.Zxid) == EpochOf(prev) && e.Zxid != prev+1 {
		f.stepDown(out, fmt.Errorf("%w: proposal %#x after %#x", ErrProtocol, e.Zxid, prev))
		return
	}
	f.pending = append(f.pending, inflight{entry: e})
	if f.phase >= phaseNewLeader {
		// After NEWLEADER the log takes proposals as they come; the ACK
		// follows durability (Logged).
		out.add(Append{Entries: []ext.Entry{e}})
	}
}

func (f *Learner) onCommit(out *Output, zxid int64) {
	for i := range f.pending {
		in := &f.pending[i]
		if in.committed {
			continue
		}
		if in.entry.Zxid != zxid {
			// Commits come strictly in proposal order (Follower.commit
			// exits on a mismatch): anything else is a broken stream.
			f.stepDown(out, fmt.Errorf("%w: COMMIT %#x but the next pending txn is %#x", ErrUnmatchedCommit, zxid, in.entry.Zxid))
			return
		}
		in.committed = true
		if f.phase > phaseNewLeader {
			f.applyCommitted(out)
		}
		return
	}
	f.stepDown(out, fmt.Errorf("%w: COMMIT %#x without its proposal", ErrUnmatchedCommit, zxid))
}

// onNewLeader finishes sync in the order that keeps acknowledged txns safe
// (ZOOKEEPER-4643/4646): snapshot a SNAP-synced state, log the sync txns,
// and only once they are durable persist currentEpoch and ACK.
func (f *Learner) onNewLeader(out *Output, p jute.QuorumPacket) {
	if EpochOf(p.Zxid) != f.newEpoch {
		f.stepDown(out, fmt.Errorf("%w: NEWLEADER %#x in epoch %d", ErrProtocol, p.Zxid, f.newEpoch))
		return
	}
	f.phase = phaseNewLeader
	if f.snapNeeded {
		out.add(TakeSnapshot{Zxid: f.snapZxid})
		f.snapNeeded = false
	}
	var toLog []ext.Entry
	for _, in := range f.pending {
		if in.entry.Zxid > f.loggedZxid {
			toLog = append(toLog, in.entry)
		}
	}
	if len(toLog) > 0 {
		f.syncTarget = toLog[len(toLog)-1].Zxid
		out.add(Append{Entries: toLog})
		return // finishNewLeader runs from Logged
	}
	f.finishNewLeader(out)
}

func (f *Learner) finishNewLeader(out *Output) {
	f.phase = phaseAwaitUpToDate
	f.state.CurrentEpoch = f.newEpoch
	out.add(SaveEpochs{Accepted: f.state.AcceptedEpoch, Current: f.newEpoch})
	f.send(out, TypeAck, Zxid(f.newEpoch, 0), nil)
	f.applyCommitted(out)
	f.ackLogged(out)
}

// Logged reports that the local log holds every txn up to zxid durably.
func (f *Learner) Logged(now time.Duration, zxid int64) Output {
	var out Output
	if f.stopped {
		return out
	}
	f.loggedZxid = max(f.loggedZxid, zxid)
	if f.phase == phaseNewLeader {
		if f.loggedZxid >= f.syncTarget {
			f.finishNewLeader(&out)
		}
	} else if f.phase > phaseNewLeader {
		f.ackLogged(&out)
		f.applyCommitted(&out)
	}
	out.WakeAt = f.wake()
	return out
}

// ackLogged ACKs every logged, unacknowledged proposal, oldest first.
func (f *Learner) ackLogged(out *Output) {
	for i := range f.pending {
		in := &f.pending[i]
		if in.entry.Zxid > f.loggedZxid {
			break
		}
		if !in.acked {
			in.acked = true
			if !f.observer && !in.committed {
				f.send(out, TypeAck, in.entry.Zxid, nil)
			}
		}
	}
}

// applyCommitted applies the committed prefix of pending. A follower may
// apply a txn before its own log has it: a quorum already logged it.
func (f *Learner) applyCommitted(out *Output) {
	n := 0
	for n < len(f.pending) && f.pending[n].committed {
		n++
	}
	if n == 0 {
		return
	}
	// An applied txn stays pending until it has been acked or is known
	// durable, so ACK bookkeeping keeps working; drop only what is both.
	entries := make([]ext.Entry, n)
	for i := 0; i < n; i++ {
		entries[i] = f.pending[i].entry
	}
	out.add(Apply{Entries: entries})
	f.state.LastZxid = entries[n-1].Zxid
	f.pending = append(f.pending[:0], f.pending[n:]...)
}

// ForwardRequest sends a client's write to the leader as REQUEST with the
// client connection's identities (the leader checks ACLs with them).
// Only a serving learner forwards.
func (f *Learner) ForwardRequest(now time.Duration, data []byte, auth []jute.Id) Output {
	var out Output
	if f.stopped || f.phase != phaseServing {
		return out
	}
	p := jute.QuorumPacket{Type: TypeRequest, Zxid: -1, Data: data, AuthInfo: auth}
	out.add(Send{To: f.leader, Type: TypeRequest, Zxid: -1, Data: jute.Marshal(&p)})
	out.WakeAt = f.wake()
	return out
}

// Forward sends a packet the host originates to the leader: REQUEST (a
// client write or sync), REVALIDATE, or a PING reply carrying session
// touches. Only a serving learner forwards requests.
func (f *Learner) Forward(now time.Duration, typ int32, zxid int64, data []byte) Output {
	var out Output
	if f.stopped {
		return out
	}
	if typ == TypeRequest && f.phase != phaseServing {
		return out
	}
	f.send(&out, typ, zxid, data)
	out.WakeAt = f.wake()
	return out
}
