package sim

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// EventKind names a timeline entry (Options.Events).
type EventKind uint8

const (
	// EventLooking: a server started looking for a leader (Election.Start).
	EventLooking EventKind = iota + 1
	// EventDecided: an election ended at a server (State, Leader).
	EventDecided
	// EventServing: a leader started serving (Epoch): a quorum is synced.
	EventServing
	// EventStopped: a serving leader stopped serving (stepped down or
	// crashed).
	EventStopped
	// EventCrash and EventRestart: a server process died or started.
	EventCrash
	EventRestart
	// EventMark: a note from a Script (Note), e.g. where it injected a
	// fault.
	EventMark
)

func (k EventKind) String() string {
	switch k {
	case EventLooking:
		return "looking"
	case EventDecided:
		return "decided"
	case EventServing:
		return "serving"
	case EventStopped:
		return "stopped"
	case EventCrash:
		return "crash"
	case EventRestart:
		return "restart"
	case EventMark:
		return "mark"
	}
	return "unknown"
}

// Event is one entry of the timeline a run records with Options.Events:
// what an election benchmark measures (when leaders serve and stop, how
// many election messages went out until then) without parsing a trace.
type Event struct {
	At     time.Duration
	Kind   EventKind
	Server int64
	State  ext.PeerState // EventDecided
	Leader int64         // EventDecided
	Epoch  int64         // EventServing, EventStopped
	Note   string        // EventMark
	// ElectionMessages is Stats.ElectionMessages when the event happened,
	// so the messages between two events are a difference.
	ElectionMessages int
}

// record appends an event to the timeline if the run keeps one.
func (w *world) record(e Event) {
	if !w.opt.Events {
		return
	}
	e.At = w.now
	e.ElectionMessages = w.res.Stats.ElectionMessages
	w.res.Events = append(w.res.Events, e)
}

// Control is what an Options.Script drives the run with: it schedules
// faults of its own on the run's virtual clock, drawing any randomness
// from the run's generator so the run stays a function of the seed.
// Faults a Script injects end, like the scenario's, when the run heals.
type Control struct{ w *world }

// Now is the virtual time.
func (c *Control) Now() time.Duration { return c.w.now }

// Rand is the run's generator.
func (c *Control) Rand() *rand.Rand { return c.w.rng }

// At runs fn at virtual time t (now if t is past).
func (c *Control) At(t time.Duration, fn func()) { c.w.at(t, fn) }

// Healed reports whether the faulty part of the run is over.
func (c *Control) Healed() bool { return c.w.healed }

// Servers lists every server's id.
func (c *Control) Servers() []int64 {
	ids := make([]int64, 0, len(c.w.nodes))
	for _, n := range c.w.nodes {
		ids = append(ids, n.id)
	}
	return ids
}

// Voters lists the voters' ids.
func (c *Control) Voters() []int64 {
	var ids []int64
	for _, n := range c.w.nodes {
		if !n.observer {
			ids = append(ids, n.id)
		}
	}
	return ids
}

// Leader returns the leader that is serving now, if any.
func (c *Control) Leader() (int64, bool) {
	for _, n := range c.w.nodes {
		if n.up && n.leader != nil && n.serving {
			return n.id, true
		}
	}
	return 0, false
}

// OnServing calls fn every time a leader starts serving. fn runs in the
// middle of that leader's step: it should schedule faults (At), not
// inject them.
func (c *Control) OnServing(fn func(leader, epoch int64)) {
	c.w.onServing = append(c.w.onServing, fn)
}

// Crash kills server id now. It restarts restartAfter later, or when the
// run heals if restartAfter is negative.
func (c *Control) Crash(id int64, restartAfter time.Duration) {
	w := c.w
	if w.healed {
		return
	}
	n := w.nodes[id-1]
	n.crash(false)
	if restartAfter >= 0 {
		w.after(restartAfter, func() {
			if !n.up && !w.healed {
				n.restart()
			}
		})
	}
}

// Partition cuts side off from the other servers, both ways, until
// HealPartitions or the end of the faulty period.
func (c *Control) Partition(side []int64) {
	if c.w.healed {
		return
	}
	c.w.tracef("script: partition %v from the rest", side)
	c.w.net.partition(slices.Clone(side), false)
}

// HealPartitions restores every link Partition cut.
func (c *Control) HealPartitions() {
	c.w.tracef("script: partitions healed")
	c.w.net.healAll()
}

// FlakyLink makes the election messages between a and b (both ways) get
// lost with probability drop and the rest arrive up to extraDelay late,
// until the run heals. Quorum (ZAB) traffic is untouched.
func (c *Control) FlakyLink(a, b int64, drop float64, extraDelay time.Duration) {
	if c.w.healed {
		return
	}
	c.w.tracef("script: election link %d–%d drops %.0f%%, up to %v late", a, b, 100*drop, extraDelay)
	f := linkFault{drop: drop, delay: extraDelay}
	c.w.net.flaky[[2]int64{a, b}] = f
	c.w.net.flaky[[2]int64{b, a}] = f
}

// Stop ends the run after the current event, without healing or
// settling: a Script that has measured what it came for saves the rest.
// The safety checkers still run on what happened; Result.Converged then
// only says whether one leader served with every replica caught up at
// that moment.
func (c *Control) Stop() { c.w.stopped = true }

// Mark notes something in the timeline (EventMark) and the trace.
func (c *Control) Mark(note string) {
	c.w.tracef("script: %s", note)
	c.w.record(Event{Kind: EventMark, Note: note})
}
