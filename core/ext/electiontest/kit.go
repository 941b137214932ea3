// Package electiontest is the conformance kit for ext.Election
// implementations: FLE, its variants, and out-of-process election plugins
// all run the same checks. Call Run from a test with a Factory:
//
//	func TestConformance(t *testing.T) {
//		electiontest.Run(t, myalgo.New, electiontest.Options{UpToDate: true})
//	}
//
// The checks run whole ensembles on the kit's own small simulator
// (Cluster: virtual time, seeded network faults, partitions, crashes and a
// minimal host), many seeds each, in well under a second of real time per
// seed. A failure names the scenario and the seed; RunSeed replays one.
//
// What every algorithm must do:
//
//   - liveness: with a quorum connected and a reliable network, every live
//     server decides within Options.DecideWithin of virtual time, and the
//     ensemble settles on one leader;
//   - agreement: once the network is stable, all live servers follow one
//     leader; on a reliable network, voters never decide different
//     leaders in the same round (Vote.ElectionEpoch);
//   - the decided leader is a voter, a server leads iff it names itself,
//     observers decide OBSERVING and voters never do;
//   - recovery: after partitions, drops, reordering and crashes stop, the
//     ensemble settles within Options.StableWithin;
//   - restart: a server restarted from its persisted vote rejoins, and a
//     whole ensemble restarted from persisted votes elects again;
//   - robustness: garbage messages, mutated messages, messages from
//     strangers and early Ticks never panic and do not stop the ensemble
//     from settling;
//   - purity: the same seed gives the same messages and decisions.
//
// Optional (Options.UpToDate): on a reliable network, an elected leader
// is at least as up to date (currentEpoch, lastZxid) as every member of
// the quorum that follows it. ZAB relies on this; for an algorithm that
// does not promise it, the kernel's discovery guard makes the leader step
// down instead, which costs availability but not safety.
package electiontest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// Options tune the kit for an algorithm.
type Options struct {
	// UpToDate turns on the up-to-date check (see the package doc).
	UpToDate bool
	// Seeds is how many seeds each scenario runs. Default 40.
	Seeds int
	// DecideWithin bounds the virtual time from the last server's start to
	// every live server's decision on a reliable network. Default 10 s.
	DecideWithin time.Duration
	// StableWithin bounds the virtual time from the network becoming
	// reliable and whole again to a settled ensemble. An algorithm that
	// backs off while cut off needs at least its longest back-off here.
	// Default 3 min (FLE backs off up to 60 s).
	StableWithin time.Duration
	// SyncTimeout is how long the kit's host waits for a decided leader to
	// be established before its servers look again. Default 2 s.
	SyncTimeout time.Duration
	// Log, if set, receives the simulator's event trace (use with RunSeed).
	Log func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if o.Seeds <= 0 {
		o.Seeds = 40
	}
	if o.DecideWithin <= 0 {
		o.DecideWithin = 10 * time.Second
	}
	if o.StableWithin <= 0 {
		o.StableWithin = 3 * time.Minute
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = 2 * time.Second
	}
	return o
}

// Scenario is one of the kit's checks, run once per seed.
type Scenario struct {
	Name string
	Run  func(f Factory, o Options, seed int64) error
}

// Scenarios lists the kit's checks in the order Run runs them. Their Run
// fills in Options' defaults.
func Scenarios() []Scenario {
	scs := []Scenario{
		{"ColdStart", coldStart},
		{"QuorumUp", quorumUp},
		{"QuorumSide", quorumSide},
		{"LeaderCrash", leaderCrash},
		{"RestartFromPersistedVote", restartAll},
		{"RestartMidElection", restartMidElection},
		{"Faults", faults},
		{"Garbage", garbage},
		{"Deterministic", deterministic},
	}
	for i, sc := range scs {
		scs[i].Run = func(f Factory, o Options, seed int64) error { return sc.Run(f, o.withDefaults(), seed) }
	}
	return scs
}

