package mem

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/transports/internal/link"
)

// Envelope is one pending delivery: a message, or a PeerChanged event for
// To about From.
type Envelope struct {
	Seq      uint64
	From, To int64
	Channel  ext.Channel
	Data     []byte
	// Event is set for an Up/Down event (Data is nil then).
	Event *ext.PeerEvent
	// At is the earliest time it may be delivered (network time).
	At time.Duration

	link *mlink
}

// qkey names one FIFO: everything From → To on one channel. Events about
// a link travel on its broadcast (or election) FIFO, so they stay in order
// with its messages.
type qkey struct {
	from, to int64
	ch       ext.Channel
}

type linkKind uint8

const (
	electionLink linkKind = iota
	quorumLink
)

// mlink is an established link between two transports: an election link
// between any two, or a quorum link from a learner (a) to its leader (b).
type mlink struct {
	kind linkKind
	a, b int64
	// upSeen records, per end, that its Up event was delivered; a message
	// is not delivered to an end before that, whatever FIFO it is on.
	upSeen map[int64]bool
}

func (l *mlink) other(id int64) int64 {
	if id == l.a {
		return l.b
	}
	return l.a
}

type pairKey [2]int64

func unordered(a, b int64) pairKey {
	if a > b {
		a, b = b, a
	}
	return pairKey{a, b}
}

// Network connects in-process transports. All its state sits behind one
// lock; deliveries happen outside it, one at a time: from a pump
// goroutine in automatic mode, from Step in manual mode.
type Network struct {
	mu     sync.Mutex
	manual bool
	start  time.Time
	now    time.Duration // manual mode's clock

	nodes   map[int64]*Transport
	links   map[linkKind]map[pairKey]*mlink
	queues  map[qkey][]*Envelope
	votes   map[qkey][]byte // newest election message per direction
	cuts    map[qkey]bool   // ch 0: a cut From → To
	delays  map[qkey]time.Duration
	drop    func(Envelope) bool
	seq     uint64
	wake    chan struct{}
	stopped chan struct{}
	done    chan struct{}
}

// NewNetwork returns a network in automatic mode: a goroutine delivers
// every envelope as soon as its time has come, in (At, Seq) order. Close
// stops it.
func NewNetwork() *Network {
	n := newNetwork(false)
	go n.pump()
	return n
}

// NewManualNetwork returns a network in manual mode: nothing is delivered
// until the driver (a test, the simulator) calls Step or Deliver, and time
// moves only by Advance. Deliveries run on the driver's goroutine.
func NewManualNetwork() *Network {
	n := newNetwork(true)
	close(n.done)
	return n
}

