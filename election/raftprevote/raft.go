// Package raftprevote is election.raftprevote: Raft's leader election
// (randomised timeouts, terms, one vote per term, votes only for a
// candidate at least as up to date) with Raft's pre-vote round, as an
// ext.Election for the ZAB kernel.
//
// Hypothesis. FLE has every looking server tell every other its vote,
// again each time it adopts a better one: O(n²) notifications per round.
// Here one server at a time asks and the others answer: about 4(n-1)
// requests and replies plus one announcement to n-1 servers, so
// elections should cost fewer messages, at a time to leader set by the
// randomised timeout (Raft's 150–300 ms against FLE's fixed 200 ms wait).
// Pre-vote should keep a server that was cut off from disrupting a
// working leader when it comes back: it cannot raise its term without a
// quorum of looking servers that would vote for it, and servers with a
// leader never do.
//
// The rules, in ZAB's terms:
//
//   - "Up to date" is ZAB's order on histories, (currentEpoch, last zxid)
//     (fle.CompareVotes without the sid). A server whose database did not
//     load (last zxid -1) never campaigns nor votes, as in FLE.
//   - A looking server waits a random timeout, then asks every voter for
//     a pre-vote for term+1. A looking voter grants it if it would grant
//     the real vote: the term is new to it (or it already voted for the
//     asker in it) and the asker is at least as up to date. A server with
//     a leader grants nothing. With a quorum of grants (by weight,
//     counting itself) it becomes a candidate: term+1, votes for itself,
//     asks for votes; a quorum makes it LEADING, and it announces itself
//     to every member. Without one, the next timeout starts over.
//   - A looking server follows an announcement only from the leader
//     itself: at once if the leader has finished discovery (its epoch is
//     settled; the kernel syncs or truncates the follower), else only if
//     the leader is in this term or later and at least as up to date as
//     itself. A server that is ahead of a leader in discovery therefore
//     stays out of it, and ZAB's guard (a leader steps down when a
//     follower in discovery is ahead) does not fire; it joins once the
//     leader is established, answering its next pre-vote.
//   - A leader answers every request with its announcement; followers
//     answer nothing (they are not authoritative, and it saves messages).
//     Observers and weight-0 members never campaign: their pre-vote is a
//     question only the leader answers.
//   - The term and the vote in it are persisted (PersistVote) before any
//     message that depends on them leaves, so a restarted server never
//     votes twice in a term: at most one leader per term (decisions carry
//     the term as Vote.ElectionEpoch).
//
// Messages have their own format (message.go) and cannot be mistaken for
// FLE's or fleadaptive's.
package raftprevote

import (
	"bytes"
	"math/rand/v2"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/election/fle"
)

// phase is where a looking server is in its attempt.
type phase uint8

const (
	waiting      phase = iota // until the timeout
	preCandidate              // pre-votes asked for term+1
	candidate                 // votes asked for term
)

// Election is one server's instance. Like every ext.Election it is not
// safe for concurrent use.
type Election struct {
	opts    Options
	m       fle.Membership
	members []int64 // everyone but self, in config order
	rng     *rand.Rand

	started bool
	state   ext.PeerState
	phase   phase
	rec     Record   // term and vote, persisted
	hist    ext.Vote // own history: Leader self, Zxid, PeerEpoch
	dbOK    bool     // the database loaded (last zxid is not -1)
	grants  map[int64]bool
	timer   time.Duration // the timeout while looking

	decided     ext.Vote // Leader, Zxid, ElectionEpoch = term, PeerEpoch
	established bool

	persisted []byte
	out       ext.ElectionOutput
}

var _ ext.Election = (*Election)(nil)

func newElection(opts Options, cfg ext.ElectionConfig) (*Election, error) {
	m, err := fle.NewMembership(cfg)
	if err != nil {
		return nil, err
	}
	e := &Election{
		opts:   opts,
		m:      m,
		rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), 0x4aF7)),
		state:  ext.Looking,
		grants: map[int64]bool{},
	}
	for _, mb := range cfg.Members {
		if mb.ID != cfg.Self {
			e.members = append(e.members, mb.ID)
		}
	}
	return e, nil
}

// canRun reports whether this server may campaign and vote.
func (e *Election) canRun() bool { return e.m.IsVoter(e.m.Self) && e.dbOK }

