// Package fle is ZooKeeper's Fast Leader Election (module election.fle) as
// a pure state machine behind ext.Election: the host delivers messages and
// timer ticks, FLE answers with notifications to send, a vote to persist
// and, at the end of a round, the decided leader. It speaks ZooKeeper's
// notification format, so it can run in one ensemble with Java peers.
//
// The algorithm is FastLeaderElection.lookForLeader and its receiver
// thread folded into one sequential machine (spec §5.3). Where Java's
// threads and queues allowed several orders, this package takes one that
// Java can also produce:
//
//   - a notification to itself (Java loops it through its own receive
//     queue) is processed right after the message that caused it, before
//     the call returns;
//   - the receive queue holds at most the message being handled, so
//     "a better notification goes back on the queue" means "is handled
//     now";
//   - a silent poll always re-sends the vote (Java reconnects instead if
//     its send queues are not drained; reconnecting is the transport's
//     job here).
//
// Deliberate differences: a member is a voter only if it is no observer
// and has a weight above 0 (Java counts a weight-0 participant among the
// voting members but never elects it nor counts its ack); a non-voter is
// answered with its current proposal while looking, not with the last
// decided vote; a received config text is not acted on (zabkit has no
// reconfig).
package fle

import (
	"bytes"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// ballot is a vote as recorded in recvset or outofelection, with what
// Java's Vote.equals looks at besides the vote.
type ballot struct {
	vote    ext.Vote
	state   ext.PeerState
	version int32
}

// same is Java's Vote.equals: looking votes compare all four fields;
// others compare leader and peer epoch, or only the leader when one side
// is a version-0 vote and the other is not (a mixed-version ensemble).
func (a ballot) same(b ballot) bool {
	if a.state == ext.Looking || b.state == ext.Looking {
		return a.vote == b.vote
	}
	if (a.version > 0) != (b.version > 0) {
		return a.vote.Leader == b.vote.Leader
	}
	return a.vote.Leader == b.vote.Leader && a.vote.PeerEpoch == b.vote.PeerEpoch
}

// Election is one server's FLE instance. It is not safe for concurrent
// use: the host serialises calls, as it must for any ext.Election.
type Election struct {
	opts   Options
	self   int64
	m      Membership // voters in sorted order: the order notifications go out in
	config []byte     // membership text carried by every notification

	started bool
	state   ext.PeerState
	round   int64    // the logical clock
	initial ext.Vote // this round's own vote (MIN values for a non-voter)
	// proposal is the vote this server pushes while looking; its
	// ElectionEpoch is unused (the round is e.round).
	proposal ext.Vote
	// decided is the vote of the last decision; ElectionEpoch is the round
	// won, PeerEpoch follows Established.
	decided ext.Vote

	recvset       map[int64]ballot // votes of this round
	outofelection map[int64]ballot // FOLLOWING/LEADING votes of any round

	notTimeout time.Duration // current poll interval (doubles when silent)
	pollAt     time.Duration // when a silent poll ends
	finalizing bool          // a quorum backs the proposal; waiting finalizeWait
	finalizeAt time.Duration

	selfq     []Notification // notifications to self, handled before returning
	persisted []byte         // the last vote record handed out
	out       ext.ElectionOutput
}

var _ ext.Election = (*Election)(nil)

func newElection(opts Options, cfg ext.ElectionConfig) (*Election, error) {
	m, err := NewMembership(cfg)
	if err != nil {
		return nil, err
	}
	return &Election{
		opts:          opts,
		self:          cfg.Self,
		m:             m,
		config:        ConfigText(cfg.Members),
		state:         ext.Looking,
		recvset:       map[int64]ballot{},
		outofelection: map[int64]ballot{},
	}, nil
}

// Start begins a round: bump the logical clock (past a persisted one),
// propose myself and tell every voter.
func (e *Election) Start(now time.Duration, r ext.RoundStart) ext.ElectionOutput {
	if _, v, err := DecodeVote(r.LastVote); err == nil && v.ElectionEpoch > e.round {
		e.round = v.ElectionEpoch
	}
	e.round++
	e.started = true
	e.state = ext.Looking
	if e.m.IsVoter(e.self) {
		e.initial = ext.Vote{Leader: e.self, Zxid: r.LastZxid, PeerEpoch: r.CurrentEpoch}
	} else {
		e.initial = ext.Vote{Leader: minVote, Zxid: minVote, PeerEpoch: minVote}
	}
	e.proposal = e.initial
	clear(e.recvset)
	clear(e.outofelection)
	e.selfq = e.selfq[:0]
	e.finalizing = false
	e.notTimeout = e.opts.MinNotificationInterval
	e.pollAt = now + e.notTimeout
	e.sendNotifications()
	e.drain(now)
	return e.output()
}

// Step handles one message from a peer.
func (e *Election) Step(now time.Duration, from int64, msg []byte) ext.ElectionOutput {
	if !e.started {
		return e.output()
	}
	n, err := Decode(msg)
	if err != nil {
		return e.output()
	}
	e.receive(now, from, n)
	e.drain(now)
	return e.output()
}

// Tick runs the timers: the end of the finalize wait (decide) or of a
// silent poll (re-send, back off).
func (e *Election) Tick(now time.Duration) ext.ElectionOutput {
	if !e.started || e.state != ext.Looking {
		return e.output()
	}
	switch {
	case e.finalizing && now >= e.finalizeAt:
		e.decide(e.proposalVote())
	case !e.finalizing && now >= e.pollAt:
		e.sendNotifications()
		e.notTimeout = min(2*e.notTimeout, e.opts.MaxNotificationInterval)
		e.pollAt = now + e.notTimeout
		e.drain(now)
	}
	return e.output()
}

// Established records the epoch the leader settled on in discovery, so
// that the replies to looking peers carry it (Java's updateElectionVote).
// state must be the role decided; a call while looking is ignored.
func (e *Election) Established(now time.Duration, state ext.PeerState, epoch int64) ext.ElectionOutput {
	if e.started && e.state != ext.Looking && state == e.state {
		e.decided.PeerEpoch = epoch
	}
	return e.output()
}

// SetFinalizeWait changes the finalize wait for every wait that starts
// from now on (one already running keeps its end). Variants that tune the
// wait at run time, such as election/fleadaptive, call it; d <= 0 is
// ignored.
func (e *Election) SetFinalizeWait(d time.Duration) {
	if d > 0 {
		e.opts.FinalizeWait = d
	}
}

// SetMinNotificationInterval changes the first re-send interval of the
// rounds that start from now on (each Start restarts the doubling from
// it), and shortens the current interval to d if it is longer; the poll
// under way keeps its end. Variants that tune it at run time call it;
// d <= 0 or above MaxNotificationInterval is ignored.
func (e *Election) SetMinNotificationInterval(d time.Duration) {
	if d > 0 && d <= e.opts.MaxNotificationInterval {
		e.opts.MinNotificationInterval = d
		e.notTimeout = min(e.notTimeout, d)
	}
}

// State is the current role and vote (the proposal while looking).
func (e *Election) State() (ext.PeerState, ext.Vote) { return e.state, e.vote() }

// vote is what this server answers with: the proposal in the current
// round while looking, else the decided vote.
func (e *Election) vote() ext.Vote {
	if e.state == ext.Looking {
		return e.proposalVote()
	}
	return e.decided
}

func (e *Election) proposalVote() ext.Vote {
	v := e.proposal
	v.ElectionEpoch = e.round
	return v
}

// receive is Java's WorkerReceiver: answer whoever needs an answer, and
// while looking hand the notification to the election loop.
func (e *Election) receive(now time.Duration, from int64, n Notification) {
	if !e.m.IsVoter(from) {
		if from != e.self {
			e.send(from, e.state, e.vote())
		}
		return
	}
	if n.State < ext.Looking || n.State > ext.Observing {
		return
	}
	if e.state == ext.Looking {
		if n.State == ext.Looking && n.ElectionEpoch < e.round {
			e.send(from, ext.Looking, e.proposalVote())
		}
		e.loop(now, from, n)
		return
	}
	if n.State == ext.Looking {
		e.send(from, e.state, e.decided)
	}
}

// loop is one iteration of lookForLeader for a notification from a voter.
func (e *Election) loop(now time.Duration, from int64, n Notification) {
	if e.finalizing {
		if !e.better(n.Vote(), e.proposal) {
			e.finalizeAt = now + e.opts.FinalizeWait
			return
		}
		e.finalizing = false
	}
	e.pollAt = now + e.notTimeout
	if !e.m.IsVoter(n.Leader) {
		return
	}
	switch n.State {
	case ext.Looking:
		if e.initial.Zxid == -1 || n.Zxid == -1 {
			return // a database that did not load must not elect or be elected
		}
		switch {
		case n.ElectionEpoch > e.round:
			e.round = n.ElectionEpoch
			clear(e.recvset)
			e.proposal = e.initial
			if e.better(n.Vote(), e.initial) {
				e.proposal = n.Vote()
			}
			e.sendNotifications()
		case n.ElectionEpoch < e.round:
			return
		case e.better(n.Vote(), e.proposal):
			e.proposal = n.Vote()
			e.sendNotifications()
		}
		e.recvset[from] = ballot{vote: n.Vote(), state: ext.Looking}
		if e.quorum(e.recvset, ballot{vote: e.proposalVote(), state: ext.Looking}) {
			e.finalizing = true
			e.finalizeAt = now + e.opts.FinalizeWait
		}
	case ext.Following, ext.Leading:
		b := ballot{vote: n.Vote(), state: n.State, version: n.Version}
		if n.ElectionEpoch == e.round {
			e.recvset[from] = ballot{vote: n.Vote(), state: n.State}
			if e.quorum(e.recvset, b) && e.checkLeader(e.recvset, n.Leader, n.ElectionEpoch) {
				e.decide(n.Vote())
				return
			}
		}
		// A server that arrives late learns the leader from those that
		// already follow it (ZOOKEEPER-1732: this set holds this round's
		// FOLLOWING/LEADING votes as well).
		e.outofelection[from] = b
		if e.quorum(e.outofelection, b) && e.checkLeader(e.outofelection, n.Leader, n.ElectionEpoch) {
			e.round = n.ElectionEpoch
			e.decide(n.Vote())
		}
	}
}

// better is totalOrderPredicate: a candidate that can lead, with a higher
// (peerEpoch, zxid, sid).
func (e *Election) better(n, cur ext.Vote) bool {
	return e.m.IsVoter(n.Leader) && CompareVotes(n, cur) > 0
}

// quorum reports whether the voters whose recorded vote equals target
// carry more than half of the voters' weight.
func (e *Election) quorum(set map[int64]ballot, target ballot) bool {
	var acks int64
	for id, b := range set {
		if b.same(target) {
			acks += e.m.Weights[id]
		}
	}
	return e.m.Quorum(acks)
}

// checkLeader keeps a quorum from electing a leader that is gone: unless
// the leader is me (and I won this very round), the leader itself must
// have said it is LEADING.
func (e *Election) checkLeader(set map[int64]ballot, leader, round int64) bool {
	if leader != e.self {
		b, ok := set[leader]
		return ok && b.state == ext.Leading
	}
	return e.round == round
}

func (e *Election) decide(v ext.Vote) {
	e.state = e.m.Learner
	if v.Leader == e.self {
		e.state = ext.Leading
	}
	e.decided = v
	e.finalizing = false
	clear(e.recvset)
	clear(e.outofelection)
	e.selfq = e.selfq[:0]
	e.out.Decided = &ext.Decision{State: e.state, Vote: v}
}

// sendNotifications tells every voter (myself included) my proposal.
func (e *Election) sendNotifications() {
	for _, id := range e.m.Voters {
		e.send(id, ext.Looking, e.proposalVote())
	}
}

func (e *Election) send(to int64, state ext.PeerState, v ext.Vote) {
	n := Notification{
		State: state, Leader: v.Leader, Zxid: v.Zxid, ElectionEpoch: v.ElectionEpoch, PeerEpoch: v.PeerEpoch,
		Version: CurrentVersion, Config: e.config,
	}
	if to == e.self {
		e.selfq = append(e.selfq, n)
		return
	}
	e.out.Send = append(e.out.Send, ext.Outgoing{To: to, Data: n.Encode()})
}

// drain handles notifications to self, which may queue more.
func (e *Election) drain(now time.Duration) {
	for len(e.selfq) > 0 {
		n := e.selfq[0]
		e.selfq = e.selfq[1:]
		e.receive(now, e.self, n)
	}
}

// output hands out what the call produced: the vote record if it changed
// (persisted before the sends go out), and the next timer while looking.
func (e *Election) output() ext.ElectionOutput {
	out := e.out
	e.out = ext.ElectionOutput{}
	if !e.started {
		return out
	}
	if rec := EncodeVote(e.state, e.vote()); !bytes.Equal(rec, e.persisted) {
		e.persisted = rec
		out.PersistVote = rec
	}
	if e.state == ext.Looking {
		out.WakeAt = e.pollAt
		if e.finalizing {
			out.WakeAt = e.finalizeAt
		}
	}
	return out
}
