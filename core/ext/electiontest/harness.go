package electiontest

import (
	"container/heap"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/fnv"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// Factory makes the election instance under test for one server. The kit
// calls it again for a server it restarts.
type Factory func(cfg ext.ElectionConfig) (ext.Election, error)

// Net is how the simulated network treats each message.
type Net struct {
	// MinDelay and MaxDelay bound the one-way delay (uniform).
	MinDelay, MaxDelay time.Duration
	// DropRate is the chance that a message is lost.
	DropRate float64
	// Reorder lets messages between one pair overtake each other. Off,
	// each pair's messages arrive in the order sent, as ext.Transport
	// promises per channel.
	Reorder bool
}

// Reliable is a network that delivers everything, in order, within 20 ms.
var Reliable = Net{MinDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond}

// Disk is a server's durable state as the host keeps it.
type Disk struct {
	LastZxid     int64
	CurrentEpoch int64
	Vote         []byte // the last PersistVote
}

// newer reports whether a's (currentEpoch, lastZxid) is newer than b's,
// the comparison of ZooKeeper's discovery guard.
func (a Disk) newer(b Disk) bool {
	if a.CurrentEpoch != b.CurrentEpoch {
		return a.CurrentEpoch > b.CurrentEpoch
	}
	return a.LastZxid > b.LastZxid
}

// Config describes one simulated ensemble.
type Config struct {
	Members []ext.Member
	Factory Factory
	Seed    int64
	Net     Net
	// SyncTimeout is how long a decided server waits for its leader to be
	// established (a leader: for a quorum to follow it) before it looks
	// again; ZooKeeper's initLimit × tickTime. Default 2 s.
	SyncTimeout time.Duration
	// GuardIsError makes a discovery-guard step-down (a follower newer than
	// its leader) an error instead of a count; see Options.UpToDate.
	GuardIsError bool
	// Log, if set, receives one line per event (for replaying a seed).
	Log func(format string, args ...any)
}

// Record is one decision as the host saw it.
type Record struct {
	At       time.Duration
	Server   int64
	Decision ext.Decision
}

// Cluster is the kit's mini-simulator: N election instances joined by a
// simulated network on virtual time, and a minimal host for each. It is
// deliberately small — a message queue, timers, partitions, crashes — and
// self-contained, so the kit runs anywhere without the full simulator
// (core/sim), which also models ZAB, disks and clients.
//
// The host part stands in for what the node does around an election, just
// enough for rounds to end the way they do in a real ensemble:
//
//   - it delivers messages and calls Tick at WakeAt;
//   - it keeps each server's Disk and passes it to Start;
//   - a decided leader is "established" once a quorum (by weight, of
//     live servers linked to it) has decided to follow it: the epoch
//     becomes one past the highest currentEpoch among them, followers are
//     synced (their lastZxid becomes the leader's) and everyone involved
//     gets Established. Unless a follower is newer than the leader: then
//     ZooKeeper's guard fires and the leader looks again;
//   - a server that is not established SyncTimeout after deciding looks
//     again, and so does everyone attached to a leader that is gone, cut
//     off, or left without a quorum.
//
// Everything is deterministic for a seed: map iteration is avoided, and
// the only randomness is the cluster's own generator.
type Cluster struct {
	cfg     Config
	rng     *rand.Rand
	now     time.Duration
	seq     uint64
	events  eventQueue
	ids     []int64 // sorted
	servers map[int64]*server
	total   int64 // voters' weight

	cut     map[[2]int64]bool
	last    map[[2]int64]time.Duration // latest arrival per directed pair, for FIFO
	pending map[[2]int64][]byte        // newest message held per pair while apart

	messages  int
	samples   [32][]byte     // recently sent messages, for mutation
	strangers map[int64]bool // non-members that Inject spoke for
	stepdowns int
	records   []Record
	errs      []error
	trace     hash.Hash64
}

type server struct {
	m           ext.Member
	el          ext.Election
	live        bool
	incarnation int
	disk        Disk

	wakeGen uint64
	wakeAt  time.Duration
	spins   int // Ticks at one instant, to catch a timer that never advances

	decision  *ext.Decision
	hostGen   uint64 // SyncTimeout timer
	leading   bool   // an established leader
	epoch     int64  // its established epoch
	following int64  // attached to this established leader (0: none)
}

func (s *server) voter() bool { return !s.m.Observer && s.m.Weight > 0 }

// attached reports whether s is settled: an established leader, or
// attached to one.
func (s *server) attached() bool { return s.leading || s.following != 0 }

type eventKind uint8

const (
	evDeliver eventKind = iota
	evTick
	evHost
)

type event struct {
	at   time.Duration
	seq  uint64
	kind eventKind
	to   int64
	from int64
	gen  uint64 // incarnation for deliveries, timer generation otherwise
	data []byte
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// NewCluster makes an ensemble with no server running yet; Boot starts
// them.
func NewCluster(cfg Config) (*Cluster, error) {
	if cfg.SyncTimeout == 0 {
		cfg.SyncTimeout = 2 * time.Second
	}
	c := &Cluster{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)),
		servers:   map[int64]*server{},
		cut:       map[[2]int64]bool{},
		last:      map[[2]int64]time.Duration{},
		pending:   map[[2]int64][]byte{},
		strangers: map[int64]bool{},
		trace:     fnv.New64a(),
	}
	for _, m := range cfg.Members {
		if _, dup := c.servers[m.ID]; dup {
			return nil, fmt.Errorf("electiontest: member %d listed twice", m.ID)
		}
		c.servers[m.ID] = &server{m: m}
		c.ids = append(c.ids, m.ID)
		if !m.Observer && m.Weight > 0 {
			c.total += m.Weight
		}
	}
	slices.Sort(c.ids)
	if c.total == 0 {
		return nil, fmt.Errorf("electiontest: no voters")
	}
	return c, nil
}

