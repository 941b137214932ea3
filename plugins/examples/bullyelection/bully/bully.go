// Package bully is a small leader election for zabkit in the bully
// family: the most up-to-date server wins. It is the algorithm behind the
// example election plugin, written against core/ext alone.
//
// A round goes like this. Every looking server tells every other member
// its credentials (currentEpoch, lastZxid) in a hello. A voter that has
// heard from a quorum of voters (by weight) after GatherWait in the round,
// and finds itself the best of what it heard — highest (epoch, zxid, id) — proposes itself. A voter acks the
// proposal if the candidate is at least as good as every voter it heard
// in the round, and it has acked no one else in the round; it persists
// the ack before sending it. A candidate acked by a quorum leads and says
// so to every member (elected), and whoever is looking follows it.
//
// Why it is right:
//
//   - one leader per round: a voter acks once per round (persisted, and a
//     restarted server starts past every round it acked in), and two
//     quorums share a voter, so no round has two leaders;
//   - an up-to-date leader: a voter acks only a candidate at least as up
//     to date as itself, so the quorum that elected the leader is not
//     ahead of it (ZAB's discovery still checks, whatever the election
//     does);
//   - progress: a round that does not end within RoundTimeout (randomised,
//     so servers do not move in lock-step) gives way to the next, and a
//     server that hears of a later round joins it. A server that finds an
//     ensemble already running follows its leader, who answers hellos;
//   - resumption: an election restarted under a node that keeps leading
//     (its plugin was replaced) is told so by the host's replayed
//     Established, and answers the servers that look for their leader
//     again.
//
// The state machine is pure (ext.Election): no clock, no I/O, randomness
// only from the seed.
package bully

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// Options tune the algorithm; zero fields take the defaults.
type Options struct {
	// GatherWait is how long a voter listens in a new round before it
	// may propose itself. It should exceed a message's round trip plus
	// the spread of the servers' starts, so that the best server has been
	// heard. Default 200ms.
	GatherWait time.Duration `json:"gatherWait"`
	// ResendInterval is the first pause before a looking server repeats
	// its hello (or a candidate its proposal); it doubles up to
	// MaxResendInterval. Defaults 250ms and 2s.
	ResendInterval    time.Duration `json:"resendInterval"`
	MaxResendInterval time.Duration `json:"maxResendInterval"`
	// RoundTimeout is the shortest life of a round that elects no one; each
	// round draws its own between RoundTimeout and twice that. Default 1s.
	RoundTimeout time.Duration `json:"roundTimeout"`
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.GatherWait, 200*time.Millisecond)
	def(&o.ResendInterval, 250*time.Millisecond)
	def(&o.MaxResendInterval, 2*time.Second)
	def(&o.RoundTimeout, time.Second)
	o.MaxResendInterval = max(o.MaxResendInterval, o.ResendInterval)
	return o
}

// cred is what makes a server a good leader: its history.
type cred struct{ epoch, zxid int64 }

// key orders candidates: history first, the id breaks ties.
type key struct {
	cred
	id int64
}

func (a key) less(b key) bool {
	if a.epoch != b.epoch {
		return a.epoch < b.epoch
	}
	if a.zxid != b.zxid {
		return a.zxid < b.zxid
	}
	return a.id < b.id
}

// Election is one server's instance. Like every ext.Election it is not
// safe for concurrent use; the host serialises calls.
type Election struct {
	opts    Options
	self    int64
	members []ext.Member // sorted by id
	weight  map[int64]int64
	total   int64 // the voters' weight
	rng     *rand.Rand

	started bool
	state   ext.PeerState
	mine    cred

	round     int64
	heard     map[int64]cred // voters heard in this round (self included)
	acked     int64          // whom this server acked in this round; 0: no one
	candidate bool
	acks      map[int64]bool

	gatherAt, resendAt, timeoutAt time.Duration
	resendEvery                   time.Duration

	decided ext.Vote
	out     ext.ElectionOutput
}

var _ ext.Election = (*Election)(nil)

