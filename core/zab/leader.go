package zab

import (
	"fmt"
	"slices"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
)

// leaderPhase is where a leader is in Zab 1.0.
type leaderPhase int

const (
	phaseDiscovery leaderPhase = iota // collecting FOLLOWERINFO, then ACKEPOCH
	phaseSync                         // waiting for a quorum of NEWLEADER acks
	phaseBroadcast                    // serving
)

// learnerState is the leader's view of one connected learner
// (ZooKeeper's LearnerHandler, minus the thread).
type learnerState struct {
	sid           int64
	observer      bool
	acceptedEpoch int64
	// ackedEpoch is set once ACKEPOCH arrived; currentEpoch -1 means the
	// learner had already accepted this epoch (its ack does not count).
	ackedEpoch   bool
	currentEpoch int64
	lastZxid     int64
	// planned means its sync was queued and new proposals are forwarded.
	planned bool
	// newLeaderAcked means it logged the sync and took the new epoch.
	newLeaderAcked bool
	upToDate       bool
	deadline       time.Duration // of the next packet, else it is not synced
}

type proposal struct {
	entry ext.Entry
	acks  map[int64]bool
	at    time.Duration
}

type pendingSync struct {
	upTo  int64 // released once this zxid is committed
	from  int64 // learner to answer with SYNC, or 0 for the local host
	token int64
}

// Leader is the pure ZAB leader role. Create it with NewLeader after the
// election chose this server; feed it packets, timer ticks and local log
// progress; carry out the actions it returns.
type Leader struct {
	cfg   Config
	state State
	phase leaderPhase

	learners map[int64]*learnerState
	newEpoch int64
	epochSet bool // newEpoch chosen and persisted as acceptedEpoch

	committed    *committedLog
	outstanding  []*proposal // in zxid order
	lastProposed int64
	loggedZxid   int64
	syncs        []pendingSync

	phaseDeadline time.Duration
	nextPing      time.Duration
	tickCount     int
	stopped       bool
}

// NewLeader starts discovery. history is the tail of the leader's log (its
// whole history counts as committed in the new epoch), oldest first, ending
// at st.LastZxid; it may be shorter than Config.CommitLogCount or empty. It
// must have no holes: take it from the txns replayed after the newest
// snapshot, as ZooKeeper fills its committedLog, never from log entries
// older than that snapshot (after a SNAP sync the log jumps over what the
// snapshot holds, and a DIFF across that jump would skip txns).
func NewLeader(cfg Config, st State, history []ext.Entry, now time.Duration) (*Leader, Output) {
	cfg = cfg.withDefaults()
	l := &Leader{
		cfg:          cfg,
		state:        st,
		learners:     map[int64]*learnerState{},
		committed:    newCommittedLog(cfg.CommitLogCount, history, st.LastZxid),
		lastProposed: st.LastZxid,
		loggedZxid:   st.LastZxid,
	}
	l.phaseDeadline = now + time.Duration(cfg.InitLimit)*cfg.TickTime
	l.nextPing = now + cfg.TickTime/2
	var out Output
	// A one-member quorum (standalone-sized ensemble) needs nobody.
	l.tryChooseEpoch(now, &out)
	out.WakeAt = l.wake()
	return l, out
}

// Epoch is the epoch being established or served (0 before it is chosen).
func (l *Leader) Epoch() int64 { return l.newEpoch }

// Serving reports whether the leader has been established.
func (l *Leader) Serving() bool { return l.phase == phaseBroadcast && !l.stopped }

// LastCommitted is the last zxid committed by this leader.
func (l *Leader) LastCommitted() int64 { return l.committed.lastZxid }

// LastProposed is the last zxid proposed.
func (l *Leader) LastProposed() int64 { return l.lastProposed }

// Learners lists the connected learners and whether each is synced, for
// four-letter words (`mntr` zk_synced_followers).
func (l *Leader) Learners() (followers, synced, observers []int64) {
	for sid, ls := range l.learners {
		switch {
		case ls.observer:
			observers = append(observers, sid)
		default:
			followers = append(followers, sid)
			if ls.upToDate {
				synced = append(synced, sid)
			}
		}
	}
	slices.Sort(followers)
	slices.Sort(synced)
	slices.Sort(observers)
	return
}

func (l *Leader) wake() time.Duration {
	if l.stopped {
		return 0
	}
	if l.phase != phaseBroadcast && l.phaseDeadline < l.nextPing {
		return l.phaseDeadline
	}
	return l.nextPing
}