// Now is the virtual time.
func (c *Cluster) Now() time.Duration { return c.now }

// IDs lists the members, sorted.
func (c *Cluster) IDs() []int64 { return slices.Clone(c.ids) }

// Member returns member id.
func (c *Cluster) Member(id int64) ext.Member { return c.servers[id].m }

// Rand is the cluster's seeded generator, for scenarios to draw from.
func (c *Cluster) Rand() *rand.Rand { return c.rng }

// Messages counts the messages the instances asked to send.
func (c *Cluster) Messages() int { return c.messages }

// Sample returns a recently sent message (nil if none yet), for tests
// that mutate real traffic.
func (c *Cluster) Sample() []byte {
	if c.messages == 0 {
		return nil
	}
	return slices.Clone(c.samples[c.rng.IntN(min(c.messages, len(c.samples)))])
}

// Stepdowns counts leaders the discovery guard sent back to looking.
func (c *Cluster) Stepdowns() int { return c.stepdowns }

// Records lists every decision so far.
func (c *Cluster) Records() []Record { return slices.Clone(c.records) }

// Digest summarises every delivery and decision so far; equal seeds must
// give equal digests.
func (c *Cluster) Digest() uint64 { return c.trace.Sum64() }

// Err returns the first broken rule seen (nil if none).
func (c *Cluster) Err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs[0]
}

func (c *Cluster) logf(format string, args ...any) {
	if c.cfg.Log != nil {
		c.cfg.Log("%12v "+format, append([]any{c.now}, args...)...)
	}
}

func (c *Cluster) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("at %v: %s", c.now, fmt.Sprintf(format, args...)))
}

// Disk returns server id's durable state.
func (c *Cluster) Disk(id int64) Disk { return c.servers[id].disk }

// Live reports whether server id is running.
func (c *Cluster) Live(id int64) bool { return c.servers[id].live }

// Decision is server id's current decision (nil while looking).
func (c *Cluster) Decision(id int64) *ext.Decision { return c.servers[id].decision }

// SetNet changes how messages sent from now on are treated.
func (c *Cluster) SetNet(n Net) { c.cfg.Net = n }

