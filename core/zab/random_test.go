package zab

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// step delivers one random packet that is first on its link (links stay
// FIFO) or makes one random peer's log durable. It reports false when
// nothing was left to do.
func (c *cluster) step(rng *rand.Rand) bool {
	var heads []int
	seen := map[[2]int64]bool{}
	for i, pk := range c.queue {
		k := [2]int64{pk.from, pk.to}
		if !seen[k] {
			seen[k] = true
			heads = append(heads, i)
		}
	}
	var dirty []int64
	for _, sid := range c.sids() {
		if len(c.peers[sid].unsynced) > 0 {
			dirty = append(dirty, sid)
		}
	}
	if len(heads) == 0 && len(dirty) == 0 {
		return false
	}
	if len(dirty) > 0 && (len(heads) == 0 || rng.IntN(4) == 0) {
		c.fsync(dirty[rng.IntN(len(dirty))])
		return true
	}
	i := heads[rng.IntN(len(heads))]
	pk := c.queue[i]
	c.queue = slices.Delete(c.queue, i, i+1)
	c.deliver(pk)
	return true
}

// crashRestart kills a learner (losing what it had not fsynced, and every
// packet in flight to or from it) and starts it again from its durable
// state, as a restarted process would: its log replayed into its state.
func (c *cluster) crashRestart(rng *rand.Rand, sid, leader int64) {
	p := c.peers[sid]
	if p.learner == nil {
		return
	}
	c.queue = slices.DeleteFunc(c.queue, func(pk packet) bool { return pk.from == sid || pk.to == sid })
	p.unsynced = nil
	p.restore()
	p.state.LastZxid = 0
	if n := len(p.applied); n > 0 {
		p.state.LastZxid = p.applied[n-1]
	}
	p.serving = false
	c.trace = append(c.trace, fmt.Sprintf("%d crash", sid))
	c.do(c.peers[leader], c.peers[leader].leader.PeerDown(c.now, sid))
	c.startLearner(sid, leader)
}

// Under random delivery interleavings and fsync timings, with learners
// joining while proposals are in flight, every replica applies a prefix of
// the same sequence and, once quiet, all of it.
func TestRandomInterleavings(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		c := newCluster(t, []int64{1, 2, 3, 4, 5}, []int64{6})
		c.cfg.CommitLogCount = 3 + rng.IntN(10)
		base := []int64{zx(1, 1), zx(1, 2), zx(1, 3), zx(1, 4)}
		for _, sid := range c.sids() {
			c.seed(sid, 1, 1, base[:rng.IntN(len(base)+1)]...)
			c.peers[sid].asyncLog = true
		}
		// The leader has the longest history, as election guarantees.
		c.seed(5, 1, 1, base...)
		c.peers[5].asyncLog = true
		c.startLeader(5)
		order := rng.Perm(5)
		started := 0
		var proposed []int64
		for round := 0; round < 40; round++ {
			if started < len(order) && rng.IntN(3) == 0 {
				sid := int64(order[started] + 1)
				if sid == 5 {
					sid = 6
				}
				c.startLearner(sid, 5)
				started++
			}
			if rng.IntN(10) == 0 {
				c.crashRestart(rng, int64(1+rng.IntN(4)), 5)
			}
			if c.peers[5].leader.Serving() && rng.IntN(2) == 0 {
				proposed = append(proposed, c.propose(5, 1+rng.IntN(3))...)
			}
			for i := rng.IntN(8); i > 0 && c.step(rng); i-- {
			}
		}
		for c.step(rng) {
		}
		leader := c.peers[5].applied
		for _, sid := range c.sids() {
			p := c.peers[sid]
			if p.down != nil {
				t.Fatalf("seed %d: server %d stepped down: %v", seed, sid, p.down)
			}
			if p.learner == nil && p.leader == nil {
				continue
			}
			if !slices.Equal(p.applied, leader) {
				t.Fatalf("seed %d: server %d applied %x\nleader applied %x", seed, sid, p.applied, leader)
			}
		}
		if len(proposed) > 0 && leader[len(leader)-1] != proposed[len(proposed)-1] {
			t.Fatalf("seed %d: last proposal %#x not committed (leader at %#x)", seed, proposed[len(proposed)-1], leader[len(leader)-1])
		}
	}
}
