// Package sim is zabkit's deterministic simulator: whole ensembles in one
// process on virtual time, driving the real pure kernels (core/zab and any
// ext.Election) and the real data tree, with a seeded network (delay,
// drop, duplicate, partitions, asymmetric partitions), a seeded disk
// (fsync latency, stalls, errors, torn tails on crash), crashes at chosen
// protocol steps, and client workloads. Checkers then look for one leader
// per epoch, identical tree digests on every replica at equal zxid, no lost
// acknowledged write, and linearizable client histories (porcupine).
//
// Everything that varies comes from Options.Seed, and nothing reads the
// wall clock or spawns goroutines, so a failing seed replays exactly; with
// Options.Trace the run prints a readable protocol trace.
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// Options configures one simulated run.
type Options struct {
	Seed      int64
	Voters    int // default 3
	Observers int
	// Election makes each server's election algorithm.
	Election ext.ElectionFactory
	// ElectionOptions are passed to every Election (module options).
	ElectionOptions map[string]any
	Scenario        Scenario
	// Duration is the faulty part of the run in virtual time; the
	// simulator then heals everything and lets the ensemble settle for
	// Settle before checking (defaults 20 s and 90 s).
	Duration time.Duration
	Settle   time.Duration
	// TickTime, InitLimit and SyncLimit as in zoo.cfg (defaults 200 ms, 10, 5).
	TickTime  time.Duration
	InitLimit int
	SyncLimit int
	// Clients is the number of concurrent client workers (default 3);
	// Keys the number of znodes they write and read (default 3).
	Clients int
	Keys    int
	// ClientThink, if set, is the pause between one client worker's ops
	// (drawn from [ClientThink, 2×ClientThink]) instead of 1–30 ms: a
	// lighter load for runs that measure elections, not throughput.
	ClientThink time.Duration
	// Trace records a readable trace in Result.Trace.
	Trace bool
	// Events records a timeline in Result.Events (see Event).
	Events bool
	// Script, if set, is called once the servers have booted, to schedule
	// faults of its own through a Control (in addition to Scenario's).
	Script func(*Control)
	// MaxEvents bounds the run (default 2,000,000 events).
	MaxEvents int
}

func (o Options) withDefaults() Options {
	if o.Voters <= 0 {
		o.Voters = 3
	}
	if o.Duration <= 0 {
		o.Duration = 20 * time.Second
	}
	if o.Settle <= 0 {
		o.Settle = 90 * time.Second
	}
	if o.TickTime <= 0 {
		o.TickTime = 200 * time.Millisecond
	}
	if o.InitLimit <= 0 {
		o.InitLimit = 10
	}
	if o.SyncLimit <= 0 {
		o.SyncLimit = 5
	}
	if o.Clients <= 0 {
		o.Clients = 3
	}
	if o.Keys <= 0 {
		o.Keys = 3
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 2_000_000
	}
	o.Scenario = o.Scenario.withDefaults()
	return o
}

// Result is what a run found.
type Result struct {
	Seed       int64
	Scenario   string
	Violations []string // safety: any entry is a bug
	// Converged is false if, after healing, the ensemble did not settle
	// on one leader with every live replica caught up (liveness).
	Converged bool
	Stats     Stats
	Trace     []string
	Events    []Event // with Options.Events
}

// Stats counts what happened.
type Stats struct {
	Events, Messages, ElectionMessages int
	Elections                          int // times a leader started serving
	Crashes, Restarts                  int
	OpsAcked, OpsFailed, OpsUnknown    int
	LastZxid                           int64
	// TimeToFirstLeader is the virtual time until the first leader served.
	TimeToFirstLeader time.Duration
	// Unavailable is the total virtual time, within Duration, with no
	// serving leader.
	Unavailable time.Duration
}

// Failed reports whether the run found a safety violation.
func (r Result) Failed() bool { return len(r.Violations) > 0 }

func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d scenario %s: ", r.Seed, r.Scenario)
	if r.Failed() {
		fmt.Fprintf(&b, "%d violation(s)\n", len(r.Violations))
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "  - %s\n", v)
		}
	} else {
		b.WriteString("ok")
	}
	if !r.Converged {
		b.WriteString(" (did not converge)")
	}
	return b.String()
}

// event is one scheduled callback; seq breaks ties so the order of
// simultaneous events is the order they were scheduled in.
type event struct {
	at  time.Duration
	seq uint64
	fn  func()
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || q[i].at == q[j].at && q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// world is one run's state.
type world struct {
	opt    Options
	rng    *rand.Rand
	now    time.Duration
	seq    uint64
	events eventQueue
	nodes  []*node // index = sid-1
	net    *network
	chk    *checker
	load   *workload
	res    Result
	healed bool

	// servingCount is how many leaders serve right now; lastChange is
	// when it last dropped to zero (the start of an unavailable window).
	servingCount  int
	lastChange    time.Duration
	quorumCrashed bool

	onServing []func(leader, epoch int64) // Control.OnServing
	stopped   bool                        // Control.Stop
}

func (w *world) at(t time.Duration, fn func()) {
	if t < w.now {
		t = w.now
	}
	w.seq++
	heap.Push(&w.events, &event{at: t, seq: w.seq, fn: fn})
}

func (w *world) after(d time.Duration, fn func()) { w.at(w.now+d, fn) }

func (w *world) tracef(format string, args ...any) {
	if w.opt.Trace {
		w.res.Trace = append(w.res.Trace, fmt.Sprintf("%9.3fs ", w.now.Seconds())+fmt.Sprintf(format, args...))
	}
}

// between returns a uniformly random duration in [lo, hi].
func (w *world) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)+1))
}

func (w *world) chance(p float64) bool { return p > 0 && w.rng.Float64() < p }

// Run simulates one ensemble and checks it.
func Run(opt Options) Result {
	opt = opt.withDefaults()
	w := &world{opt: opt, rng: rand.New(rand.NewPCG(uint64(opt.Seed), 0x5a4b))}
	w.res = Result{Seed: opt.Seed, Scenario: opt.Scenario.Name}
	w.chk = newChecker(w)
	w.net = newNetwork(w)
	total := opt.Voters + opt.Observers
	for i := 1; i <= total; i++ {
		w.nodes = append(w.nodes, newNode(w, int64(i), i > opt.Voters))
	}
	w.load = newWorkload(w)
	for _, n := range w.nodes {
		n.boot()
	}
	w.load.start()
	w.opt.Scenario.schedule(w)
	if opt.Script != nil {
		opt.Script(&Control{w: w})
	}
	w.at(opt.Duration, w.heal)
	end := opt.Duration + opt.Settle
	for w.events.Len() > 0 && w.res.Stats.Events < opt.MaxEvents && !w.stopped {
		e := heap.Pop(&w.events).(*event)
		if e.at > end {
			break
		}
		w.now = e.at
		w.res.Stats.Events++
		e.fn()
	}
	w.finish()
	return w.res
}

// heal ends the faulty period: partitions heal, crashed servers restart,
// no new faults are injected, and clients stop after their current op.
func (w *world) heal() {
	w.tracef("heal: faults off, every server up")
	if w.servingCount == 0 {
		w.res.Stats.Unavailable += w.now - w.lastChange
	}
	w.healed = true
	w.net.healAll()
	clear(w.net.flaky)
	for _, n := range w.nodes {
		if !n.up {
			n.restart()
		}
	}
	w.load.stop()
}

func (w *world) finish() {
	w.chk.final()
	w.res.Stats.LastZxid = 0
	for _, n := range w.nodes {
		w.res.Stats.LastZxid = max(w.res.Stats.LastZxid, n.tree.LastZxid())
	}
}