// Partition cuts every link between servers of different groups; a
// member in no group is cut off from everyone.
func (c *Cluster) Partition(groups ...[]int64) {
	group := map[int64]int{}
	for i, g := range groups {
		for _, id := range g {
			group[id] = i + 1
		}
	}
	clear(c.cut)
	for _, a := range c.ids {
		for _, b := range c.ids {
			ga, gb := group[a], group[b]
			if a != b && (ga == 0 || gb == 0 || ga != gb) {
				c.cut[[2]int64{a, b}] = true
			}
		}
	}
	c.connectAll()
	c.host()
}

// Heal restores every link.
func (c *Cluster) Heal() { clear(c.cut); c.connectAll(); c.host() }

func (c *Cluster) linked(a, b int64) bool { return !c.cut[[2]int64{a, b}] }

// Boot starts server id with disk as its durable state.
func (c *Cluster) Boot(id int64, disk Disk) {
	s := c.servers[id]
	s.disk = disk
	c.Restart(id)
}

// Crash stops server id at once; messages in flight to it are lost.
func (c *Cluster) Crash(id int64) {
	s := c.servers[id]
	s.live = false
	s.el = nil
	s.wakeGen++
	s.hostGen++
	s.decision, s.leading, s.following = nil, false, 0
	for _, to := range c.ids {
		delete(c.pending, [2]int64{id, to})
	}
	c.host()
}

// Restart runs a fresh instance on server id's disk (a crash first if it
// is running).
func (c *Cluster) Restart(id int64) {
	s := c.servers[id]
	if s.live {
		c.Crash(id)
	}
	s.incarnation++
	el, err := c.cfg.Factory(ext.ElectionConfig{
		Self:    id,
		Members: slices.Clone(c.cfg.Members),
		Seed:    c.cfg.Seed ^ id<<20 ^ int64(s.incarnation)<<40,
	})
	if err != nil {
		c.fail("factory for server %d: %v", id, err)
		return
	}
	s.el, s.live = el, true
	for _, from := range c.ids {
		c.connect(from, id)
	}
	c.look(s)
	c.host()
}

// Inject delivers data to server id as if from, now (garbage, replays).
// from need not be a member; answers to such a stranger are dropped.
func (c *Cluster) Inject(to, from int64, data []byte) {
	s := c.servers[to]
	if !s.live {
		return
	}
	if _, member := c.servers[from]; !member {
		c.strangers[from] = true
	}
	c.call(s, "Step", func() ext.ElectionOutput { return s.el.Step(c.now, from, data) })
	c.host()
}

// SpuriousTick calls Tick on server id now, whether it asked or not: a
// host may tick early (a coarse timer wheel), and that must do no harm.
func (c *Cluster) SpuriousTick(id int64) {
	s := c.servers[id]
	if !s.live {
		return
	}
	c.call(s, "Tick", func() ext.ElectionOutput { return s.el.Tick(c.now) })
	c.host()
}

// look makes s look for a leader (again).
func (c *Cluster) look(s *server) {
	s.decision, s.leading, s.following = nil, false, 0
	s.hostGen++
	start := ext.RoundStart{LastZxid: s.disk.LastZxid, CurrentEpoch: s.disk.CurrentEpoch, LastVote: slices.Clone(s.disk.Vote)}
	c.logf("%d starts looking (epoch %d, zxid %#x)", s.m.ID, start.CurrentEpoch, start.LastZxid)
	c.call(s, "Start", func() ext.ElectionOutput { return s.el.Start(c.now, start) })
}

// call runs one method of s's instance, turning a panic into a failure
// (the server is then crashed) and applying the output.
func (c *Cluster) call(s *server, method string, f func() ext.ElectionOutput) {
	var out ext.ElectionOutput
	panicked := func() (p bool) {
		defer func() {
			if r := recover(); r != nil {
				c.fail("server %d: %s panicked: %v\n%s", s.m.ID, method, r, debug.Stack())
				p = true
			}
		}()
		out = f()
		return false
	}()
	if panicked {
		c.Crash(s.m.ID)
		return
	}
	c.apply(s, method, out)
}

