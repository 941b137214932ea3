package sim

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/zabkit/zabkit/core/ext"
)

// checker holds what the safety checkers compare across servers.
type checker struct {
	w        *world
	leaders  map[int64]int64 // epoch → sid that served as its leader
	digests  map[int64]int64 // zxid → tree digest after applying it
	digestBy map[int64]int64 // zxid → the server that recorded digests[zxid]
	txns     map[int64]uint64
	blobs    map[uint64]*snapBlob
	nextBlob uint64
	seen     map[string]bool
}

func newChecker(w *world) *checker {
	return &checker{w: w, leaders: map[int64]int64{}, digests: map[int64]int64{}, digestBy: map[int64]int64{},
		txns: map[int64]uint64{}, blobs: map[uint64]*snapBlob{}, seen: map[string]bool{}}
}

func (c *checker) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.seen[msg] {
		return
	}
	c.seen[msg] = true
	c.w.tracef("VIOLATION: %s", msg)
	c.w.res.Violations = append(c.w.res.Violations, fmt.Sprintf("t=%.3fs: %s", c.w.now.Seconds(), msg))
}

// leader: one leader per epoch.
func (c *checker) leader(epoch, sid int64) {
	if prev, ok := c.leaders[epoch]; ok && prev != sid {
		c.violation("two leaders in epoch %d: servers %d and %d", epoch, prev, sid)
	}
	c.leaders[epoch] = sid
	c.w.res.Stats.Elections++
	if c.w.res.Stats.TimeToFirstLeader == 0 {
		c.w.res.Stats.TimeToFirstLeader = c.w.now
	}
}

// applied: every replica that applies zxid z applies the same txn and
// reaches the same tree digest.
func (c *checker) applied(n *node, e ext.Entry) {
	h := fnv.New64a()
	h.Write(e.Data)
	sum := h.Sum64()
	if prev, ok := c.txns[e.Zxid]; ok && prev != sum {
		c.violation("server %d applied a different txn at zxid %#x than another server", n.id, e.Zxid)
	}
	c.txns[e.Zxid] = sum
	d := n.tree.Digest()
	if prev, ok := c.digests[e.Zxid]; ok && prev != d {
		c.violation("digest mismatch at zxid %#x: server %d has %#x, server %d had %#x", e.Zxid, n.id, d, c.digestBy[e.Zxid], prev)
	}
	c.digests[e.Zxid] = d
	c.digestBy[e.Zxid] = n.id
}

// putBlob and getBlob carry a snapshot's ghost state through the network
// alongside its real bytes.
func (c *checker) putBlob(b *snapBlob) []byte {
	c.nextBlob++
	c.blobs[c.nextBlob] = b
	return binary.BigEndian.AppendUint64(nil, c.nextBlob)
}

func (c *checker) getBlob(ref []byte) *snapBlob {
	if len(ref) != 8 {
		return nil
	}
	return c.blobs[binary.BigEndian.Uint64(ref)]
}

// final runs the end-of-run checks.
func (c *checker) final() {
	w := c.w
	// Convergence: one serving leader, everyone up and at its zxid.
	var leader *node
	for _, n := range w.nodes {
		if n.up && n.leader != nil && n.serving {
			if leader != nil {
				c.violation("two serving leaders at the end: %d and %d", leader.id, n.id)
			}
			leader = n
		}
	}
	w.res.Converged = leader != nil
	if leader != nil {
		for _, n := range w.nodes {
			if !n.up || !n.serving || n.tree.LastZxid() != leader.tree.LastZxid() || n.tree.Digest() != leader.tree.Digest() {
				w.res.Converged = false
			}
		}
	}
	// No lost acknowledged op: each must be in the history of every
	// replica that has caught up past it.
	for _, n := range w.nodes {
		if !n.up {
			continue
		}
		have := map[int64]bool{}
		for _, z := range n.applied {
			have[z] = true
		}
		last := n.tree.LastZxid()
		for _, op := range w.load.ops {
			if op.acked && op.zxid <= last && !have[op.zxid] {
				c.violation("acknowledged op (client %d cxid %d, zxid %#x) missing from server %d's history", op.client, op.cxid, op.zxid, n.id)
			}
		}
	}
	c.linearizable()
}

type kvInput struct {
	write bool
	key   int
	value string
}

// linearizable checks the client history with porcupine, one register per
// key. Ops with an unknown outcome may or may not have taken effect.
func (c *checker) linearizable() {
	var hist []porcupine.Operation
	for _, op := range c.w.load.ops {
		if !op.write && !op.acked {
			continue // a read nobody saw the answer to has no effect
		}
		ret := int64(op.ret)
		if op.ret < 0 {
			ret = math.MaxInt64 // still pending at the end
		}
		in := kvInput{write: op.write, key: op.key, value: op.value}
		out := op.value
		if op.write {
			out = ""
		}
		hist = append(hist, porcupine.Operation{ClientId: op.client, Input: in, Output: out, Call: int64(op.call), Return: ret})
	}
	model := porcupine.Model{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			byKey := map[int][]porcupine.Operation{}
			for _, op := range h {
				k := op.Input.(kvInput).key
				byKey[k] = append(byKey[k], op)
			}
			keys := make([]int, 0, len(byKey))
			for k := range byKey {
				keys = append(keys, k)
			}
			sort.Ints(keys)
			var out [][]porcupine.Operation
			for _, k := range keys {
				out = append(out, byKey[k])
			}
			return out
		},
		Init: func() any { return "init" },
		Step: func(state, input, output any) (bool, any) {
			in := input.(kvInput)
			if in.write {
				return true, in.value
			}
			return output.(string) == state.(string), state
		},
	}
	res := porcupine.CheckOperationsTimeout(model, hist, 20*time.Second)
	switch res {
	case porcupine.Illegal:
		c.violation("client history is not linearizable (%d ops)", len(hist))
	case porcupine.Unknown:
		c.w.tracef("linearizability check timed out (%d ops)", len(hist))
	}
}

// leaderChanged tracks write availability: delta +1 when a leader starts
// serving, -1 when it stops.
func (w *world) leaderChanged(delta int) {
	before := w.servingCount
	w.servingCount += delta
	if w.healed {
		return
	}
	if before == 0 && w.servingCount > 0 {
		w.res.Stats.Unavailable += w.now - w.lastChange
	}
	if before > 0 && w.servingCount == 0 {
		w.lastChange = w.now
	}
}