// Run runs every scenario for o.Seeds seeds.
func Run(t *testing.T, f Factory, o Options) {
	o = o.withDefaults()
	for _, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			for seed := int64(1); seed <= int64(o.Seeds); seed++ {
				if err := sc.Run(f, o, seed); err != nil {
					t.Fatalf("seed %d: %v\n(replay: electiontest.RunSeed(t, factory, opts, %q, %d))", seed, err, sc.Name, seed)
				}
			}
		})
	}
}

// RunSeed replays one scenario with one seed.
func RunSeed(t *testing.T, f Factory, o Options, scenario string, seed int64) {
	for _, sc := range Scenarios() {
		if sc.Name == scenario {
			if err := sc.Run(f, o, seed); err != nil {
				t.Fatalf("%s seed %d: %v", scenario, seed, err)
			}
			return
		}
	}
	t.Fatalf("no scenario %q", scenario)
}

// RandomMembers draws an ensemble: 1 to 7 voters with gaps in their ids,
// sometimes hierarchical weights (1–3, maybe a weight-0 participant) and
// sometimes observers. Specs are ZooKeeper server lines on loopback.
func RandomMembers(r *rand.Rand) []ext.Member {
	n := []int{1, 2, 3, 3, 3, 4, 5, 5, 5, 7}[r.IntN(10)]
	weighted := r.IntN(4) == 0
	var ms []ext.Member
	id := int64(0)
	add := func(observer bool, weight int64) {
		id += 1 + int64(r.IntN(3))
		role := "participant"
		if observer {
			role = "observer"
		}
		ms = append(ms, ext.Member{
			ID: id, Observer: observer, Weight: weight,
			Spec: fmt.Sprintf("127.0.0.1:%d:%d:%s;127.0.0.1:%d", 20000+id, 30000+id, role, 40000+id),
		})
	}
	for range n {
		w := int64(1)
		if weighted {
			w = 1 + r.Int64N(3)
		}
		add(false, w)
	}
	if weighted && n > 1 && r.IntN(2) == 0 {
		add(false, 0)
	}
	for range r.IntN(3) {
		if r.IntN(2) == 0 {
			add(true, 0)
		}
	}
	return ms
}

// RandomDisks draws each member's (currentEpoch, lastZxid): an ensemble
// that ran for a few epochs and stopped with its logs at different points,
// or (sometimes) a brand-new one.
func RandomDisks(r *rand.Rand, ms []ext.Member) map[int64]Disk {
	fresh := r.IntN(4) == 0
	disks := map[int64]Disk{}
	for _, m := range ms {
		if fresh {
			disks[m.ID] = Disk{}
			continue
		}
		epoch := r.Int64N(4)
		zxidEpoch := epoch - r.Int64N(epoch+1)/2
		disks[m.ID] = Disk{CurrentEpoch: epoch, LastZxid: zxidEpoch<<32 | r.Int64N(5)}
	}
	return disks
}

type run struct {
	c     *Cluster
	r     *rand.Rand
	o     Options
	disks map[int64]Disk
}

func newRun(f Factory, o Options, seed int64, net Net, guard bool) (*run, error) {
	r := rand.New(rand.NewPCG(uint64(seed), 0xe1ec7))
	ms := RandomMembers(r)
	c, err := NewCluster(Config{Members: ms, Factory: f, Seed: seed, Net: net, SyncTimeout: o.SyncTimeout, GuardIsError: guard, Log: o.Log})
	if err != nil {
		return nil, err
	}
	return &run{c: c, r: r, o: o, disks: RandomDisks(r, ms)}, nil
}

// boot starts ids in a random order over up to 100 ms, returning when the
// last one started.
func (x *run) boot(ids []int64) time.Duration {
	ids = slices.Clone(ids)
	x.r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for _, id := range ids {
		x.c.RunFor(time.Duration(x.r.Int64N(int64(100*time.Millisecond) / int64(len(ids)))))
		x.c.Boot(id, x.disks[id])
	}
	return x.c.Now()
}