func (c *Cluster) apply(s *server, method string, out ext.ElectionOutput) {
	if out.PersistVote != nil {
		s.disk.Vote = slices.Clone(out.PersistVote)
	}
	for _, o := range out.Send {
		c.transmit(s.m.ID, o.To, o.Data)
	}
	switch {
	case out.WakeAt == 0:
		s.wakeGen++
	case out.WakeAt < c.now:
		c.fail("server %d: %s asked to be woken at %v, in the past", s.m.ID, method, out.WakeAt)
		s.wakeGen++
	default:
		if out.WakeAt != s.wakeAt {
			s.spins = 0
		}
		s.wakeGen++
		s.wakeAt = out.WakeAt
		c.push(event{at: out.WakeAt, kind: evTick, to: s.m.ID, gen: s.wakeGen})
	}
	if d := out.Decided; d != nil {
		c.decided(s, *d)
	}
}

func (c *Cluster) push(e event) {
	c.seq++
	e.seq = c.seq
	heap.Push(&c.events, e)
}

func (c *Cluster) transmit(from, to int64, data []byte) {
	c.messages++
	if _, ok := c.servers[to]; !ok {
		if !c.strangers[to] {
			c.fail("server %d sent to %d, which is not a member", from, to)
		}
		return
	}
	c.samples[(c.messages-1)%len(c.samples)] = slices.Clone(data)
	if !c.servers[to].live || !c.linked(from, to) {
		// ext.Transport keeps the newest unsent election message per peer
		// and sends it once the peer is reachable.
		c.pending[[2]int64{from, to}] = slices.Clone(data)
		return
	}
	c.send(from, to, data)
}

// send puts data on the wire: maybe lost, else delivered after a delay.
func (c *Cluster) send(from, to int64, data []byte) {
	n := c.cfg.Net
	if n.DropRate > 0 && c.rng.Float64() < n.DropRate {
		return
	}
	delay := n.MinDelay
	if n.MaxDelay > n.MinDelay {
		delay += time.Duration(c.rng.Int64N(int64(n.MaxDelay - n.MinDelay)))
	}
	at := c.now + delay
	pair := [2]int64{from, to}
	if !n.Reorder {
		at = max(at, c.last[pair])
		c.last[pair] = at
	}
	c.push(event{at: at, kind: evDeliver, to: to, from: from, gen: uint64(c.servers[to].incarnation), data: slices.Clone(data)})
}

// connect sends what from kept for to while they could not talk, once
// they can.
func (c *Cluster) connect(from, to int64) {
	pair := [2]int64{from, to}
	data, ok := c.pending[pair]
	if ok && c.servers[from].live && c.servers[to].live && c.linked(from, to) {
		delete(c.pending, pair)
		c.send(from, to, data)
	}
}

func (c *Cluster) connectAll() {
	for _, a := range c.ids {
		for _, b := range c.ids {
			c.connect(a, b)
		}
	}
}

func (c *Cluster) decided(s *server, d ext.Decision) {
	id := s.m.ID
	c.records = append(c.records, Record{At: c.now, Server: id, Decision: d})
	c.logf("%d decides %v %+v", id, d.State, d.Vote)
	c.digest(int64(d.State), id, d.Vote.Leader, d.Vote.ElectionEpoch)
	leader, ok := c.servers[d.Vote.Leader]
	switch {
	case d.State != ext.Leading && d.State != ext.Following && d.State != ext.Observing:
		c.fail("server %d decided state %v", id, d.State)
	case (d.State == ext.Leading) != (d.Vote.Leader == id):
		c.fail("server %d decided %v for leader %d", id, d.State, d.Vote.Leader)
	case !ok || !leader.voter():
		c.fail("server %d decided on leader %d, which is not a voter", id, d.Vote.Leader)
	case s.m.Observer && d.State != ext.Observing:
		c.fail("observer %d decided %v", id, d.State)
	case s.voter() && d.State == ext.Observing:
		c.fail("voter %d decided OBSERVING", id)
	}
	if st, v := s.el.State(); st != d.State || v.Leader != d.Vote.Leader {
		c.fail("server %d decided %v %d but State() says %v %d", id, d.State, d.Vote.Leader, st, v.Leader)
	}
	s.decision = &d
	s.leading, s.following = false, 0
	s.hostGen++
	c.push(event{at: c.now + c.cfg.SyncTimeout, kind: evHost, to: id, gen: s.hostGen})
}