// New makes the instance for cfg.Self. Member ids must be positive.
func New(opts Options, cfg ext.ElectionConfig) (*Election, error) {
	e := &Election{
		opts:    opts.withDefaults(),
		self:    cfg.Self,
		members: slices.Clone(cfg.Members),
		weight:  map[int64]int64{},
		rng:     rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Self))),
		state:   ext.Looking,
		heard:   map[int64]cred{},
		acks:    map[int64]bool{},
	}
	slices.SortFunc(e.members, func(a, b ext.Member) int { return cmp.Compare(a.ID, b.ID) })
	found := false
	for i, m := range e.members {
		if m.ID <= 0 || (i > 0 && e.members[i-1].ID == m.ID) {
			return nil, fmt.Errorf("bully: member id %d is not positive or listed twice", m.ID)
		}
		if !m.Observer && m.Weight > 0 {
			e.weight[m.ID] = m.Weight
			e.total += m.Weight
		}
		found = found || m.ID == cfg.Self
	}
	if !found || e.total == 0 {
		return nil, fmt.Errorf("bully: server %d is not a member, or no member votes", cfg.Self)
	}
	return e, nil
}

func (e *Election) voter(id int64) bool { return e.weight[id] > 0 }

func (e *Election) member(id int64) (ext.Member, bool) {
	i, ok := slices.BinarySearchFunc(e.members, id, func(m ext.Member, id int64) int { return cmp.Compare(m.ID, id) })
	if !ok {
		return ext.Member{}, false
	}
	return e.members[i], true
}

// quorum reports whether the voters in set weigh more than half.
func (e *Election) quorum(set func(id int64) bool) bool {
	var w int64
	for id, wt := range e.weight {
		if set(id) {
			w += wt
		}
	}
	return 2*w > e.total
}

// Start begins a round past every round this server has acked in.
func (e *Election) Start(now time.Duration, r ext.RoundStart) ext.ElectionOutput {
	e.started = true
	e.state = ext.Looking
	e.mine = cred{epoch: r.CurrentEpoch, zxid: r.LastZxid}
	e.enter(now, max(e.round, decodeRecord(r.LastVote).round)+1)
	e.try(now)
	return e.flush(now)
}

// enter moves to round and tells everyone.
func (e *Election) enter(now time.Duration, round int64) {
	e.round = round
	clear(e.heard)
	clear(e.acks)
	e.acked, e.candidate = 0, false
	if e.voter(e.self) {
		e.heard[e.self] = e.mine
	}
	e.gatherAt = now + e.opts.GatherWait
	e.timeoutAt = now + e.opts.RoundTimeout + time.Duration(e.rng.Int64N(int64(e.opts.RoundTimeout)))
	e.resendEvery = e.opts.ResendInterval
	e.resendAt = now + e.resendEvery
	e.broadcast(hello, func(ext.Member) bool { return true })
}

// Step handles one message.
func (e *Election) Step(now time.Duration, from int64, data []byte) ext.ElectionOutput {
	m, err := decode(data)
	if _, member := e.member(from); !e.started || err != nil || !member || from == e.self {
		return e.flush(now)
	}
	if e.state != ext.Looking {
		// Decided: a leader tells whoever still looks; followers stay out.
		if e.state == ext.Leading && m.state == ext.Looking {
			e.send(from, elected, e.decided)
		}
		return e.flush(now)
	}
	if m.kind == elected {
		if m.state == ext.Leading && m.vote.Leader == from && e.voter(from) {
			e.follow(m)
		}
		return e.flush(now)
	}
	if m.round < e.round {
		if m.state == ext.Looking {
			e.send(from, hello, ext.Vote{}) // catch up
		}
		return e.flush(now)
	}
	if m.round > e.round {
		e.enter(now, m.round)
	}
	if e.voter(from) {
		e.heard[from] = m.cred
	}
	switch m.kind {
	case hello:
		if e.candidate && !e.acks[from] && e.voter(from) {
			e.send(from, propose, ext.Vote{}) // it may have missed it
		}
	case propose:
		e.consider(from)
	case ack:
		if e.candidate && m.vote.Leader == e.self && e.voter(from) {
			e.acks[from] = true
			e.win()
		}
	}
	if e.candidate && e.best().id != e.self {
		e.candidate = false // someone better spoke up: let this round lapse
	}
	e.try(now)
	return e.flush(now)
}

// consider answers a proposal from a voter.
func (e *Election) consider(from int64) {
	if !e.voter(e.self) || !e.voter(from) || (e.acked != 0 && e.acked != from) || e.best().id != from {
		return
	}
	if e.acked == 0 {
		e.acked = from
		e.persist()
	}
	e.send(from, ack, ext.Vote{Leader: from})
}

// best is the best voter heard in this round (0 if none).
func (e *Election) best() key {
	var b key
	for id, c := range e.heard {
		if k := (key{c, id}); b.id == 0 || b.less(k) {
			b = k
		}
	}
	return b
}