func (l *Leader) stepDown(out *Output, err error) {
	if l.stopped {
		return
	}
	l.stopped = true
	for sid := range l.learners {
		out.add(Disconnect{Peer: sid})
	}
	out.add(StepDown{Err: err})
}

func (l *Leader) send(out *Output, to int64, typ int32, zxid int64, data []byte) {
	out.add(Send{To: to, Type: typ, Zxid: zxid, Data: Encode(typ, zxid, data)})
}

// Step handles one packet from a learner.
func (l *Leader) Step(now time.Duration, from int64, data []byte) Output {
	var out Output
	if l.stopped {
		return out
	}
	p, err := Decode(data)
	if err != nil {
		// A learner that sends garbage is dropped, as LearnerHandler does.
		l.dropLearner(&out, from)
		out.WakeAt = l.wake()
		return out
	}
	ls := l.learners[from]
	if ls != nil {
		ls.deadline = now + time.Duration(l.cfg.SyncLimit)*l.cfg.TickTime
	}
	switch p.Type {
	case TypeFollowerInfo, TypeObserverInfo:
		l.onLearnerInfo(now, &out, from, p)
	case TypeAckEpoch:
		if ls == nil || !l.epochSet || ls.ackedEpoch {
			l.dropLearner(&out, from)
			break
		}
		l.onAckEpoch(now, &out, ls, p)
	case TypeAck:
		if ls == nil {
			break
		}
		l.onAck(now, &out, ls, p.Zxid)
	case TypePing, TypeRequest, TypeRevalidate:
		if ls == nil {
			l.dropLearner(&out, from)
			break
		}
		out.add(Deliver{From: from, Type: p.Type, Zxid: p.Zxid, Data: p.Data, Auth: p.AuthInfo})
	default:
		l.dropLearner(&out, from)
	}
	out.WakeAt = l.wake()
	return out
}

func (l *Leader) onLearnerInfo(now time.Duration, out *Output, from int64, p jute.QuorumPacket) {
	var info jute.LearnerInfo
	if err := jute.Unmarshal(p.Data, &info); err != nil || info.ServerID != from {
		l.dropLearner(out, from)
		return
	}
	observer := p.Type == TypeObserverInfo
	if (observer && !l.cfg.isObserver(from)) || (!observer && !l.cfg.isVoter(from)) || from == l.cfg.Self {
		// Not a member in that role: refuse rather than half-join.
		l.dropLearner(out, from)
		return
	}
	// A reconnecting learner starts over.
	ls := &learnerState{
		sid:           from,
		observer:      observer,
		acceptedEpoch: EpochOf(p.Zxid),
		deadline:      now + time.Duration(l.cfg.InitLimit+l.cfg.SyncLimit)*l.cfg.TickTime,
	}
	l.learners[from] = ls
	if l.epochSet {
		l.send(out, from, TypeLeaderInfo, Zxid(l.newEpoch, 0), encodeInt(ProtocolVersion))
		return
	}
	l.tryChooseEpoch(now, out)
}

// tryChooseEpoch picks the new epoch once a quorum (self included) has
// connected: one above every accepted epoch seen (Leader.getEpochToPropose).
func (l *Leader) tryChooseEpoch(now time.Duration, out *Output) {
	if l.epochSet {
		return
	}
	connected := map[int64]bool{l.cfg.Self: true}
	epoch := l.state.AcceptedEpoch
	for sid, ls := range l.learners {
		if !ls.observer {
			connected[sid] = true
			epoch = max(epoch, ls.acceptedEpoch)
		}
	}
	if !l.cfg.quorum(connected) {
		return
	}
	l.newEpoch = epoch + 1
	l.epochSet = true
	l.state.AcceptedEpoch = l.newEpoch
	out.add(SaveEpochs{Accepted: l.newEpoch, Current: l.state.CurrentEpoch})
	for _, sid := range l.sortedLearners() {
		l.send(out, sid, TypeLeaderInfo, Zxid(l.newEpoch, 0), encodeInt(ProtocolVersion))
	}
	l.phaseDeadline = now + time.Duration(l.cfg.InitLimit)*l.cfg.TickTime
	l.tryEpochQuorum(now, out)
}