func (c *Cluster) digest(vals ...int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(c.now))
	c.trace.Write(b[:])
	for _, v := range vals {
		binary.BigEndian.PutUint64(b[:], uint64(v))
		c.trace.Write(b[:])
	}
}

// step handles the next event; false when none is left.
func (c *Cluster) step() bool {
	if c.events.Len() == 0 || len(c.errs) > 0 {
		return false
	}
	e := heap.Pop(&c.events).(event)
	c.now = e.at
	s := c.servers[e.to]
	switch e.kind {
	case evDeliver:
		if !s.live || uint64(s.incarnation) != e.gen || !c.linked(e.from, e.to) {
			return true
		}
		c.digest(e.from, e.to, int64(len(e.data)))
		c.logf("%d → %d %x", e.from, e.to, e.data[:min(len(e.data), 44)])
		c.trace.Write(e.data)
		c.call(s, "Step", func() ext.ElectionOutput { return s.el.Step(c.now, e.from, e.data) })
	case evTick:
		if !s.live || e.gen != s.wakeGen {
			return true
		}
		if s.spins++; s.spins > 1000 {
			c.fail("server %d: Tick at %v keeps asking to be woken at %v", e.to, c.now, s.wakeAt)
			return true
		}
		c.call(s, "Tick", func() ext.ElectionOutput { return s.el.Tick(c.now) })
	case evHost:
		if s.live && e.gen == s.hostGen && s.decision != nil && !s.attached() {
			c.look(s) // SyncTimeout: the leader never came (or no quorum followed)
		}
	}
	c.host()
	return true
}

// RunFor advances virtual time by d, handling every event on the way.
func (c *Cluster) RunFor(d time.Duration) {
	end := c.now + d
	for c.events.Len() > 0 && c.events[0].at <= end && c.step() {
	}
	if len(c.errs) == 0 {
		c.now = end
	}
}

// RunUntil handles events until cond holds (true) or virtual time passes
// limit from now, or an error stops the run (false).
func (c *Cluster) RunUntil(cond func(*Cluster) bool, limit time.Duration) bool {
	end := c.now + limit
	for !cond(c) {
		if c.events.Len() == 0 || c.events[0].at > end || !c.step() {
			if len(c.errs) == 0 {
				c.now = max(c.now, end)
			}
			return len(c.errs) == 0 && cond(c)
		}
	}
	return true
}

// quorum reports whether the voters among ids carry more than half of
// the voters' weight.
func (c *Cluster) quorum(ids []int64) bool {
	var w int64
	for _, id := range ids {
		if s := c.servers[id]; s.voter() {
			w += s.m.Weight
		}
	}
	return 2*w > c.total
}

// host runs the node's side of the election after every event: establish
// leaders that a quorum follows, attach late followers, and send servers
// whose leader is gone back to looking.
func (c *Cluster) host() {
	if len(c.errs) > 0 {
		return
	}
	for _, id := range c.ids {
		if s := c.servers[id]; s.live && s.leading {
			c.checkLeader(s)
		}
	}
	for _, id := range c.ids {
		s := c.servers[id]
		if !s.live || s.following == 0 {
			continue
		}
		if l := c.servers[s.following]; !l.live || !l.leading || !c.linked(id, l.m.ID) {
			c.look(s)
		}
	}
	for _, id := range c.ids {
		if s := c.servers[id]; s.live && s.decision != nil && s.decision.State == ext.Leading && !s.leading {
			c.tryEstablish(s)
		}
	}
	for _, id := range c.ids {
		s := c.servers[id]
		if !s.live || s.decision == nil || s.attached() || s.decision.State == ext.Leading {
			continue
		}
		if l := c.servers[s.decision.Vote.Leader]; l.live && l.leading && c.linked(id, l.m.ID) {
			c.attach(s, l)
		}
	}
}