// try proposes this server if the round allows it.
func (e *Election) try(now time.Duration) {
	if e.state != ext.Looking || e.candidate || e.acked != 0 || !e.voter(e.self) || e.best().id != e.self {
		return
	}
	heard := func(id int64) bool { _, ok := e.heard[id]; return ok }
	if !e.quorum(heard) {
		return
	}
	if now < e.gatherAt {
		return
	}
	e.candidate, e.acked = true, e.self
	e.acks[e.self] = true
	e.persist()
	e.broadcast(propose, func(m ext.Member) bool { return e.voter(m.ID) })
	e.win()
}

// win leads if a quorum acked.
func (e *Election) win() {
	if !e.quorum(func(id int64) bool { return e.acks[id] }) {
		return
	}
	e.decide(ext.Leading, ext.Vote{Leader: e.self, Zxid: e.mine.zxid, ElectionEpoch: e.round, PeerEpoch: e.mine.epoch})
	e.broadcast(elected, func(ext.Member) bool { return true })
}

// follow takes the leader an elected message names.
func (e *Election) follow(m message) {
	me, _ := e.member(e.self)
	state := ext.Following
	if me.Observer {
		state = ext.Observing
	}
	e.decide(state, m.vote)
}

func (e *Election) decide(state ext.PeerState, v ext.Vote) {
	e.state, e.decided = state, v
	e.candidate = false
	e.out.Decided = &ext.Decision{State: state, Vote: v}
}

// Tick runs the round's timers.
func (e *Election) Tick(now time.Duration) ext.ElectionOutput {
	if !e.started || e.state != ext.Looking {
		return e.flush(now)
	}
	switch {
	case now >= e.timeoutAt:
		e.enter(now, e.round+1)
	case now >= e.resendAt:
		if e.candidate {
			e.broadcast(propose, func(m ext.Member) bool { return e.voter(m.ID) && !e.acks[m.ID] })
		} else {
			e.broadcast(hello, func(ext.Member) bool { return true })
		}
		e.resendEvery = min(2*e.resendEvery, e.opts.MaxResendInterval)
		e.resendAt = now + e.resendEvery
	}
	e.try(now)
	return e.flush(now)
}

// Established records the epoch the leader settled on, which a leader's
// elected messages carry from then on. Told while looking that this
// server leads, it takes the role: the host says so only of a node that
// leads an established quorum, and that happens when the election was
// restarted under it (the host replays Start, then Established, on a new
// plugin process). A follower has no such way back, nor needs one: the
// leader answers those who look.
func (e *Election) Established(now time.Duration, state ext.PeerState, epoch int64) ext.ElectionOutput {
	switch {
	case !e.started:
	case state == e.state && state != ext.Looking:
		e.decided.PeerEpoch = epoch
	case e.state == ext.Looking && state == ext.Leading && e.voter(e.self):
		e.state, e.candidate = ext.Leading, false
		e.decided = ext.Vote{Leader: e.self, Zxid: e.mine.zxid, ElectionEpoch: e.round, PeerEpoch: epoch}
	}
	return e.flush(now)
}

// State is the role and the decided vote, or while looking the best voter
// heard in the round.
func (e *Election) State() (ext.PeerState, ext.Vote) {
	if e.state != ext.Looking {
		return e.state, e.decided
	}
	b := e.best()
	return ext.Looking, ext.Vote{Leader: b.id, Zxid: b.zxid, PeerEpoch: b.epoch, ElectionEpoch: e.round}
}

func (e *Election) persist() {
	e.out.PersistVote = record{round: e.round, acked: e.acked}.encode()
}

func (e *Election) send(to int64, k kind, v ext.Vote) {
	m := message{kind: k, state: e.state, round: e.round, cred: e.mine, vote: v}
	if k == elected {
		m.round = v.ElectionEpoch
	}
	e.out.Send = append(e.out.Send, ext.Outgoing{To: to, Data: m.encode()})
}

// broadcast sends k to every other member that to selects, in id order.
func (e *Election) broadcast(k kind, to func(ext.Member) bool) {
	v := ext.Vote{}
	if k == elected {
		v = e.decided
	}
	for _, m := range e.members {
		if m.ID != e.self && to(m) {
			e.send(m.ID, k, v)
		}
	}
}

// flush hands over what the call produced, with the next timer while
// looking.
func (e *Election) flush(now time.Duration) ext.ElectionOutput {
	out := e.out
	e.out = ext.ElectionOutput{}
	if e.started && e.state == ext.Looking {
		wake := min(e.resendAt, e.timeoutAt)
		if !e.candidate && e.acked == 0 && e.gatherAt > now {
			wake = min(wake, e.gatherAt)
		}
		out.WakeAt = max(wake, now, 1)
	}
	return out
}