// Start makes the server look for a leader: resume the persisted term,
// then wait a random timeout.
func (e *Election) Start(now time.Duration, r ext.RoundStart) ext.ElectionOutput {
	if rec, err := DecodeRecord(r.LastVote); err == nil && rec.Term > e.rec.Term {
		e.rec = rec
	}
	e.started = true
	e.state = ext.Looking
	e.hist = ext.Vote{Leader: e.m.Self, Zxid: r.LastZxid, PeerEpoch: r.CurrentEpoch}
	e.dbOK = r.LastZxid != -1
	e.established = false
	e.wait(now)
	return e.output()
}

// Step handles one message.
func (e *Election) Step(now time.Duration, from int64, data []byte) ext.ElectionOutput {
	msg, err := Decode(data)
	if !e.started || err != nil || from == e.m.Self || !e.member(from) {
		return e.output()
	}
	if msg.Term > e.rec.Term {
		// A newer term exists: adopt it (with no vote in it). A looking
		// server's attempt in an older term is over. The role of a
		// decided server is the kernel's business and does not change.
		e.rec = Record{Term: msg.Term}
		if e.state == ext.Looking && e.phase != waiting {
			e.phase = waiting
		}
	}
	switch msg.Kind {
	case KindPreVote, KindVote:
		e.request(now, from, msg)
	case KindPreVoteReply:
		if e.state == ext.Looking && e.phase == preCandidate && msg.Ask == e.rec.Term+1 && msg.Granted {
			e.grant(now, from)
		}
	case KindVoteReply:
		if e.state == ext.Looking && e.phase == candidate && msg.Ask == e.rec.Term && msg.Granted {
			e.grant(now, from)
		}
	case KindLeader:
		e.announcement(from, msg)
	}
	return e.output()
}

func (e *Election) member(id int64) bool {
	for _, m := range e.members {
		if m == id {
			return true
		}
	}
	return false
}

// request answers a pre-vote or vote request.
func (e *Election) request(now time.Duration, from int64, msg Message) {
	if e.state == ext.Leading {
		e.announce(from)
		return
	}
	if e.state != ext.Looking || !e.m.IsVoter(from) {
		return // a follower is not authoritative; non-voters only ask the leader
	}
	ok := e.canRun() && msg.Vote.Zxid != -1 && e.upToDate(msg.Vote) &&
		(msg.Ask > e.rec.Term || msg.Ask == e.rec.Term && (!e.rec.Voted || e.rec.VotedFor == from))
	reply := Message{Kind: KindPreVoteReply, State: e.state, Term: e.rec.Term, Ask: msg.Ask, Granted: ok}
	if msg.Kind == KindVote {
		reply.Kind = KindVoteReply
		if ok {
			e.rec.Voted, e.rec.VotedFor = true, from
			e.phase = waiting
			e.timer = now + e.timeout() // Raft: granting a vote restarts the timer
		}
	}
	e.send(from, reply)
}

// upToDate reports whether a candidate's history is at least this
// server's.
func (e *Election) upToDate(cand ext.Vote) bool {
	return fle.CompareVotes(ext.Vote{Zxid: cand.Zxid, PeerEpoch: cand.PeerEpoch}, ext.Vote{Zxid: e.hist.Zxid, PeerEpoch: e.hist.PeerEpoch}) >= 0
}

// grant counts a granted pre-vote or vote and moves on with a quorum.
func (e *Election) grant(now time.Duration, from int64) {
	if !e.m.IsVoter(from) {
		return
	}
	e.grants[from] = true
	if !e.quorum() {
		return
	}
	if e.phase == preCandidate {
		e.campaign(now)
	} else {
		e.lead()
	}
}

func (e *Election) quorum() bool {
	var w int64
	for id := range e.grants {
		w += e.m.Weights[id]
	}
	return e.m.Quorum(w)
}

// announcement follows a leader that says it leads (see the package doc
// for when).
func (e *Election) announcement(from int64, msg Message) {
	v := msg.Vote
	if e.state != ext.Looking || msg.State != ext.Leading || v.Leader != from || !e.m.IsVoter(from) {
		return
	}
	if !msg.Established && (v.ElectionEpoch < e.rec.Term || !e.upToDate(v)) {
		return
	}
	if v.ElectionEpoch > e.rec.Term {
		e.rec = Record{Term: v.ElectionEpoch}
	}
	e.decide(e.m.Learner, v)
	e.established = msg.Established
}

