package sim

import (
	"encoding/binary"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/zab"
)

// network delivers messages between servers. The election channel is
// lossy and may reorder (each message has its own delay, and scenarios add
// drops and duplicates), like QuorumCnxManager's keep-newest queues across
// reconnects. The broadcast and bulk channels are FIFO per link for as long
// as the link lives, like a TCP connection: a partition, a crash or a
// Disconnect kills the link and everything in flight on it.
type network struct {
	w *world
	// cut[a][b] blocks messages from a to b (asymmetric partitions cut
	// one direction only).
	cut map[[2]int64]bool
	// gen[a][b] is the generation of the a→b broadcast link; messages
	// carry the generation they were sent in and die if it changed.
	gen map[[2]int64]uint64
	// last delivery time per link and channel, to keep FIFO order.
	lastAt map[linkKey]time.Duration
	// dead marks a broken quorum connection (unordered pair): like a TCP
	// connection it never delivers again; only a learner opening a new
	// one (FOLLOWERINFO/OBSERVERINFO) revives the pair.
	dead map[[2]int64]bool
	// flaky holds election-message faults per directed link
	// (Control.FlakyLink).
	flaky map[[2]int64]linkFault
}

// linkFault is a flaky election link: messages lost with probability drop,
// the rest up to delay late.
type linkFault struct {
	drop  float64
	delay time.Duration
}

type linkKey struct {
	from, to int64
	ch       ext.Channel
}

func newNetwork(w *world) *network {
	return &network{w: w, cut: map[[2]int64]bool{}, gen: map[[2]int64]uint64{}, lastAt: map[linkKey]time.Duration{}, dead: map[[2]int64]bool{},
		flaky: map[[2]int64]linkFault{}}
}

func (n *network) blocked(from, to int64) bool { return n.cut[[2]int64{from, to}] }

func (n *network) delay() time.Duration {
	s := n.w.opt.Scenario
	return n.w.between(s.MinDelay, s.MaxDelay)
}

// sendElection delivers an election message, maybe dropped or duplicated.
func (n *network) sendElection(from, to int64, data []byte) {
	w := n.w
	w.res.Stats.ElectionMessages++
	if n.blocked(from, to) || w.chance(w.opt.Scenario.Drop) {
		return
	}
	var extra time.Duration
	if f, ok := n.flaky[[2]int64{from, to}]; ok {
		if w.chance(f.drop) {
			return
		}
		extra = w.between(0, f.delay)
	}
	copies := 1
	if w.chance(w.opt.Scenario.Duplicate) {
		copies = 2
	}
	for range copies {
		w.after(n.delay()+extra, func() {
			if n.blocked(from, to) {
				return
			}
			if dst := w.nodes[to-1]; dst.up {
				dst.onElection(from, data)
			}
		})
	}
}

// sendBulk sends a SNAP stream on its own FIFO channel, extra late.
func (n *network) sendBulk(from, to int64, data []byte, extra time.Duration) {
	n.send(from, to, ext.ChanBulk, data, extra)
}

// sendBroadcast delivers a QuorumPacket in link order.
func (n *network) sendBroadcast(from, to int64, ch ext.Channel, data []byte) {
	n.send(from, to, ch, data, 0)
}

func (n *network) send(from, to int64, ch ext.Channel, data []byte, extra time.Duration) {
	w := n.w
	w.res.Stats.Messages++
	key := [2]int64{from, to}
	if n.blocked(from, to) {
		// The connection is dead: TCP would reset or time out; the ZAB
		// timers notice.
		return
	}
	pair := [2]int64{min(from, to), max(from, to)}
	if n.dead[pair] {
		if ch != ext.ChanBroadcast || len(data) < 4 || !opensLink(data) {
			return // no connection: a leader cannot reach an unconnected learner
		}
		// A learner dials a new connection.
		delete(n.dead, pair)
		n.gen[[2]int64{from, to}]++
		n.gen[[2]int64{to, from}]++
	}
	g := n.gen[key]
	lk := linkKey{from, to, ch}
	at := max(w.now+n.delay()+extra, n.lastAt[lk])
	n.lastAt[lk] = at
	w.at(at, func() {
		if n.gen[key] != g || n.blocked(from, to) {
			return
		}
		if dst := w.nodes[to-1]; dst.up {
			dst.onBroadcast(from, ch, data)
		}
	})
}

// breakLink kills both directions of the a–b broadcast link. With notify,
// b (if up) learns it after a short delay, as a reset TCP connection tells
// the far side when a process crashes or closes its socket; a is the side
// that closed it and knows.
func (n *network) breakLink(a, b int64, notify bool) {
	n.gen[[2]int64{a, b}]++
	n.gen[[2]int64{b, a}]++
	n.dead[[2]int64{min(a, b), max(a, b)}] = true
	if !notify {
		return
	}
	w := n.w
	g := n.gen[[2]int64{a, b}]
	w.after(w.between(time.Millisecond, 20*time.Millisecond), func() {
		if n.gen[[2]int64{a, b}] != g {
			return
		}
		if dst := w.nodes[b-1]; dst.up {
			dst.onPeerDown(a)
		}
	})
}

// partition cuts every link between the two groups (one direction only if
// oneWay), killing the broadcast links that cross it.
func (n *network) partition(side []int64, oneWay bool) {
	in := map[int64]bool{}
	for _, s := range side {
		in[s] = true
	}
	for _, a := range n.w.nodes {
		for _, b := range n.w.nodes {
			if in[a.id] && !in[b.id] {
				n.cut[[2]int64{a.id, b.id}] = true
				if !oneWay {
					n.cut[[2]int64{b.id, a.id}] = true
				}
				n.breakLink(a.id, b.id, false)
			}
		}
	}
}

func (n *network) healAll() { clear(n.cut) }

// opensLink reports whether a quorum packet is a learner's first one.
func opensLink(data []byte) bool {
	t := int32(binary.BigEndian.Uint32(data))
	return t == zab.TypeFollowerInfo || t == zab.TypeObserverInfo
}