// decidedSince reports whether each of ids has decided at or after t.
func (x *run) decidedSince(t time.Duration, ids []int64) func(*Cluster) bool {
	return func(c *Cluster) bool {
		for _, id := range ids {
			if !slices.ContainsFunc(c.records, func(r Record) bool { return r.Server == id && r.At >= t }) {
				return false
			}
		}
		return true
	}
}

// awaitDecisions runs until every one of ids decided since t.
func (x *run) awaitDecisions(t time.Duration, ids []int64) error {
	if !x.c.RunUntil(x.decidedSince(t, ids), x.o.DecideWithin) {
		return x.errOr(fmt.Errorf("not every server decided within %v: %s", x.o.DecideWithin, x.describe()))
	}
	return nil
}

// awaitStable runs until the live servers settle on one leader.
func (x *run) awaitStable(within time.Duration) error {
	if !x.c.RunUntil((*Cluster).Stable, within) {
		return x.errOr(fmt.Errorf("no stable leader within %v: %s", within, x.describe()))
	}
	return x.c.Err()
}

func (x *run) errOr(err error) error {
	if e := x.c.Err(); e != nil {
		return e
	}
	return err
}

// describe summarises every server for a failure message.
func (x *run) describe() string {
	var b strings.Builder
	for _, id := range x.c.ids {
		s := x.c.servers[id]
		fmt.Fprintf(&b, "\n  %d (w%d obs=%v): ", id, s.m.Weight, s.m.Observer)
		switch {
		case !s.live:
			b.WriteString("down")
		case s.leading:
			fmt.Fprintf(&b, "leading epoch %d", s.epoch)
		case s.following != 0:
			fmt.Fprintf(&b, "attached to %d", s.following)
		case s.decision != nil:
			fmt.Fprintf(&b, "decided %v %d round %d, not attached", s.decision.State, s.decision.Vote.Leader, s.decision.Vote.ElectionEpoch)
		default:
			st, v := s.el.State()
			fmt.Fprintf(&b, "%v, vote %d round %d", st, v.Leader, v.ElectionEpoch)
		}
		fmt.Fprintf(&b, " disk(epoch %d, zxid %#x)", s.disk.CurrentEpoch, s.disk.LastZxid)
	}
	return b.String()
}

// roundAgreement: no two voters decided different leaders in one round.
func (x *run) roundAgreement() error {
	leader := map[int64]Record{}
	for _, r := range x.c.records {
		if !x.c.servers[r.Server].voter() {
			continue
		}
		round := r.Decision.Vote.ElectionEpoch
		if first, ok := leader[round]; ok && first.Decision.Vote.Leader != r.Decision.Vote.Leader {
			return fmt.Errorf("round %d: server %d decided leader %d at %v, server %d leader %d at %v",
				round, first.Server, first.Decision.Vote.Leader, first.At, r.Server, r.Decision.Vote.Leader, r.At)
		}
		leader[round] = r
	}
	return nil
}

// upSet picks servers to keep up such that the voters among them are a
// quorum, with as many voters down as that allows (observers stay up).
func (x *run) upSet() (up, down []int64) {
	ids := x.c.IDs()
	x.r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	up = slices.Clone(ids)
	for _, id := range ids {
		if !x.c.servers[id].voter() {
			continue
		}
		rest := slices.DeleteFunc(slices.Clone(up), func(v int64) bool { return v == id })
		if x.c.quorum(rest) {
			up, down = rest, append(down, id)
		}
	}
	slices.Sort(up)
	return up, down
}

func coldStart(f Factory, o Options, seed int64) error {
	x, err := newRun(f, o, seed, Reliable, o.UpToDate)
	if err != nil {
		return err
	}
	if err := x.elect(x.boot(x.c.IDs()), x.c.IDs()); err != nil {
		return err
	}
	return x.roundAgreement()
}