// Tick runs the timeout: start an attempt (pre-vote or, without
// pre-vote, the vote itself), or for a server that may not campaign ask
// who leads.
func (e *Election) Tick(now time.Duration) ext.ElectionOutput {
	if !e.started || e.state != ext.Looking || now < e.timer {
		return e.output()
	}
	e.timer = now + e.timeout()
	clear(e.grants)
	switch {
	case !e.canRun():
		e.phase = waiting
		e.broadcast(Message{Kind: KindPreVote, Ask: e.rec.Term + 1, Vote: e.hist})
	case e.opts.PreVote:
		e.phase = preCandidate
		e.grants[e.m.Self] = true
		e.broadcast(Message{Kind: KindPreVote, Ask: e.rec.Term + 1, Vote: e.hist})
		if e.quorum() {
			e.campaign(now)
		}
	default:
		e.campaign(now)
	}
	return e.output()
}

// campaign is Raft's candidate step: a new term, a vote for itself, and
// a request to every voter.
func (e *Election) campaign(now time.Duration) {
	e.rec = Record{Term: e.rec.Term + 1, Voted: true, VotedFor: e.m.Self}
	e.phase = candidate
	e.timer = now + e.timeout()
	clear(e.grants)
	e.grants[e.m.Self] = true
	e.broadcast(Message{Kind: KindVote, Ask: e.rec.Term, Vote: e.hist})
	if e.quorum() {
		e.lead()
	}
}

// lead decides LEADING and tells every member.
func (e *Election) lead() {
	v := e.hist
	v.ElectionEpoch = e.rec.Term
	e.decide(ext.Leading, v)
	for _, id := range e.members {
		e.announce(id)
	}
}

func (e *Election) announce(to int64) {
	e.send(to, Message{Kind: KindLeader, State: ext.Leading, Term: e.rec.Term, Established: e.established, Vote: e.decided})
}

func (e *Election) decide(state ext.PeerState, v ext.Vote) {
	e.state, e.decided = state, v
	e.phase = waiting
	clear(e.grants)
	e.out.Decided = &ext.Decision{State: state, Vote: v}
}

// Established records the epoch the leader settled on; from then on the
// leader's announcements let servers that are ahead of it join.
func (e *Election) Established(now time.Duration, state ext.PeerState, epoch int64) ext.ElectionOutput {
	if e.started && e.state != ext.Looking && state == e.state {
		e.decided.PeerEpoch = epoch
		e.established = true
	}
	return e.output()
}

// State is the role and the vote: the decided one, or while looking the
// server's own history in its current term.
func (e *Election) State() (ext.PeerState, ext.Vote) {
	if e.state != ext.Looking {
		return e.state, e.decided
	}
	v := e.hist
	v.ElectionEpoch = e.rec.Term
	return e.state, v
}

func (e *Election) wait(now time.Duration) {
	e.phase = waiting
	clear(e.grants)
	e.timer = now + e.timeout()
}

// timeout draws from [ElectionTimeoutMin, ElectionTimeoutMax].
func (e *Election) timeout() time.Duration {
	lo, hi := e.opts.ElectionTimeoutMin, e.opts.ElectionTimeoutMax
	return lo + time.Duration(e.rng.Int64N(int64(hi-lo)+1))
}

// broadcast sends msg to every voter but this server (every member when
// it only asks who leads: a leader is always a voter).
func (e *Election) broadcast(msg Message) {
	for _, id := range e.m.Voters {
		if id != e.m.Self {
			e.send(id, msg)
		}
	}
}

func (e *Election) send(to int64, msg Message) {
	msg.State = e.state
	if msg.Term == 0 {
		msg.Term = e.rec.Term
	}
	e.out.Send = append(e.out.Send, ext.Outgoing{To: to, Data: msg.Encode()})
}

// output hands out what the call produced: the record if it changed (the
// host persists it before sending), and the timeout while looking.
func (e *Election) output() ext.ElectionOutput {
	out := e.out
	e.out = ext.ElectionOutput{}
	if !e.started {
		return out
	}
	if rec := e.rec.Encode(); !bytes.Equal(rec, e.persisted) {
		e.persisted = rec
		out.PersistVote = rec
	}
	if e.state == ext.Looking {
		out.WakeAt = e.timer
	}
	return out
}