func newNetwork(manual bool) *Network {
	return &Network{
		manual:  manual,
		start:   time.Now(),
		nodes:   map[int64]*Transport{},
		links:   map[linkKind]map[pairKey]*mlink{electionLink: {}, quorumLink: {}},
		queues:  map[qkey][]*Envelope{},
		votes:   map[qkey][]byte{},
		cuts:    map[qkey]bool{},
		delays:  map[qkey]time.Duration{},
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// Close stops the pump of an automatic network; pending envelopes are
// dropped. Transports attached to it keep failing sends quietly.
func (n *Network) Close() {
	n.mu.Lock()
	select {
	case <-n.stopped:
	default:
		close(n.stopped)
	}
	n.mu.Unlock()
	<-n.done
}

// Now is the network's time: wall time since creation, or the manual
// clock.
func (n *Network) Now() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nowLocked()
}

func (n *Network) nowLocked() time.Duration {
	if n.manual {
		return n.now
	}
	return time.Since(n.start)
}

// Advance moves a manual network's clock forward.
func (n *Network) Advance(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.manual {
		panic("mem: Advance on an automatic network")
	}
	n.now += max(d, 0)
}

// --- faults --------------------------------------------------------------

// Partition cuts traffic between a and b both ways; PartitionOneWay cuts
// from → to only. Messages on links that cross a cut are held (like a TCP
// stream that stalls), not lost: they arrive in order after Heal unless
// the link breaks first. No new link can be opened across a cut: a
// FOLLOWERINFO gets a Down, election messages wait for a later link.
func (n *Network) Partition(a, b int64) {
	n.PartitionOneWay(a, b)
	n.PartitionOneWay(b, a)
}

// PartitionOneWay cuts traffic from → to.
func (n *Network) PartitionOneWay(from, to int64) {
	n.mu.Lock()
	n.cuts[qkey{from: from, to: to}] = true
	n.mu.Unlock()
}

// Heal removes the cuts between a and b (both ways).
func (n *Network) Heal(a, b int64) {
	n.mu.Lock()
	delete(n.cuts, qkey{from: a, to: b})
	delete(n.cuts, qkey{from: b, to: a})
	n.mu.Unlock()
	n.kick()
}

// HealAll removes every cut.
func (n *Network) HealAll() {
	n.mu.Lock()
	clear(n.cuts)
	n.mu.Unlock()
	n.kick()
}

// SetDelay delays every message from → to by d (0 removes the delay).
// FIFO order per channel is kept: a message never overtakes an earlier one.
func (n *Network) SetDelay(from, to int64, d time.Duration) {
	n.mu.Lock()
	if d <= 0 {
		delete(n.delays, qkey{from: from, to: to})
	} else {
		n.delays[qkey{from: from, to: to}] = d
	}
	n.mu.Unlock()
}

// SetDrop installs a hook asked about every message as it is sent (nil
// removes it). Returning true loses the message. Election messages are
// simply lost. A broadcast or bulk message cannot vanish from the middle
// of a reliable stream, so dropping one breaks its link instead (both ends
// get Down), as a connection reset would.
func (n *Network) SetDrop(drop func(Envelope) bool) {
	n.mu.Lock()
	n.drop = drop
	n.mu.Unlock()
}

// Kill breaks every link of server id (both ends get Down), as if its
// connections were reset. The server stays attached and may reconnect.
func (n *Network) Kill(id int64) {
	n.mu.Lock()
	n.breakAllLocked(id, true)
	n.mu.Unlock()
	n.kick()
}

// --- manual driving --------------------------------------------------------

// Ready lists the envelopes that may be delivered now, one per FIFO at
// most (its head), earliest first.
func (n *Network) Ready() []Envelope {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Envelope
	for _, e := range n.headsLocked(n.nowLocked()) {
		out = append(out, *e)
	}
	return out
}

// Pending is the number of envelopes not yet delivered (held or not).
func (n *Network) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, q := range n.queues {
		c += len(q)
	}
	return c
}

// NextAt returns the earliest time at which a head that is not held by a
// cut becomes deliverable, for a simulator deciding how far to Advance.
func (n *Network) NextAt() (time.Duration, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	heads := n.headsLocked(-1)
	if len(heads) == 0 {
		return 0, false
	}
	return heads[0].At, true
}

// Step delivers the earliest ready envelope; false if none is ready.
func (n *Network) Step() bool {
	n.mu.Lock()
	heads := n.headsLocked(n.nowLocked())
	if len(heads) == 0 {
		n.mu.Unlock()
		return false
	}
	n.deliverLocked(heads[0]) // unlocks
	return true
}

// Deliver delivers the ready envelope with sequence number seq (one of
// Ready's), letting a driver choose the interleaving of FIFOs.
func (n *Network) Deliver(seq uint64) error {
	n.mu.Lock()
	for _, e := range n.headsLocked(n.nowLocked()) {
		if e.Seq == seq {
			n.deliverLocked(e)
			return nil
		}
	}
	n.mu.Unlock()
	return fmt.Errorf("mem: envelope %d is not ready", seq)
}

// Drain steps until nothing is ready and returns how many it delivered.
func (n *Network) Drain() int {
	c := 0
	for n.Step() {
		c++
	}
	return c
}

// headsLocked returns the deliverable heads (time permitting up to now; a
// negative now ignores time), sorted by (At, Seq).
func (n *Network) headsLocked(now time.Duration) []*Envelope {
	var heads []*Envelope
	for k, q := range n.queues {
		if len(q) == 0 {
			continue
		}
		e := q[0]
		if e.Event == nil {
			if n.cuts[qkey{from: k.from, to: k.to}] || !e.link.upSeen[e.To] {
				continue
			}
		}
		if now >= 0 && e.At > now {
			continue
		}
		heads = append(heads, e)
	}
	slices.SortFunc(heads, func(x, y *Envelope) int {
		return cmp.Or(cmp.Compare(x.At, y.At), cmp.Compare(x.Seq, y.Seq))
	})
	return heads
}