// quorumUp: only a quorum of voters ever starts.
func quorumUp(f Factory, o Options, seed int64) error {
	x, err := newRun(f, o, seed, Reliable, o.UpToDate)
	if err != nil {
		return err
	}
	up, _ := x.upSet()
	if err := x.elect(x.boot(up), up); err != nil {
		return err
	}
	return x.roundAgreement()
}

// quorumSide: everyone starts, but a partition leaves only a quorum
// connected; that side settles, and after healing everyone does.
func quorumSide(f Factory, o Options, seed int64) error {
	x, err := newRun(f, o, seed, Reliable, false)
	if err != nil {
		return err
	}
	up, down := x.upSet()
	x.c.Partition(up, down)
	t := x.boot(x.c.IDs())
	if err := x.awaitDecisions(t, up); err != nil {
		return err
	}
	if !x.c.RunUntil(func(c *Cluster) bool { _, ok := c.SettledAmong(up...); return ok }, x.o.StableWithin) {
		return x.errOr(fmt.Errorf("the quorum side %v did not settle: %s", up, x.describe()))
	}
	x.c.Heal()
	return x.awaitStable(x.o.StableWithin)
}

func (x *run) stableStart() error { return x.elect(x.boot(x.c.IDs()), x.c.IDs()) }

// elect waits for each of ids to decide (after t), then for the ensemble
// to settle.
func (x *run) elect(t time.Duration, ids []int64) error {
	if err := x.awaitDecisions(t, ids); err != nil {
		return err
	}
	return x.awaitStable(x.o.StableWithin)
}

// leaderCrash: the leader dies; if a quorum is left it elects another,
// and the old leader rejoins when it is back.
func leaderCrash(f Factory, o Options, seed int64) error {
	x, err := newRun(f, o, seed, Reliable, o.UpToDate)
	if err != nil {
		return err
	}
	if err := x.stableStart(); err != nil {
		return err
	}
	old, _ := x.c.Leader()
	x.c.Crash(old)
	var live []int64
	for _, id := range x.c.IDs() {
		if id != old {
			live = append(live, id)
		}
	}
	if x.c.quorum(live) {
		if err := x.awaitStable(x.o.StableWithin); err != nil {
			return err
		}
		if l, _ := x.c.Leader(); l == old {
			return fmt.Errorf("crashed leader %d still leads", old)
		}
	}
	x.c.RunFor(time.Duration(x.r.Int64N(int64(time.Second))))
	x.c.Restart(old)
	if err := x.awaitStable(x.o.StableWithin); err != nil {
		return err
	}
	return x.roundAgreement()
}

// restartAll: every server restarts from its disk and persisted vote.
func restartAll(f Factory, o Options, seed int64) error {
	x, err := newRun(f, o, seed, Reliable, o.UpToDate)
	if err != nil {
		return err
	}
	if err := x.stableStart(); err != nil {
		return err
	}
	for _, id := range x.c.IDs() {
		x.c.Crash(id)
	}
	for _, id := range x.c.IDs() {
		x.c.RunFor(time.Duration(x.r.Int64N(int64(20 * time.Millisecond))))
		x.c.Restart(id) // from its disk: epoch, zxid and the persisted vote
	}
	if err := x.elect(x.c.Now(), x.c.IDs()); err != nil {
		return err
	}
	return x.roundAgreement()
}

// restartMidElection: one server restarts (from its persisted vote) while
// the election is under way.
func restartMidElection(f Factory, o Options, seed int64) error {
	x, err := newRun(f, o, seed, Reliable, false)
	if err != nil {
		return err
	}
	x.boot(x.c.IDs())
	x.c.RunFor(time.Duration(x.r.Int64N(int64(400 * time.Millisecond))))
	ids := x.c.IDs()
	x.c.Restart(ids[x.r.IntN(len(ids))])
	return x.awaitStable(x.o.StableWithin)
}

// faults: lossy, reordering, slow network with changing partitions and
// crashes for 20 s of virtual time; then everything heals.
func faults(f Factory, o Options, seed int64) error {
	x, err := newRun(f, o, seed, Reliable, false)
	if err != nil {
		return err
	}
	return x.faults()
}

