package benchelection

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/sim"
)

// Fault is what a trial does to an ensemble once its first leader
// serves.
type Fault string

const (
	// LeaderKill crashes the serving leader; it restarts later.
	LeaderKill Fault = "leader-kill"
	// Partition cuts off, for PartitionFor, either the leader alone or a
	// random minority of the voters (which may hold the leader).
	Partition Fault = "partition"
	// FlakyLink makes the election link between two survivors lose and
	// delay messages, then crashes the leader, so the election that
	// follows runs over that link.
	FlakyLink Fault = "flaky-link"
)

// AllFaults is every fault kind, in report order.
var AllFaults = []Fault{LeaderKill, Partition, FlakyLink}

// ParseFault checks a fault name.
func ParseFault(s string) (Fault, error) {
	for _, f := range AllFaults {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown fault %q (want one of %v)", s, AllFaults)
}

// Timing is a trial's schedule in virtual time.
type Timing struct {
	// FirstLeaderBy bounds the cold-start election; a trial whose
	// ensemble has no serving leader by then is reported as not
	// converged.
	FirstLeaderBy time.Duration
	// FaultAfter: the fault comes this long (uniform in [lo, hi]) after
	// the first leader starts serving.
	FaultAfter [2]time.Duration
	// StableFor is how long a leader must keep serving to count as the
	// stable leader (default 10 ticks, 2 s: longer than the syncLimit in
	// which a cut-off leader notices it has lost its quorum).
	StableFor time.Duration
	// Window bounds the measurement after the fault: no stable leader
	// within it is "did not converge".
	Window time.Duration
	// PartitionFor is how long a partition lasts.
	PartitionFor time.Duration
	// RestartAfter: a killed leader restarts this long (uniform) after
	// its crash.
	RestartAfter [2]time.Duration
	// FlakyDrop and FlakyDelay: the flaky link loses this share of
	// election messages and delays the rest by up to FlakyDelay.
	FlakyDrop  float64
	FlakyDelay time.Duration
}

// DefaultTiming is the schedule `zabkit bench election` uses.
func DefaultTiming() Timing {
	return Timing{
		FirstLeaderBy: 5 * time.Second,
		FaultAfter:    [2]time.Duration{500 * time.Millisecond, 1500 * time.Millisecond},
		StableFor:     2 * time.Second,
		Window:        15 * time.Second,
		PartitionFor:  3 * time.Second,
		RestartAfter:  [2]time.Duration{300 * time.Millisecond, 1500 * time.Millisecond},
		FlakyDrop:     0.3,
		FlakyDelay:    200 * time.Millisecond,
	}
}

// tickTime is the simulated ensembles' tickTime (the simulator's default).
const tickTime = 200 * time.Millisecond

// Trial names one run: which algorithm, ensemble size, fault and seed.
type Trial struct {
	Variant int // index into the run's variants
	Nodes   int
	Fault   Fault
	Seed    int64
}

// Outcome is what one trial measured. Times are virtual.
type Outcome struct {
	// FaultAt is when the fault was injected (0: never, because no leader
	// served by Timing.FirstLeaderBy).
	FaultAt time.Duration
	// Election: the fault cost the leader its leadership, so an election
	// ran (a partition that leaves the leader a quorum does not).
	Election bool
	// Converged: a leader served for StableFor within the window after
	// the fault (for a fault that cost no election: the old leader kept
	// serving).
	Converged bool
	// TimeToLeader is from the fault to the moment the stable leader
	// started serving (elections that converged only).
	TimeToLeader time.Duration
	// Unavailable is how long, from the fault to the end of the window,
	// no leader connected to a quorum served: writes could not commit.
	// A leader cut off by the partition does not count while cut off.
	Unavailable time.Duration
	// Messages is the election messages sent from the fault until the
	// stable leader started serving; Rounds the LEADING decisions in that
	// span (1 when the first leader attempt succeeded).
	Messages int
	Rounds   int
	// Disrupted: the stable leader stopped serving before the trial ended
	// (at least StableFor after the last fault action, such as a
	// partition healing or the killed leader coming back).
	Disrupted bool
	// Violations are the simulator's safety-checker findings.
	Violations []string
}

// script is one trial's fault schedule and what it learnt while running.
type script struct {
	t      Timing
	fault  Fault
	c      *sim.Control
	since  map[int64]time.Duration // serving since, per leader
	faulty bool                    // the fault was injected
	at     time.Duration           // when
	cutOff []int64                 // the partitioned side
	healAt time.Duration           // when the partition ends
	last   time.Duration           // the last scheduled fault action
	end    time.Duration           // when the trial stopped (0: it ran out)
}

func (s *script) run(c *sim.Control) {
	s.c = c
	s.since = map[int64]time.Duration{}
	c.OnServing(func(leader, _ int64) {
		s.since[leader] = c.Now()
		if len(s.since) == 1 && !s.faulty && s.at == 0 {
			r := c.Rand()
			lo, hi := s.t.FaultAfter[0], s.t.FaultAfter[1]
			s.at = c.Now() + lo + time.Duration(r.Int64N(int64(hi-lo)+1))
			c.At(s.at, s.inject)
		}
	})
	c.At(s.t.FirstLeaderBy, func() {
		if s.at == 0 {
			c.Stop() // no leader: nothing to measure
		}
	})
}

// inject applies the fault and starts watching for the end of the trial.
func (s *script) inject() {
	c, r := s.c, s.c.Rand()
	leader, ok := c.Leader()
	if !ok {
		// The first leader lost its role before the fault came: fault the
		// next one instead.
		s.at = 0
		s.since = map[int64]time.Duration{}
		return
	}
	s.faulty = true
	s.at = c.Now()
	s.last = s.at
	c.Mark(string(s.fault))
	voters := c.Voters()
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo)+1)) }
	switch s.fault {
	case LeaderKill:
		back := between(s.t.RestartAfter[0], s.t.RestartAfter[1])
		c.Crash(leader, back)
		s.last = s.at + back
	case Partition:
		side := []int64{leader}
		if r.IntN(2) == 0 {
			shuffled := slices.Clone(voters)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			side = shuffled[:1+r.IntN((len(voters)-1)/2)]
			slices.Sort(side)
		}
		s.cutOff, s.healAt = side, s.at+s.t.PartitionFor
		c.Partition(side)
		c.At(s.healAt, c.HealPartitions)
		s.last = s.healAt
	case FlakyLink:
		var rest []int64
		for _, id := range voters {
			if id != leader {
				rest = append(rest, id)
			}
		}
		r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		c.FlakyLink(rest[0], rest[1], s.t.FlakyDrop, s.t.FlakyDelay)
		back := between(s.t.RestartAfter[0], s.t.RestartAfter[1])
		c.Crash(leader, back)
		s.last = s.at + back
	}
	s.watch()
}