func (l *Leader) sortedLearners() []int64 {
	ids := make([]int64, 0, len(l.learners))
	for sid := range l.learners {
		ids = append(ids, sid)
	}
	slices.Sort(ids)
	return ids
}

func (l *Leader) onAckEpoch(now time.Duration, out *Output, ls *learnerState, p jute.QuorumPacket) {
	cur, err := decodeInt(p.Data)
	if err != nil {
		l.dropLearner(out, ls.sid)
		return
	}
	ls.ackedEpoch = true
	ls.currentEpoch = int64(cur)
	ls.lastZxid = p.Zxid
	// The kernel's guard (Leader.waitForEpochAck): a would-be leader whose
	// follower has a newer (currentEpoch, lastZxid) must not lead, whatever
	// the election algorithm decided.
	if cur != -1 && !ls.observer && moreRecent(int64(cur), p.Zxid, l.state.CurrentEpoch, l.state.LastZxid) {
		l.stepDown(out, fmt.Errorf("%w: server %d has (epoch %d, zxid %#x), leader has (epoch %d, zxid %#x)",
			ErrFollowerAhead, ls.sid, cur, p.Zxid, l.state.CurrentEpoch, l.state.LastZxid))
		return
	}
	if l.phase == phaseDiscovery {
		l.tryEpochQuorum(now, out)
		return
	}
	l.planLearner(now, out, ls)
}

func moreRecent(epoch, zxid, thanEpoch, thanZxid int64) bool {
	return epoch > thanEpoch || (epoch == thanEpoch && zxid > thanZxid)
}

// tryEpochQuorum moves to sync once a quorum acked the new epoch: persist
// currentEpoch, then sync every learner that has acked.
func (l *Leader) tryEpochQuorum(now time.Duration, out *Output) {
	if l.phase != phaseDiscovery || !l.epochSet || l.stopped {
		return
	}
	acked := map[int64]bool{l.cfg.Self: true}
	for sid, ls := range l.learners {
		if ls.ackedEpoch && ls.currentEpoch != -1 && !ls.observer {
			acked[sid] = true
		}
	}
	if !l.cfg.quorum(acked) {
		return
	}
	l.state.CurrentEpoch = l.newEpoch
	out.add(SaveEpochs{Accepted: l.newEpoch, Current: l.newEpoch})
	l.phase = phaseSync
	l.phaseDeadline = now + time.Duration(l.cfg.InitLimit)*l.cfg.TickTime
	for _, sid := range l.sortedLearners() {
		if ls := l.learners[sid]; ls.ackedEpoch {
			l.planLearner(now, out, ls)
		}
	}
	l.tryNewLeaderQuorum(now, out)
}

// planLearner queues a learner's synchronisation, the proposals still in
// flight, and NEWLEADER; from here on it receives every new proposal.
func (l *Leader) planLearner(now time.Duration, out *Output, ls *learnerState) {
	if ls.planned {
		return
	}
	ls.planned = true
	plan := l.committed.planSync(ls.lastZxid, l.cfg.ForceSnap)
	l.send(out, ls.sid, int32(plan.kind), plan.zxid, nil)
	if plan.kind == syncSnap {
		out.add(SendSnapshot{To: ls.sid, Zxid: plan.zxid})
	}
	for _, e := range plan.txns {
		l.send(out, ls.sid, TypeProposal, e.Zxid, e.Data)
		l.send(out, ls.sid, TypeCommit, e.Zxid, nil)
	}
	if !ls.observer {
		for _, p := range l.outstanding {
			l.send(out, ls.sid, TypeProposal, p.entry.Zxid, p.entry.Data)
		}
	}
	l.send(out, ls.sid, TypeNewLeader, Zxid(l.newEpoch, 0), nil)
}

func (l *Leader) onAck(now time.Duration, out *Output, ls *learnerState, zxid int64) {
	if CounterOf(zxid) == 0 {
		// ACK of NEWLEADER (or of UPTODATE, which needs nothing).
		if !ls.planned || zxid != Zxid(l.newEpoch, 0) {
			return
		}
		if !ls.newLeaderAcked {
			ls.newLeaderAcked = true
			if l.phase == phaseBroadcast {
				ls.upToDate = true
				l.send(out, ls.sid, TypeUpToDate, -1, nil)
			} else {
				l.tryNewLeaderQuorum(now, out)
			}
		}
		return
	}
	if ls.observer || !ls.planned {
		return
	}
	for _, p := range l.outstanding {
		if p.entry.Zxid == zxid {
			p.acks[ls.sid] = true
			break
		}
	}
	l.tryCommit(now, out)
}

