package zab

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// peer is a test host: it carries out a role's actions against an
// in-memory log and state, the way core/node will against a store and a
// data tree.
type peer struct {
	sid     int64
	state   State
	log     []ext.Entry // durable log
	applied []int64     // zxids applied to the "tree", in order
	leader  *Leader
	learner *Learner
	serving bool
	down    error
	// asyncLog holds appends not yet durable, when the test controls fsync.
	asyncLog bool
	unsynced []ext.Entry
	syncs    []int64
	snapSent map[int64]int64
	snap     []int64 // durable snapshot: the applied zxids it holds
}

// restore rebuilds the state a restarted process has: the snapshot, then
// the log after it.
func (p *peer) restore() {
	p.applied = slices.Clone(p.snap)
	last := int64(-1)
	if n := len(p.snap); n > 0 {
		last = p.snap[n-1]
	}
	for _, e := range p.log {
		if e.Zxid > last {
			p.applied = append(p.applied, e.Zxid)
		}
	}
}

type packet struct {
	from, to int64
	data     []byte
}

// cluster wires peers with FIFO links and records a readable trace.
type cluster struct {
	t     *testing.T
	cfg   Config
	peers map[int64]*peer
	queue []packet
	now   time.Duration
	trace []string
	// cut drops every packet between the two sids (both directions).
	cut map[[2]int64]bool
}

func newCluster(t *testing.T, voters []int64, observers []int64) *cluster {
	c := &cluster{t: t, peers: map[int64]*peer{}, cut: map[[2]int64]bool{}}
	c.cfg = Config{Voters: voters, Observers: observers, TickTime: 100 * time.Millisecond, InitLimit: 10, SyncLimit: 5}
	for _, sid := range append(slices.Clone(voters), observers...) {
		c.peers[sid] = &peer{sid: sid, snapSent: map[int64]int64{}}
	}
	return c
}

func (c *cluster) config(sid int64) Config { cfg := c.cfg; cfg.Self = sid; return cfg }

// seed gives a peer a history: entries zxids, all logged and applied.
func (c *cluster) seed(sid int64, accepted, current int64, zxids ...int64) {
	p := c.peers[sid]
	p.state = State{AcceptedEpoch: accepted, CurrentEpoch: current}
	p.log, p.applied = nil, nil
	for _, z := range zxids {
		p.log = append(p.log, ext.Entry{Zxid: z, Data: []byte(fmt.Sprintf("txn-%x", z))})
		p.applied = append(p.applied, z)
		p.state.LastZxid = z
	}
}

func (c *cluster) startLeader(sid int64) {
	p := c.peers[sid]
	l, out := NewLeader(c.config(sid), p.state, p.log, c.now)
	p.leader = l
	c.do(p, out)
}

func (c *cluster) startLearner(sid, leader int64) {
	p := c.peers[sid]
	f, out := NewLearner(c.config(sid), p.state, leader, c.now)
	p.learner = f
	c.do(p, out)
}

func (c *cluster) do(p *peer, out Output) {
	for _, a := range out.Actions {
		switch a := a.(type) {
		case Send:
			c.trace = append(c.trace, fmt.Sprintf("%d>%d %s(%#x)", p.sid, a.To, TypeName(a.Type), a.Zxid))
			if !c.cut[[2]int64{min(p.sid, a.To), max(p.sid, a.To)}] {
				c.queue = append(c.queue, packet{from: p.sid, to: a.To, data: a.Data})
			}
		case SaveEpochs:
			if a.Accepted < a.Current {
				c.t.Fatalf("server %d: accepted epoch %d below current %d", p.sid, a.Accepted, a.Current)
			}
			p.state.AcceptedEpoch, p.state.CurrentEpoch = a.Accepted, a.Current
		case Append:
			for _, e := range a.Entries {
				if n := len(p.log) + len(p.unsynced); n > 0 {
					last := p.lastLogged()
					if e.Zxid <= last {
						c.t.Fatalf("server %d: append %#x after %#x", p.sid, e.Zxid, last)
					}
				}
			}
			if p.asyncLog {
				p.unsynced = append(p.unsynced, a.Entries...)
			} else {
				p.log = append(p.log, a.Entries...)
				c.logged(p, a.Entries[len(a.Entries)-1].Zxid)
			}
		case Truncate:
			i := 0
			for i < len(p.log) && p.log[i].Zxid <= a.Zxid {
				i++
			}
			p.log = p.log[:i]
			p.restore()
		case Apply:
			for _, e := range a.Entries {
				if n := len(p.applied); n > 0 && p.applied[n-1] >= e.Zxid {
					c.t.Fatalf("server %d: apply %#x after %#x\n%s", p.sid, e.Zxid, p.applied[n-1], strings.Join(c.trace, "\n"))
				}
				p.applied = append(p.applied, e.Zxid)
			}
		case SendSnapshot:
			// The "snapshot" is the leader's applied list up to Zxid.
			p.snapSent[a.To] = a.Zxid
			src := c.peers[p.sid].applied
			i := 0
			for i < len(src) && src[i] <= a.Zxid {
				i++
			}
			if i == 0 || src[i-1] != a.Zxid && a.Zxid != 0 {
				c.t.Fatalf("leader %d: snapshot at %#x but applied %v", p.sid, a.Zxid, src)
			}
			dst := c.peers[a.To]
			dst.applied = slices.Clone(src[:i])
		case ExpectSnapshot:
			// Loaded "from the bulk channel" by SendSnapshot above, which
			// ran before this packet was delivered.
			i := 0
			for i < len(p.log) && p.log[i].Zxid <= a.Zxid {
				i++
			}
			p.log = p.log[:i]
			c.do(p, p.learner.SnapshotLoaded(c.now, a.Zxid))
		case TakeSnapshot:
			p.snap = slices.Clone(p.applied)
			c.trace = append(c.trace, fmt.Sprintf("%d snapshot(%#x)", p.sid, a.Zxid))
		case Serve:
			p.serving = true
			c.trace = append(c.trace, fmt.Sprintf("%d serve(%s, epoch %d)", p.sid, a.State, a.Epoch))
		case Deliver:
			if a.Type == TypeSync {
				p.syncs = append(p.syncs, -1)
			}
		case SyncDone:
			p.syncs = append(p.syncs, a.Token)
		case Disconnect:
			c.trace = append(c.trace, fmt.Sprintf("%d disconnect %d", p.sid, a.Peer))
		case StepDown:
			p.down = a.Err
			c.trace = append(c.trace, fmt.Sprintf("%d stepdown: %v", p.sid, a.Err))
		default:
			c.t.Fatalf("unknown action %T", a)
		}
	}
}