func (x *run) faults() error {
	bad := func() Net {
		return Net{MinDelay: time.Millisecond, MaxDelay: time.Duration(1+x.r.IntN(300)) * time.Millisecond,
			DropRate: 0.5 * x.r.Float64(), Reorder: true}
	}
	x.c.SetNet(bad())
	x.boot(x.c.IDs())
	ids := x.c.IDs()
	for x.c.Now() < 20*time.Second {
		x.c.RunFor(time.Duration(100+x.r.IntN(3000)) * time.Millisecond)
		switch x.r.IntN(5) {
		case 0:
			groups := make([][]int64, 1+x.r.IntN(3))
			for _, id := range ids {
				g := x.r.IntN(len(groups))
				groups[g] = append(groups[g], id)
			}
			x.c.Partition(groups...)
		case 1:
			x.c.Heal()
		case 2:
			x.c.Crash(ids[x.r.IntN(len(ids))])
		case 3:
			if id := ids[x.r.IntN(len(ids))]; !x.c.Live(id) {
				x.c.Restart(id)
			}
		case 4:
			x.c.SetNet(bad())
		}
		if err := x.c.Err(); err != nil {
			return err
		}
	}
	x.c.SetNet(Reliable)
	x.c.Heal()
	for _, id := range ids {
		if !x.c.Live(id) {
			x.c.Restart(id)
		}
	}
	return x.awaitStable(x.o.StableWithin)
}

// garbage: random bytes, mutated real messages, messages from strangers
// and early Ticks while an ensemble elects.
func garbage(f Factory, o Options, seed int64) error {
	x, err := newRun(f, o, seed, Reliable, false)
	if err != nil {
		return err
	}
	x.boot(x.c.IDs())
	ids := x.c.IDs()
	for range 200 {
		x.c.RunFor(time.Duration(x.r.IntN(30)) * time.Millisecond)
		to := ids[x.r.IntN(len(ids))]
		if x.r.IntN(5) == 0 {
			x.c.SpuriousTick(to)
			continue
		}
		from := ids[x.r.IntN(len(ids))]
		if x.r.IntN(4) == 0 {
			from = []int64{0, -1, 1 << 40, 999}[x.r.IntN(4)]
		}
		x.c.Inject(to, from, x.junk())
		if err := x.c.Err(); err != nil {
			return err
		}
	}
	return x.awaitStable(x.o.StableWithin)
}

// junk is random bytes or a real message cut, extended or with bytes
// flipped.
func (x *run) junk() []byte {
	b := x.c.Sample()
	if b == nil || x.r.IntN(3) == 0 {
		b = make([]byte, x.r.IntN(300))
		for i := range b {
			b[i] = byte(x.r.Uint32())
		}
		return b
	}
	switch x.r.IntN(3) {
	case 0:
		return b[:x.r.IntN(len(b)+1)]
	case 1:
		return append(b, make([]byte, 1+x.r.IntN(64))...)
	}
	for range 1 + x.r.IntN(4) {
		if len(b) > 0 {
			b[x.r.IntN(len(b))] ^= byte(1 + x.r.IntN(255))
		}
	}
	return b
}

// deterministic: the faults scenario twice with one seed gives the same
// messages and decisions.
func deterministic(f Factory, o Options, seed int64) error {
	var digests [2]uint64
	var records [2][]Record
	for i := range 2 {
		x, err := newRun(f, o, seed, Reliable, false)
		if err != nil {
			return err
		}
		if err := x.faults(); err != nil {
			return err
		}
		digests[i], records[i] = x.c.Digest(), x.c.Records()
	}
	if digests[0] != digests[1] || !slices.Equal(records[0], records[1]) {
		return fmt.Errorf("two runs with seed %d differ: digests %x and %x, %d and %d decisions",
			seed, digests[0], digests[1], len(records[0]), len(records[1]))
	}
	return nil
}