func (l *Leader) tryNewLeaderQuorum(now time.Duration, out *Output) {
	if l.phase != phaseSync || l.stopped {
		return
	}
	acked := map[int64]bool{l.cfg.Self: true}
	for sid, ls := range l.learners {
		if ls.newLeaderAcked && !ls.observer {
			acked[sid] = true
		}
	}
	if !l.cfg.quorum(acked) {
		return
	}
	l.phase = phaseBroadcast
	out.add(Serve{Epoch: l.newEpoch, State: ext.Leading})
	for _, sid := range l.sortedLearners() {
		if ls := l.learners[sid]; ls.newLeaderAcked {
			ls.upToDate = true
			l.send(out, sid, TypeUpToDate, -1, nil)
		}
	}
}

// Propose broadcasts txns prepared by the host (zxids already assigned, in
// order, in this epoch) and asks the host to log them. It refuses with
// ErrNotLeading before Serve, and steps down instead of proposing the last
// zxid of an epoch (ZooKeeper's rollover rule), so the next epoch starts.
func (l *Leader) Propose(now time.Duration, entries []ext.Entry) (Output, error) {
	var out Output
	if !l.Serving() {
		return out, ErrNotLeading
	}
	for i, e := range entries {
		if EpochOf(e.Zxid) != l.newEpoch || e.Zxid <= l.lastProposed {
			return out, fmt.Errorf("%w: proposal %#x after %#x in epoch %d", ErrProtocol, e.Zxid, l.lastProposed, l.newEpoch)
		}
		if CounterOf(e.Zxid) == 0xffffffff {
			if i > 0 {
				l.propose(now, &out, entries[:i])
			}
			l.stepDown(&out, ErrZxidRollover)
			out.WakeAt = l.wake()
			return out, ErrZxidRollover
		}
	}
	l.propose(now, &out, entries)
	out.WakeAt = l.wake()
	return out, nil
}

func (l *Leader) propose(now time.Duration, out *Output, entries []ext.Entry) {
	ids := l.sortedLearners()
	for _, e := range entries {
		pkt := Encode(TypeProposal, e.Zxid, e.Data)
		for _, sid := range ids {
			if ls := l.learners[sid]; ls.planned && !ls.observer {
				out.add(Send{To: sid, Type: TypeProposal, Zxid: e.Zxid, Data: pkt})
			}
		}
		l.outstanding = append(l.outstanding, &proposal{entry: e, acks: map[int64]bool{}, at: now})
		l.lastProposed = e.Zxid
	}
	out.add(Append{Entries: entries})
}

// Logged reports that the local log holds every txn up to zxid durably:
// the leader's own ACK.
func (l *Leader) Logged(now time.Duration, zxid int64) Output {
	var out Output
	if l.stopped {
		return out
	}
	l.loggedZxid = max(l.loggedZxid, zxid)
	for _, p := range l.outstanding {
		if p.entry.Zxid <= zxid {
			p.acks[l.cfg.Self] = true
		}
	}
	l.tryCommit(now, &out)
	out.WakeAt = l.wake()
	return out
}

// tryCommit commits outstanding proposals in zxid order while the oldest
// has a quorum of acks (a later one never commits before an earlier one).
func (l *Leader) tryCommit(now time.Duration, out *Output) {
	n := 0
	for n < len(l.outstanding) && l.cfg.quorum(l.outstanding[n].acks) {
		n++
	}
	if n == 0 {
		return
	}
	done := l.outstanding[:n]
	entries := make([]ext.Entry, n)
	ids := l.sortedLearners()
	for i, p := range done {
		e := p.entry
		entries[i] = e
		l.committed.add(e)
		commit := Encode(TypeCommit, e.Zxid, nil)
		var inform []byte
		for _, sid := range ids {
			ls := l.learners[sid]
			if !ls.planned {
				continue
			}
			if ls.observer {
				if inform == nil {
					inform = Encode(TypeInform, e.Zxid, e.Data)
				}
				out.add(Send{To: sid, Type: TypeInform, Zxid: e.Zxid, Data: inform})
			} else {
				out.add(Send{To: sid, Type: TypeCommit, Zxid: e.Zxid, Data: commit})
			}
		}
	}
	l.outstanding = append(l.outstanding[:0], l.outstanding[n:]...)
	out.add(Apply{Entries: entries})
	l.releaseSyncs(out)
}