// watch ends the run once a leader has served for StableFor and the last
// fault action is StableFor past (so a disruption would have shown), or
// when the window closes.
func (s *script) watch() {
	c := s.c
	c.At(c.Now()+tickTime, func() {
		now := c.Now()
		l, ok := c.Leader()
		if now >= s.at+s.t.Window || ok && now-s.since[l] >= s.t.StableFor && now-s.last >= s.t.StableFor {
			s.end = now
			c.Stop()
			return
		}
		s.watch()
	})
}

// simOptions is the simulated ensemble of a trial: no background faults,
// one light client (so logs differ a little when the leader dies).
func simOptions(f ext.ElectionFactory, tr Trial, t Timing, sc *script) sim.Options {
	return sim.Options{
		Seed:        tr.Seed,
		Voters:      tr.Nodes,
		Election:    f,
		Scenario:    sim.Scenario{Name: "election-" + string(tr.Fault)},
		Duration:    t.FirstLeaderBy + t.FaultAfter[1] + t.Window + tickTime,
		Settle:      time.Millisecond,
		Clients:     1,
		ClientThink: 100 * time.Millisecond,
		Events:      true,
		Script:      sc.run,
	}
}

// RunTrial simulates one trial and measures it.
func RunTrial(f ext.ElectionFactory, tr Trial, t Timing) Outcome {
	sc := &script{t: t, fault: tr.Fault}
	res := sim.Run(simOptions(f, tr, t, sc))
	return measure(res.Events, sc, t, res.Violations)
}