// deliverLocked removes e from its FIFO and hands it to its transport's
// inbox, with the lock released.
func (n *Network) deliverLocked(e *Envelope) {
	k := qkey{from: e.From, to: e.To, ch: e.Channel}
	q := n.queues[k]
	q[0] = nil
	if len(q) == 1 {
		delete(n.queues, k)
	} else {
		n.queues[k] = q[1:]
	}
	if e.Event != nil && e.Event.Up && e.link != nil {
		e.link.upSeen[e.To] = true
	}
	t := n.nodes[e.To]
	n.mu.Unlock()
	if t == nil {
		return
	}
	if e.Event != nil {
		t.inbox.PeerChanged(*e.Event)
	} else {
		t.inbox.Deliver(ext.Message{From: e.From, Channel: e.Channel, Data: e.Data})
	}
}

func (n *Network) kick() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// pump is the automatic mode's delivery loop.
func (n *Network) pump() {
	defer close(n.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n.mu.Lock()
		select {
		case <-n.stopped:
			n.mu.Unlock()
			return
		default:
		}
		now := n.nowLocked()
		heads := n.headsLocked(-1)
		if len(heads) > 0 && heads[0].At <= now {
			n.deliverLocked(heads[0])
			continue
		}
		n.mu.Unlock()
		var wait <-chan time.Time
		if len(heads) > 0 {
			timer.Reset(heads[0].At - now)
			wait = timer.C
		}
		select {
		case <-n.wake:
		case <-wait:
		case <-n.stopped:
			return
		}
		if wait != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// --- links -------------------------------------------------------------------

// enqueueLocked appends an envelope to its FIFO. Message data is copied:
// a delivered message belongs to its receiver, and a sender may hand the
// same slice to several peers.
func (n *Network) enqueueLocked(e *Envelope) {
	if e.Data != nil {
		e.Data = bytes.Clone(e.Data)
	}
	n.seq++
	e.Seq = n.seq
	k := qkey{from: e.From, to: e.To, ch: e.Channel}
	at := n.nowLocked()
	if e.Event == nil {
		at += n.delays[qkey{from: e.From, to: e.To}]
	}
	if q := n.queues[k]; len(q) > 0 {
		at = max(at, q[len(q)-1].At)
	}
	e.At = at
	n.queues[k] = append(n.queues[k], e)
}

func (n *Network) eventLocked(l *mlink, to int64, ch ext.Channel, up bool) {
	if n.nodes[to] == nil {
		return
	}
	from := l.other(to)
	n.enqueueLocked(&Envelope{From: from, To: to, Channel: ch, link: l,
		Event: &ext.PeerEvent{Peer: from, Channel: ch, Up: up}})
}

// reachableLocked reports whether a link between a and b could be opened:
// both attached, each listing the other, no cut either way.
func (n *Network) reachableLocked(a, b int64) bool {
	ta, tb := n.nodes[a], n.nodes[b]
	return ta != nil && tb != nil && ta.peers[b] && tb.peers[a] &&
		!n.cuts[qkey{from: a, to: b}] && !n.cuts[qkey{from: b, to: a}]
}

func channelOf(kind linkKind) ext.Channel {
	if kind == electionLink {
		return ext.ChanElection
	}
	return ext.ChanBroadcast
}

// openLocked establishes a link of kind from a to b and queues Up to both
// ends (a's first).
func (n *Network) openLocked(kind linkKind, a, b int64) *mlink {
	l := &mlink{kind: kind, a: a, b: b, upSeen: map[int64]bool{}}
	n.links[kind][unordered(a, b)] = l
	ch := channelOf(kind)
	n.eventLocked(l, a, ch, true)
	n.eventLocked(l, b, ch, true)
	return l
}

// breakLocked ends l: its undelivered messages are discarded and both
// attached ends get Down.
func (n *Network) breakLocked(l *mlink) {
	delete(n.links[l.kind], unordered(l.a, l.b))
	for k, q := range n.queues {
		kept := q[:0]
		for _, e := range q {
			if e.link != l || e.Event != nil {
				kept = append(kept, e)
			}
		}
		clear(q[len(kept):])
		if len(kept) == 0 {
			delete(n.queues, k)
		} else {
			n.queues[k] = kept
		}
	}
	ch := channelOf(l.kind)
	n.eventLocked(l, l.a, ch, false)
	n.eventLocked(l, l.b, ch, false)
}

// breakAllLocked breaks id's links (with a peer filter when only is set).
func (n *Network) breakAllLocked(id int64, all bool, only ...int64) {
	for _, kind := range []linkKind{electionLink, quorumLink} {
		for _, l := range n.links[kind] {
			if l.a != id && l.b != id {
				continue
			}
			if all || slices.Contains(only, l.other(id)) {
				n.breakLocked(l)
			}
		}
	}
}

func (n *Network) linkLocked(kind linkKind, a, b int64) *mlink {
	return n.links[kind][unordered(a, b)]
}

// sendLocked implements Transport.Send for t.
func (n *Network) sendLocked(t *Transport, to int64, ch ext.Channel, msgs [][]byte) error {
	from := t.self
	switch ch {
	case ext.ChanElection:
		m := msgs[len(msgs)-1]
		n.votes[qkey{from: from, to: to}] = m
		l := n.linkLocked(electionLink, from, to)
		if l == nil {
			if !n.reachableLocked(from, to) {
				return nil
			}
			l = n.openLocked(electionLink, from, to)
			// A fresh connection re-sends the newest vote each way.
			if v := n.votes[qkey{from: to, to: from}]; v != nil {
				n.voteLocked(l, to, from, v)
			}
		}
		n.voteLocked(l, from, to, m)
		return nil
	case ext.ChanBroadcast, ext.ChanBulk:
		if ch == ext.ChanBroadcast && link.IsHello(msgs[0]) {
			if old := n.linkLocked(quorumLink, from, to); old != nil {
				n.breakLocked(old)
			}
			if !n.reachableLocked(from, to) {
				// The dial failed: a Down without an Up.
				n.enqueueLocked(&Envelope{From: to, To: from, Channel: ext.ChanBroadcast,
					Event: &ext.PeerEvent{Peer: to, Channel: ext.ChanBroadcast, Up: false}})
				return nil
			}
			l := n.openLocked(quorumLink, from, to)
			return n.streamLocked(l, from, to, ch, msgs, 0)
		}
		l := n.linkLocked(quorumLink, from, to)
		if l == nil {
			return fmt.Errorf("%w: %d on %v", ext.ErrNoRoute, to, ch)
		}
		return n.streamLocked(l, from, to, ch, msgs, t.opts.SendQueue)
	}
	return fmt.Errorf("mem: unknown channel %d", ch)
}

// voteLocked queues an election message, replacing an undelivered older
// one from the same sender (the newest-only send queue).
func (n *Network) voteLocked(l *mlink, from, to int64, m []byte) {
	e := &Envelope{From: from, To: to, Channel: ext.ChanElection, Data: m, link: l}
	if n.drop != nil && n.drop(*e) {
		return
	}
	k := qkey{from: from, to: to, ch: ext.ChanElection}
	q := n.queues[k]
	kept := q[:0]
	for _, old := range q {
		if old.Event != nil {
			kept = append(kept, old)
		}
	}
	clear(q[len(kept):])
	n.queues[k] = kept
	n.enqueueLocked(e)
}

// streamLocked queues broadcast or bulk messages, all or nothing; limit > 0
// bounds the undelivered messages from → to on both reliable channels.
func (n *Network) streamLocked(l *mlink, from, to int64, ch ext.Channel, msgs [][]byte, limit int) error {
	if limit > 0 {
		queued := 0
		for _, c := range []ext.Channel{ext.ChanBroadcast, ext.ChanBulk} {
			for _, e := range n.queues[qkey{from: from, to: to, ch: c}] {
				if e.Event == nil {
					queued++
				}
			}
		}
		if queued+len(msgs) > limit {
			return fmt.Errorf("%w (%d messages queued to %d)", ext.ErrBackpressure, queued, to)
		}
	}
	for _, m := range msgs {
		e := &Envelope{From: from, To: to, Channel: ch, Data: m, link: l}
		if n.drop != nil && n.drop(*e) {
			n.breakLocked(l)
			return nil
		}
		n.enqueueLocked(e)
	}
	return nil
}