// waiting lists the live servers linked to l that decided to follow it and
// are not attached yet.
func (c *Cluster) waiting(l *server) []int64 {
	var ids []int64
	for _, id := range c.ids {
		s := c.servers[id]
		if id != l.m.ID && s.live && s.decision != nil && !s.attached() &&
			s.decision.Vote.Leader == l.m.ID && s.decision.State != ext.Leading && c.linked(id, l.m.ID) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (c *Cluster) tryEstablish(l *server) {
	f := c.waiting(l)
	if !c.quorum(append(f, l.m.ID)) {
		return
	}
	epoch := l.disk.CurrentEpoch
	for _, id := range f {
		s := c.servers[id]
		if s.voter() && s.disk.newer(l.disk) {
			c.stepdowns++
			if c.cfg.GuardIsError {
				c.fail("leader %d (epoch %d, zxid %#x) is followed by %d, which is newer (epoch %d, zxid %#x)",
					l.m.ID, l.disk.CurrentEpoch, l.disk.LastZxid, id, s.disk.CurrentEpoch, s.disk.LastZxid)
			}
			c.look(l)
			return
		}
		epoch = max(epoch, s.disk.CurrentEpoch)
	}
	epoch++
	l.leading, l.epoch = true, epoch
	l.disk.CurrentEpoch = epoch
	c.digest(-1, l.m.ID, epoch)
	c.logf("%d established, epoch %d, followers %v", l.m.ID, epoch, f)
	c.call(l, "Established", func() ext.ElectionOutput { return l.el.Established(c.now, ext.Leading, epoch) })
	for _, id := range f {
		if s := c.servers[id]; s.live && l.leading {
			c.attach(s, l)
		}
	}
}

func (c *Cluster) attach(s, l *server) {
	s.following = l.m.ID
	s.disk.CurrentEpoch = l.epoch
	s.disk.LastZxid = l.disk.LastZxid
	state := s.decision.State
	c.call(s, "Established", func() ext.ElectionOutput { return s.el.Established(c.now, state, l.epoch) })
}

// checkLeader sends an established leader back to looking when it has no
// quorum of attached, linked followers any more (ZAB's syncLimit).
func (c *Cluster) checkLeader(l *server) {
	ids := []int64{l.m.ID}
	for _, id := range c.ids {
		if s := c.servers[id]; s.live && s.following == l.m.ID && c.linked(id, l.m.ID) {
			ids = append(ids, id)
		}
	}
	if !c.quorum(ids) {
		l.leading = false
		c.look(l)
	}
}

// Leader returns the established leader all live servers are attached to,
// if the ensemble is stable.
func (c *Cluster) Leader() (int64, bool) {
	var live []int64
	for _, id := range c.ids {
		if c.servers[id].live {
			live = append(live, id)
		}
	}
	return c.SettledAmong(live...)
}

// Stable reports whether every live server is attached to one established
// leader.
func (c *Cluster) Stable() bool { _, ok := c.Leader(); return ok }

// SettledAmong reports whether all of ids are live and attached to one
// established leader, and which.
func (c *Cluster) SettledAmong(ids ...int64) (int64, bool) {
	var leader int64
	found := false
	for _, id := range ids {
		s := c.servers[id]
		if !s.live || !s.attached() {
			return 0, false
		}
		l := s.following
		if s.leading {
			l = id
		}
		if found && l != leader {
			return 0, false
		}
		leader, found = l, true
	}
	return leader, found
}

// AllDecided reports whether every live server has decided.
func (c *Cluster) AllDecided() bool {
	for _, id := range c.ids {
		if s := c.servers[id]; s.live && s.decision == nil {
			return false
		}
	}
	return true
}