// period is one leader's stretch of serving.
type period struct {
	server     int64
	start, end time.Duration
	msgs       int // election messages sent before it started
	open       bool
}

// measure reads a trial's timeline.
func measure(evs []sim.Event, sc *script, t Timing, violations []string) Outcome {
	out := Outcome{Violations: violations}
	if !sc.faulty {
		return out
	}
	out.FaultAt = sc.at
	end := sc.at + t.Window
	if sc.end > 0 {
		end = min(end, sc.end)
	}
	var periods []period
	open := map[int64]int{}
	msgsAtFault := 0
	for _, e := range evs {
		switch e.Kind {
		case sim.EventServing:
			open[e.Server] = len(periods)
			periods = append(periods, period{server: e.Server, start: e.At, end: end, msgs: e.ElectionMessages, open: true})
		case sim.EventStopped:
			if i, ok := open[e.Server]; ok {
				periods[i].end, periods[i].open = e.At, false
				delete(open, e.Server)
			}
		case sim.EventMark:
			msgsAtFault = e.ElectionMessages
		}
	}
	// The leader at the fault, and whether it kept serving throughout.
	var before *period
	for i := range periods {
		if p := &periods[i]; p.start <= sc.at && p.end > sc.at {
			before = p
		}
	}
	cut := func(id int64) bool { return slices.Contains(sc.cutOff, id) }
	out.Election = before == nil || before.end < end || cut(before.server)
	if !out.Election {
		out.Converged = true
	}
	var stable *period
	for i := range periods {
		p := &periods[i]
		if out.Election && p.start >= sc.at && min(p.end, end)-p.start >= t.StableFor {
			stable = p
			break
		}
	}
	if out.Election && stable != nil {
		out.Converged = true
		out.TimeToLeader = stable.start - sc.at
		out.Messages = stable.msgs - msgsAtFault
		for _, e := range evs {
			if e.Kind == sim.EventDecided && e.State == ext.Leading && e.At >= sc.at && e.At <= stable.start {
				out.Rounds++
			}
		}
		out.Disrupted = !stable.open
	}
	// Writes are possible while some leader serves that is not cut off.
	var up []span
	for _, p := range periods {
		s := span{max(p.start, sc.at), min(p.end, end)}
		if s.to <= s.from {
			continue
		}
		if cut(p.server) {
			up = append(up, s.minus(span{sc.at, sc.healAt})...)
			continue
		}
		up = append(up, s)
	}
	out.Unavailable = (end - sc.at) - covered(up)
	return out
}

// span is a half-open stretch of virtual time.
type span struct{ from, to time.Duration }

// minus returns s without o (zero, one or two pieces).
func (s span) minus(o span) []span {
	var out []span
	if o.from > s.from {
		out = append(out, span{s.from, min(s.to, o.from)})
	}
	if o.to < s.to {
		out = append(out, span{max(s.from, o.to), s.to})
	}
	return slices.DeleteFunc(out, func(x span) bool { return x.to <= x.from })
}

// covered is the length of the union of spans.
func covered(spans []span) time.Duration {
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	var total, reach time.Duration
	reach = -1
	for _, s := range spans {
		if s.from > reach {
			total += s.to - s.from
			reach = s.to
		} else if s.to > reach {
			total += s.to - reach
			reach = s.to
		}
	}
	return total
}
