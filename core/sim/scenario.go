package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/zabkit/zabkit/core/zab"
)

// Scenario is a named set of faults. Zero values mean "no such fault".
type Scenario struct {
	Name string
	Doc  string
	// FaultsItem is the item of shared/design/faults.md it exercises.
	FaultsItem string

	// Network: election messages are dropped or duplicated with these
	// probabilities; every message takes MinDelay..MaxDelay.
	Drop, Duplicate    float64
	MinDelay, MaxDelay time.Duration
	// Partitions: every PartitionEvery (on average) a random minority or
	// majority is cut off for PartitionFor; Asymmetric cuts one direction.
	PartitionEvery, PartitionFor time.Duration
	Asymmetric                   bool
	// IsolateLeader makes every partition cut off the current leader.
	IsolateLeader bool

	// Crashes: every CrashEvery (on average) a random server (the leader
	// with LeaderBias probability) crashes and restarts 0.2–3 s later.
	CrashEvery time.Duration
	LeaderBias float64
	// CrashAt crashes a server at a protocol step.
	CrashAt []CrashPoint
	// QuorumCrash crashes every server at once right after a leader
	// starts serving, once.
	QuorumCrash bool
	// Pause stops a random server's processing for PauseFor every
	// PauseEvery (a GC pause): its timers and messages wait.
	PauseEvery, PauseFor time.Duration

	// Disk: fsync latency range, a stall of StallFor with probability
	// Stall per fsync, an fsync error (the server stops) with probability
	// FsyncError, and torn tails on crash.
	FsyncMin, FsyncMax time.Duration
	Stall              float64
	StallFor           time.Duration
	FsyncError         float64
	TornTail           bool

	// NearRollover starts each epoch's zxid counter just below 2^32-1.
	NearRollover bool
	// CommitLogCount shrinks the leader's in-memory committed log so
	// syncs fall back to SNAP often (0: ZooKeeper's 500).
	CommitLogCount int
	// SlowSnapshot delays bulk (SNAP) transfers by this much.
	SlowSnapshot time.Duration
}

// CrashPoint crashes a server when it sends (Send) or receives a packet
// of type Step, or reaches a pseudo-step (negative Step values below).
type CrashPoint struct {
	Step   int32
	Send   bool
	Leader *bool // only leaders (true), only learners (false), or either
	P      float64
}

// Pseudo-steps for CrashPoint.Step.
const (
	crashAfterSaveEpochs int32 = -1
	crashAfterTruncate   int32 = -2
	crashAfterServe      int32 = -3
)

func stepName(step int32, sending bool) string {
	switch step {
	case crashAfterSaveEpochs:
		return "after persisting epochs"
	case crashAfterTruncate:
		return "after TRUNC"
	case crashAfterServe:
		return "right after starting to lead"
	}
	if sending {
		return "sending " + zab.TypeName(step)
	}
	return "receiving " + zab.TypeName(step)
}

func (s Scenario) withDefaults() Scenario {
	if s.Name == "" {
		s.Name = "custom"
	}
	if s.MaxDelay <= 0 {
		s.MinDelay, s.MaxDelay = 200*time.Microsecond, 3*time.Millisecond
	}
	if s.FsyncMax <= 0 {
		s.FsyncMin, s.FsyncMax = 300*time.Microsecond, 3*time.Millisecond
	}
	if s.StallFor <= 0 {
		s.StallFor = 3 * time.Second
	}
	if s.PauseFor <= 0 {
		s.PauseFor = 2 * time.Second
	}
	if s.PartitionFor <= 0 {
		s.PartitionFor = 3 * time.Second
	}
	return s
}

var (
	yes = true
	no  = false
)