// Sync orders a `sync`: it completes once everything proposed so far, and
// everything up to prepared (txns the host prepared but has not proposed
// yet: they are on their way), is committed. from is the learner that
// forwarded it (answered with a SYNC packet) or 0 for a client of this
// server (answered with SyncDone).
func (l *Leader) Sync(now time.Duration, from, token, prepared int64) Output {
	var out Output
	if l.stopped {
		return out
	}
	l.syncs = append(l.syncs, pendingSync{upTo: max(l.lastProposed, prepared), from: from, token: token})
	l.releaseSyncs(&out)
	out.WakeAt = l.wake()
	return out
}

func (l *Leader) releaseSyncs(out *Output) {
	n := 0
	for n < len(l.syncs) && l.syncs[n].upTo <= l.committed.lastZxid {
		s := l.syncs[n]
		if s.from == 0 || s.from == l.cfg.Self {
			out.add(SyncDone{Token: s.token})
		} else if _, ok := l.learners[s.from]; ok {
			l.send(out, s.from, TypeSync, 0, nil)
		}
		n++
	}
	l.syncs = append(l.syncs[:0], l.syncs[n:]...)
}

// Abdicate steps down for a reason the host found (a stalled disk): the
// learners are disconnected at once so they elect another leader instead
// of waiting for this one's pings to stop.
func (l *Leader) Abdicate(now time.Duration, err error) Output {
	var out Output
	l.stepDown(&out, err)
	return out
}

// PeerDown reports that the broadcast link to a learner closed.
func (l *Leader) PeerDown(now time.Duration, peer int64) Output {
	var out Output
	if l.stopped {
		return out
	}
	delete(l.learners, peer)
	out.WakeAt = l.wake()
	return out
}

func (l *Leader) dropLearner(out *Output, sid int64) {
	delete(l.learners, sid)
	out.add(Disconnect{Peer: sid})
}

// Tick runs the leader's timers: phase deadlines in discovery and sync,
// and every half tick a PING to each learner; every tick the leader needs a
// quorum of synced followers or it steps down (Leader.lead's loop).
func (l *Leader) Tick(now time.Duration) Output {
	var out Output
	if l.stopped {
		return out
	}
	if l.phase != phaseBroadcast && now >= l.phaseDeadline {
		what := "FOLLOWERINFO"
		if l.epochSet && l.phase == phaseDiscovery {
			what = "ACKEPOCH"
		} else if l.phase == phaseSync {
			what = "NEWLEADER ACK"
		}
		l.stepDown(&out, fmt.Errorf("%w: no quorum of %s within initLimit (%d ticks)", ErrTimeout, what, l.cfg.InitLimit))
		return out
	}
	if now >= l.nextPing {
		l.nextPing = now + l.cfg.TickTime/2
		l.tickCount++
		if l.phase == phaseBroadcast {
			if l.tickCount%2 == 0 {
				synced := map[int64]bool{l.cfg.Self: true}
				for sid, ls := range l.learners {
					if ls.upToDate && now < ls.deadline {
						synced[sid] = true
					}
				}
				if !l.cfg.quorum(synced) {
					l.stepDown(&out, fmt.Errorf("%w: fewer than a quorum of followers answered within syncLimit", ErrNoQuorum))
					return out
				}
			}
			l.dropLaggards(now, &out)
			ping := Encode(TypePing, l.lastProposed, nil)
			for _, sid := range l.sortedLearners() {
				if l.learners[sid].planned {
					out.add(Send{To: sid, Type: TypePing, Zxid: l.lastProposed, Data: ping})
				}
			}
		}
	}
	out.WakeAt = l.wake()
	return out
}

// dropLaggards disconnects followers that have not acknowledged a proposal
// older than syncLimit ticks: they hold the commit quorum hostage.
func (l *Leader) dropLaggards(now time.Duration, out *Output) {
	if len(l.outstanding) == 0 {
		return
	}
	oldest := l.outstanding[0]
	if now-oldest.at < time.Duration(l.cfg.SyncLimit)*l.cfg.TickTime {
		return
	}
	for _, sid := range l.sortedLearners() {
		ls := l.learners[sid]
		if ls.upToDate && !ls.observer && !oldest.acks[sid] {
			l.dropLearner(out, sid)
		}
	}
}