func (p *peer) lastLogged() int64 {
	if n := len(p.unsynced); n > 0 {
		return p.unsynced[n-1].Zxid
	}
	if n := len(p.log); n > 0 {
		return p.log[n-1].Zxid
	}
	return 0
}

func (c *cluster) logged(p *peer, zxid int64) {
	switch {
	case p.leader != nil:
		c.do(p, p.leader.Logged(c.now, zxid))
	case p.learner != nil:
		c.do(p, p.learner.Logged(c.now, zxid))
	}
}

// fsync makes a peer's pending appends durable.
func (c *cluster) fsync(sid int64) {
	p := c.peers[sid]
	if len(p.unsynced) == 0 {
		return
	}
	p.log = append(p.log, p.unsynced...)
	last := p.unsynced[len(p.unsynced)-1].Zxid
	p.unsynced = nil
	c.logged(p, last)
}

// run delivers queued packets until none are left.
func (c *cluster) run() {
	for steps := 0; len(c.queue) > 0; steps++ {
		if steps > 100000 {
			c.t.Fatal("no quiescence")
		}
		pk := c.queue[0]
		c.queue = c.queue[1:]
		c.deliver(pk)
	}
}

// deliver hands a packet to its destination's role.
func (c *cluster) deliver(pk packet) {
	p := c.peers[pk.to]
	switch {
	case p.leader != nil:
		c.do(p, p.leader.Step(c.now, pk.from, pk.data))
	case p.learner != nil:
		c.do(p, p.learner.Step(c.now, pk.from, pk.data))
	}
}

func (c *cluster) tick(d time.Duration) {
	c.now += d
	for _, sid := range c.sids() {
		p := c.peers[sid]
		switch {
		case p.leader != nil:
			c.do(p, p.leader.Tick(c.now))
		case p.learner != nil:
			c.do(p, p.learner.Tick(c.now))
		}
	}
}

func (c *cluster) sids() []int64 {
	var ids []int64
	for sid := range c.peers {
		ids = append(ids, sid)
	}
	slices.Sort(ids)
	return ids
}

// propose has the leader propose n txns in its epoch.
func (c *cluster) propose(sid int64, n int) []int64 {
	p := c.peers[sid]
	var es []ext.Entry
	var zs []int64
	next := p.leader.LastProposed() + 1
	if EpochOf(next) != p.leader.Epoch() {
		next = Zxid(p.leader.Epoch(), 1)
	}
	for i := 0; i < n; i++ {
		z := next + int64(i)
		es = append(es, ext.Entry{Zxid: z, Data: []byte(fmt.Sprintf("txn-%x", z))})
		zs = append(zs, z)
	}
	out, err := p.leader.Propose(c.now, es)
	if err != nil && !errors.Is(err, ErrZxidRollover) {
		c.t.Fatalf("propose: %v", err)
	}
	c.do(p, out)
	return zs
}

func (c *cluster) expectTrace(t *testing.T, want string) {
	t.Helper()
	got := strings.Join(c.trace, "\n")
	want = strings.TrimSpace(want)
	if got != want {
		t.Fatalf("trace:\n%s\n--- want:\n%s", got, want)
	}
}

func zx(e, c int64) int64 { return Zxid(e, c) }