// Scenarios are the named fault scenarios, one or more per item of
// shared/design/faults.md that a simulation can exercise.
var Scenarios = []Scenario{
	{Name: "baseline", Doc: "no faults: elections, sync and broadcast under a client load"},
	{Name: "lossy-election", Doc: "election messages dropped (20%), duplicated (10%) and reordered", FaultsItem: "11",
		Drop: 0.2, Duplicate: 0.1, MaxDelay: 20 * time.Millisecond, CrashEvery: 4 * time.Second},
	{Name: "leader-crash-in-sync", FaultsItem: "1", Doc: "the leader crashes while sending DIFF/TRUNC/SNAP, NEWLEADER or UPTODATE",
		CrashEvery: 6 * time.Second, LeaderBias: 1, CommitLogCount: 8, CrashAt: []CrashPoint{
			{Step: zab.TypeDiff, Send: true, Leader: &yes, P: 0.2}, {Step: zab.TypeTrunc, Send: true, Leader: &yes, P: 0.3},
			{Step: zab.TypeSnap, Send: true, Leader: &yes, P: 0.3}, {Step: zab.TypeNewLeader, Send: true, Leader: &yes, P: 0.2},
			{Step: zab.TypeUpToDate, Send: true, Leader: &yes, P: 0.2}}},
	{Name: "follower-crash-around-ack", FaultsItem: "2", Doc: "a follower crashes when acking NEWLEADER or a PROPOSAL, after persisting epochs, with torn tails",
		TornTail: true, CrashEvery: 5 * time.Second, CrashAt: []CrashPoint{
			{Step: zab.TypeAck, Send: true, Leader: &no, P: 0.01}, {Step: zab.TypeNewLeader, Send: false, Leader: &no, P: 0.2},
			{Step: crashAfterSaveEpochs, Send: true, Leader: &no, P: 0.1}, {Step: zab.TypeProposal, Send: false, Leader: &no, P: 0.005}}},
	{Name: "quorum-crash-after-serving", FaultsItem: "3", Doc: "every server crashes at once right after a new leader starts serving",
		QuorumCrash: true, TornTail: true, CrashEvery: 5 * time.Second, LeaderBias: 1},
	{Name: "stale-follower-elected", FaultsItem: "4", Doc: "a follower is partitioned away for long stretches while leaders change, then rejoins and may be elected",
		PartitionEvery: 3 * time.Second, PartitionFor: 6 * time.Second, CrashEvery: 3 * time.Second, LeaderBias: 0.7, CommitLogCount: 5},
	{Name: "interrupted-trunc", FaultsItem: "5", Doc: "a follower crashes right after truncating its log; torn tails",
		TornTail: true, CrashEvery: 2 * time.Second, LeaderBias: 0.8,
		CrashAt: []CrashPoint{{Step: crashAfterTruncate, Send: true, P: 0.5}, {Step: zab.TypeTrunc, Send: false, P: 0.3}}},
	{Name: "torn-tails", FaultsItem: "6", Doc: "crashes leave a random prefix of unsynced log writes on disk",
		TornTail: true, CrashEvery: 1500 * time.Millisecond, FsyncMax: 10 * time.Millisecond},
	{Name: "disk-errors", FaultsItem: "7", Doc: "fsync fails (the server stops and restarts) during append",
		FsyncError: 0.01, TornTail: true},
	{Name: "fsync-stalls", FaultsItem: "8", Doc: "fsyncs stall for seconds; a stalled leader must step down, never split the brain",
		Stall: 0.01, StallFor: 4 * time.Second},
	{Name: "process-pauses", FaultsItem: "10", Doc: "a server freezes for seconds (GC-like) and resumes",
		PauseEvery: 3 * time.Second, PauseFor: 3 * time.Second},
	{Name: "partitions", FaultsItem: "11", Doc: "symmetric partitions of random groups, including the leader alone",
		PartitionEvery: 3 * time.Second, PartitionFor: 3 * time.Second, IsolateLeader: true},
	{Name: "asymmetric-partitions", FaultsItem: "11", Doc: "one-way partitions: a leader that can send but not hear, or the reverse",
		PartitionEvery: 3 * time.Second, PartitionFor: 3 * time.Second, Asymmetric: true, IsolateLeader: true},
	{Name: "slow-snapshot", FaultsItem: "12", Doc: "SNAP transfers take longer than the sync limit",
		CommitLogCount: 3, SlowSnapshot: 1500 * time.Millisecond, CrashEvery: 3 * time.Second},
	{Name: "zxid-rollover", FaultsItem: "13", Doc: "each epoch starts near the end of the zxid counter, forcing re-elections",
		NearRollover: true},
}

// ScenarioByName finds a named scenario.
func ScenarioByName(name string) (Scenario, error) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, nil
		}
	}
	var names []string
	for _, s := range Scenarios {
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("sim: unknown scenario %q (have %v)", name, names)
}

// schedule starts the scenario's fault processes.
func (s Scenario) schedule(w *world) {
	if s.CrashEvery > 0 {
		w.after(w.between(s.CrashEvery/2, s.CrashEvery*3/2), func() { crashSome(w) })
	}
	if s.PartitionEvery > 0 {
		w.after(w.between(s.PartitionEvery/2, s.PartitionEvery*3/2), func() { partitionSome(w) })
	}
	if s.PauseEvery > 0 {
		w.after(w.between(s.PauseEvery/2, s.PauseEvery*3/2), func() { pauseSome(w) })
	}
}

func (w *world) currentLeader() *node {
	for _, n := range w.nodes {
		if n.up && n.leader != nil {
			return n
		}
	}
	return nil
}

func crashSome(w *world) {
	if w.healed {
		return
	}
	s := w.opt.Scenario
	victim := w.nodes[w.rng.IntN(len(w.nodes))]
	if l := w.currentLeader(); l != nil && w.chance(s.LeaderBias) {
		victim = l
	}
	victim.crash(true)
	w.after(w.between(s.CrashEvery/2, s.CrashEvery*3/2), func() { crashSome(w) })
}

func partitionSome(w *world) {
	if w.healed {
		return
	}
	s := w.opt.Scenario
	ids := make([]int64, 0, len(w.nodes))
	for _, n := range w.nodes {
		ids = append(ids, n.id)
	}
	w.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	side := ids[:1+w.rng.IntN(len(ids)/2)]
	if l := w.currentLeader(); l != nil && s.IsolateLeader && w.rng.IntN(2) == 0 {
		side = []int64{l.id}
	}
	side = slices.Clone(side)
	w.tracef("partition %v from the rest (one-way %v)", side, s.Asymmetric)
	w.net.partition(side, s.Asymmetric)
	w.after(s.PartitionFor, func() {
		if w.healed {
			return
		}
		w.tracef("partition healed")
		w.net.healAll()
		w.after(w.between(s.PartitionEvery/2, s.PartitionEvery*3/2), func() { partitionSome(w) })
	})
}

// pauseSome freezes a server: it is down for the pause but keeps all its
// state, the way a stopped process or a long GC looks to its peers.
func pauseSome(w *world) {
	if w.healed {
		return
	}
	s := w.opt.Scenario
	n := w.nodes[w.rng.IntN(len(w.nodes))]
	if n.up {
		n.tracef("paused for %v", s.PauseFor)
		n.frozenUntil = w.now + s.PauseFor
	}
	w.after(w.between(s.PauseEvery/2, s.PauseEvery*3/2), func() { pauseSome(w) })
}
