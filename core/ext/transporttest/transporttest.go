// Package transporttest is the conformance kit for ext.Transport
// implementations: every transport in zabkit runs the same checks, and a
// third-party transport can too. Call Run from a test with a Factory that
// sets up an environment per subtest.
//
// What the kit holds every transport to:
//   - per-channel FIFO between a pair, under concurrent load and with
//     batched Sends; large messages arrive intact;
//   - ChanElection keeps only the newest unsent message: older ones may be
//     dropped, the newest arrives, nothing is reordered;
//   - a broadcast link is opened only by a learner's FOLLOWERINFO or
//     OBSERVERINFO; any other broadcast or bulk Send where no link exists
//     is ext.ErrNoRoute; unknown peers (and self) are ext.ErrUnknownPeer;
//   - bulk chunks arrive in order and concatenate to what was sent;
//   - Up/Down events: Up when a link comes up on both ends, Down when it
//     ends (Disconnect from either end, a peer that closes); never two Ups
//     in a row; a FOLLOWERINFO to a peer that is not there gives a Down;
//   - a restarted peer on the same address is reachable again;
//   - Send never blocks: a receiver that stops reading makes Send return
//     ext.ErrBackpressure, and what was accepted arrives once it reads;
//   - garbage sent to a transport's listeners is dropped, and its links
//     with good peers carry on.
package transporttest

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// Env is one test's world: transports made by New reach each other at the
// addresses Addrs hands out.
type Env struct {
	// New returns an unstarted transport. queue > 0 bounds its per-peer
	// send queue on the reliable channels (messages); 0 keeps its default.
	New func(queue int) ext.Transport
	// Addrs returns fresh addresses for the given server ids.
	Addrs func(ids ...int64) []ext.PeerAddr
	// Garbage connects to every listener of p, writes junk, and returns
	// nil once p has hung up on it (an error if p kept the connection).
	// Nil for transports without listeners (transport.mem).
	Garbage func(p ext.PeerAddr, junk []byte) error
}

// Factory makes a fresh Env for each subtest.
type Factory func(t testing.TB) Env

// Run runs the whole kit.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Env)
	}{
		{"ElectionNewest", testElectionNewest},
		{"BroadcastOrder", testBroadcastOrder},
		{"LargeMessages", testLargeMessages},
		{"BulkOrder", testBulkOrder},
		{"Events", testEvents},
		{"HelloToAbsentPeer", testHelloToAbsentPeer},
		{"NoRoute", testNoRoute},
		{"Restart", testRestart},
		{"Backpressure", testBackpressure},
		{"SetPeers", testSetPeers},
		{"Garbage", testGarbage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f(t)) })
	}
}

// Node is one started transport with its recorder.
type Node struct {
	ID  int64
	T   ext.Transport
	Rec *Recorder
}

// Ensemble is a set of servers sharing one member list.
type Ensemble struct {
	t     testing.TB
	env   Env
	queue int
	Addrs []ext.PeerAddr
	nodes map[int64]*Node
}

// NewEnsemble allocates addresses for ids and starts a transport for each
// id in start (nil: all).
func NewEnsemble(t testing.TB, env Env, queue int, ids []int64, start ...int64) *Ensemble {
	e := &Ensemble{t: t, env: env, queue: queue, Addrs: env.Addrs(ids...), nodes: map[int64]*Node{}}
	if start == nil {
		start = ids
	}
	for _, id := range start {
		e.Start(id)
	}
	return e
}

// Config is the TransportConfig of server id.
func (e *Ensemble) Config(id int64) ext.TransportConfig {
	return ext.TransportConfig{Self: id, Peers: e.Addrs, ElectionAlgorithm: "fle", ProtocolVersion: 1}
}

// Start starts (or restarts, on the same addresses) server id with a
// fresh recorder.
func (e *Ensemble) Start(id int64) *Node {
	e.t.Helper()
	tr := e.env.New(e.queue)
	rec := NewRecorder()
	if err := tr.Start(context.Background(), e.Config(id), rec); err != nil {
		e.t.Fatalf("start %d: %v", id, err)
	}
	n := &Node{ID: id, T: tr, Rec: rec}
	e.nodes[id] = n
	// Cleanups run last-in first-out: the recorder is unblocked before the
	// transport closes, so Close never waits on a blocked Deliver.
	e.t.Cleanup(func() { tr.Close() })
	e.t.Cleanup(rec.Unblock)
	return n
}

// Stop closes server id's transport.
func (e *Ensemble) Stop(id int64) {
	e.t.Helper()
	n := e.nodes[id]
	n.Rec.Unblock()
	if err := n.T.Close(); err != nil {
		e.t.Fatalf("close %d: %v", id, err)
	}
	delete(e.nodes, id)
}

// N returns running server id.
func (e *Ensemble) N(id int64) *Node { return e.nodes[id] }

// Addr returns the address of server id.
func (e *Ensemble) Addr(id int64) ext.PeerAddr {
	for _, a := range e.Addrs {
		if a.ID == id {
			return a
		}
	}
	e.t.Fatalf("no server %d", id)
	return ext.PeerAddr{}
}

// Link opens a ZAB link from learner to leader and waits until both ends
// have it up and the leader got the FOLLOWERINFO. Like a learner, it sends
// the FOLLOWERINFO again after a Down (a connect that failed, say on a
// machine too loaded to finish a handshake in time).
func (e *Ensemble) Link(learner, leader int64) {
	e.t.Helper()
	l, d := e.N(learner), e.N(leader)
	before := d.Rec.Count(learner, ext.ChanBroadcast)
	dups := countUps(d.Rec.Events(learner, ext.ChanBroadcast))
	for try := 0; ; try++ {
		ev := l.Rec.Events(leader, ext.ChanBroadcast)
		seen := len(ev)
		if seen > 0 && ev[seen-1] {
			seen++ // a live link is replaced: its Down comes first
		}
		MustSend(e.t, l.T, leader, ext.ChanBroadcast, Hello(learner))
		l.Rec.Wait(e.t, "learner's Up or Down", func() bool { return len(l.Rec.Events(leader, ext.ChanBroadcast)) > seen })
		if ev := l.Rec.Events(leader, ext.ChanBroadcast); ev[seen] {
			break
		}
		if try == 5 {
			e.t.Fatalf("%d could not open a link to %d in %d tries", learner, leader, try+1)
		}
		e.t.Logf("%d: link to %d went down before it came up; sending FOLLOWERINFO again", learner, leader)
	}
	d.Rec.WaitCount(e.t, learner, ext.ChanBroadcast, before+1)
	d.Rec.Wait(e.t, "leader's Up", func() bool { return countUps(d.Rec.Events(learner, ext.ChanBroadcast)) > dups })
}

func countUps(ev []bool) int {
	n := 0
	for _, up := range ev {
		if up {
			n++
		}
	}
	return n
}

// MustSend sends, retrying while the transport reports backpressure, and
// fails the test on any other error.
func MustSend(t testing.TB, tr ext.Transport, to int64, ch ext.Channel, msgs ...[]byte) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for {
		err := tr.Send(to, ch, msgs...)
		if err == nil {
			return
		}
		if !errors.Is(err, ext.ErrBackpressure) || time.Now().After(deadline) {
			t.Fatalf("send to %d on %v: %v", to, ch, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// CheckAlternation fails if the events about any peer on any channel have
// two Ups in a row.
func CheckAlternation(t testing.TB, rec *Recorder, peers ...int64) {
	t.Helper()
	for _, p := range peers {
		for _, ch := range []ext.Channel{ext.ChanElection, ext.ChanBroadcast, ext.ChanBulk} {
			ev := rec.Events(p, ch)
			for i := 1; i < len(ev); i++ {
				if ev[i] && ev[i-1] {
					t.Errorf("two Ups in a row about %d on %v: %v", p, ch, updown(ev))
				}
			}
		}
	}
}

// waitVote waits until the newest vote (seq) from `from` reached n and
// checks that the votes that arrived never went backwards.
func waitVote(t *testing.T, n *Node, from, seq int64, size int) {
	t.Helper()
	n.Rec.Wait(t, "newest vote", func() bool {
		m := n.Rec.Messages(from, ext.ChanElection)
		return len(m) > 0 && VoteSeq(m[len(m)-1]) == seq
	})
	prev := int64(-1)
	for _, m := range n.Rec.Messages(from, ext.ChanElection) {
		s := VoteSeq(m)
		if s < prev {
			t.Fatalf("votes from %d reordered: %d after %d", from, s, prev)
		}
		prev = s
	}
	last := n.Rec.Messages(from, ext.ChanElection)
	if got := last[len(last)-1]; !bytes.Equal(got, Vote(seq, size)) {
		t.Fatalf("vote %d from %d corrupted (%d bytes)", seq, from, len(got))
	}
}

func testElectionNewest(t *testing.T, env Env) {
	e := NewEnsemble(t, env, 0, []int64{1, 2, 3})
	const n = 200
	for i := range int64(n) {
		for _, from := range []int64{1, 2, 3} {
			for _, to := range []int64{1, 2, 3} {
				if from != to {
					MustSend(t, e.N(from).T, to, ext.ChanElection, Vote(i, 64))
				}
			}
		}
	}
	for _, from := range []int64{1, 2, 3} {
		for _, to := range []int64{1, 2, 3} {
			if from != to {
				waitVote(t, e.N(to), from, n-1, 64)
			}
		}
	}
	for _, id := range []int64{1, 2, 3} {
		for _, p := range []int64{1, 2, 3} {
			if p != id {
				e.N(id).Rec.WaitEvents(t, p, ext.ChanElection, true)
			}
		}
		CheckAlternation(t, e.N(id).Rec, 1, 2, 3)
	}
}

// checkPings checks that the broadcast messages from `from` are want
// PINGs numbered 0..want-1 after `skip` leading messages.
func checkPings(t *testing.T, n *Node, from int64, skip, want, size int) {
	t.Helper()
	msgs := n.Rec.Messages(from, ext.ChanBroadcast)
	if len(msgs) != skip+want {
		t.Fatalf("%d got %d broadcast messages from %d, want %d", n.ID, len(msgs), from, skip+want)
	}
	for i, m := range msgs[skip:] {
		if !bytes.Equal(m, Ping(int64(i), size)) {
			qp, err := Decode(m)
			t.Fatalf("%d: message %d from %d is not PING %d (zxid %d, %d data bytes, %v)", n.ID, i, from, i, qp.Zxid, len(qp.Data), err)
		}
	}
}

// sendPings sends PINGs 0..n-1 in batches of varying size.
func sendPings(t *testing.T, tr ext.Transport, to int64, n, size int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	for i := 0; i < n; {
		k := min(1+rng.IntN(20), n-i)
		batch := make([][]byte, k)
		for j := range batch {
			batch[j] = Ping(int64(i+j), size)
		}
		MustSend(t, tr, to, ext.ChanBroadcast, batch...)
		i += k
	}
}

func testBroadcastOrder(t *testing.T, env Env) {
	e := NewEnsemble(t, env, 0, []int64{1, 2, 3})
	const leader, n, size = 2, 3000, 100
	learners := []int64{1, 3}
	for _, l := range learners {
		e.Link(l, leader)
	}
	var wg sync.WaitGroup
	for i, l := range learners {
		wg.Add(2)
		go func() { defer wg.Done(); sendPings(t, e.N(l).T, leader, n, size, uint64(i)) }()
		go func() { defer wg.Done(); sendPings(t, e.N(leader).T, l, n, size, uint64(10+i)) }()
	}
	wg.Wait()
	for _, l := range learners {
		e.N(leader).Rec.WaitCount(t, l, ext.ChanBroadcast, n+1)
		e.N(l).Rec.WaitCount(t, leader, ext.ChanBroadcast, n)
		checkPings(t, e.N(leader), l, 1, n, size)
		checkPings(t, e.N(l), leader, 0, n, size)
	}
}

func testLargeMessages(t *testing.T, env Env) {
	e := NewEnsemble(t, env, 0, []int64{1, 2})
	const vote = 500 << 10
	MustSend(t, e.N(1).T, 2, ext.ChanElection, Vote(1, vote))
	MustSend(t, e.N(2).T, 1, ext.ChanElection, Vote(1, vote))
	waitVote(t, e.N(2), 1, 1, vote)
	waitVote(t, e.N(1), 2, 1, vote)

	e.Link(1, 2)
	const big = 1 << 20
	MustSend(t, e.N(1).T, 2, ext.ChanBroadcast, Ping(0, big))
	MustSend(t, e.N(2).T, 1, ext.ChanBroadcast, Ping(0, big), Ping(1, big))
	e.N(2).Rec.WaitCount(t, 1, ext.ChanBroadcast, 2)
	e.N(1).Rec.WaitCount(t, 2, ext.ChanBroadcast, 2)
	checkPings(t, e.N(2), 1, 1, 1, big)
	checkPings(t, e.N(1), 2, 0, 2, big)
}

func testBulkOrder(t *testing.T, env Env) {
	e := NewEnsemble(t, env, 0, []int64{1, 2})
	e.Link(1, 2)
	stream := SnapStream(1, 3000, 600)
	// A few large nodes make chunks and fields straddle each other.
	big := SnapStream(2, 4, 300<<10)
	leader := e.N(2).T
	rng := rand.New(rand.NewPCG(3, 3))
	for i, s := range [][]byte{stream, big} {
		// Two SNAPs on one link: a receiver that parses the stream must
		// find where the first one ends.
		MustSend(t, leader, 1, ext.ChanBroadcast, Packet(PktSnap, int64(5+i), nil))
		for off := 0; off < len(s); {
			k := min(1+rng.IntN(90000), len(s)-off)
			MustSend(t, leader, 1, ext.ChanBulk, s[off:off+k])
			off += k
		}
	}
	MustSend(t, leader, 1, ext.ChanBroadcast, Packet(PktNewLeader, 1<<32, nil), Ping(0, 10))
	l := e.N(1)
	l.Rec.WaitCount(t, 2, ext.ChanBroadcast, 4)
	want := append(append([]byte(nil), stream...), big...)
	l.Rec.Wait(t, "all bulk bytes", func() bool {
		n := 0
		for _, c := range l.Rec.Messages(2, ext.ChanBulk) {
			n += len(c)
		}
		return n >= len(want)
	})
	if got := bytes.Join(l.Rec.Messages(2, ext.ChanBulk), nil); !bytes.Equal(got, want) {
		t.Fatalf("bulk bytes differ: got %d bytes, want %d", len(got), len(want))
	}
	var types []int32
	for _, m := range l.Rec.Messages(2, ext.ChanBroadcast) {
		qp, err := Decode(m)
		if err != nil {
			t.Fatalf("broadcast message: %v", err)
		}
		types = append(types, qp.Type)
	}
	if len(types) != 4 || types[0] != PktSnap || types[1] != PktSnap || types[2] != PktNewLeader || types[3] != PktPing {
		t.Fatalf("broadcast types %v, want SNAP SNAP NEWLEADER PING", types)
	}
}

func testEvents(t *testing.T, env Env) {
	e := NewEnsemble(t, env, 0, []int64{1, 2})
	l, d := e.N(1), e.N(2)
	const b = ext.ChanBroadcast
	e.Link(1, 2) // both ends have their Up
	lm, dm := l.Rec.Mark(2, b), d.Rec.Mark(1, b)

	// The leader drops the learner.
	d.T.Disconnect(1, b)
	l.Rec.WaitEventsFrom(t, 2, b, lm, false)
	d.Rec.WaitEventsFrom(t, 1, b, dm, false)
	if err := d.T.Send(1, b, Ping(0, 1)); !errors.Is(err, ext.ErrNoRoute) {
		t.Fatalf("leader send after its Down: %v, want ErrNoRoute", err)
	}

	// The learner comes back, then abandons the leader.
	e.Link(1, 2)
	lm, dm = l.Rec.Mark(2, b), d.Rec.Mark(1, b)
	l.T.Disconnect(2, b)
	l.Rec.WaitEventsFrom(t, 2, b, lm, false)
	d.Rec.WaitEventsFrom(t, 1, b, dm, false)

	// A new FOLLOWERINFO on a live link replaces it: Down, then Up.
	e.Link(1, 2)
	lm, dm = l.Rec.Mark(2, b), d.Rec.Mark(1, b)
	hellos := d.Rec.Count(1, b)
	MustSend(t, l.T, 2, b, Hello(1))
	l.Rec.WaitEventsFrom(t, 2, b, lm, false, true)
	d.Rec.WaitEventsFrom(t, 1, b, dm, false, true)
	d.Rec.WaitCount(t, 1, b, hellos+1)

	// Election links.
	MustSend(t, l.T, 2, ext.ChanElection, Vote(1, 40))
	waitVote(t, d, 1, 1, 40)
	l.Rec.WaitEvents(t, 2, ext.ChanElection, true)
	d.Rec.WaitEvents(t, 1, ext.ChanElection, true)
	lm, dm = l.Rec.Mark(2, ext.ChanElection), d.Rec.Mark(1, ext.ChanElection)
	d.T.Disconnect(1, ext.ChanElection)
	l.Rec.WaitEventsFrom(t, 2, ext.ChanElection, lm, false)
	d.Rec.WaitEventsFrom(t, 1, ext.ChanElection, dm, false)
	MustSend(t, d.T, 1, ext.ChanElection, Vote(2, 40))
	waitVote(t, l, 2, 2, 40)
	l.Rec.WaitEventsFrom(t, 2, ext.ChanElection, lm, false, true)
	d.Rec.WaitEventsFrom(t, 1, ext.ChanElection, dm, false, true)
	CheckAlternation(t, l.Rec, 2)
	CheckAlternation(t, d.Rec, 1)
}

func testHelloToAbsentPeer(t *testing.T, env Env) {
	for _, ids := range [][2]int64{{1, 2}, {2, 1}} {
		self, absent := ids[0], ids[1]
		e := NewEnsemble(t, env, 0, []int64{1, 2}, self)
		n := e.N(self)
		MustSend(t, n.T, absent, ext.ChanBroadcast, Hello(self))
		n.Rec.WaitEvents(t, absent, ext.ChanBroadcast, false)
		if err := n.T.Send(absent, ext.ChanBroadcast, Ping(0, 1)); !errors.Is(err, ext.ErrNoRoute) {
			t.Fatalf("send after a failed FOLLOWERINFO: %v, want ErrNoRoute", err)
		}
		// Election messages to an absent peer are simply not delivered.
		if err := n.T.Send(absent, ext.ChanElection, Vote(1, 40)); err != nil {
			t.Fatalf("election send to an absent peer: %v", err)
		}
		e.Stop(self)
	}
}

func testNoRoute(t *testing.T, env Env) {
	e := NewEnsemble(t, env, 0, []int64{1, 2})
	l, d := e.N(1), e.N(2)
	for _, c := range []struct {
		tr  ext.Transport
		to  int64
		ch  ext.Channel
		msg []byte
		err error
	}{
		{d.T, 1, ext.ChanBroadcast, Ping(0, 1), ext.ErrNoRoute},
		{d.T, 1, ext.ChanBulk, []byte{1, 2, 3}, ext.ErrNoRoute},
		{l.T, 2, ext.ChanBroadcast, Ping(0, 1), ext.ErrNoRoute},
		{l.T, 99, ext.ChanBroadcast, Hello(1), ext.ErrUnknownPeer},
		{l.T, 99, ext.ChanElection, Vote(1, 40), ext.ErrUnknownPeer},
		{l.T, 1, ext.ChanElection, Vote(1, 40), ext.ErrUnknownPeer},
	} {
		if err := c.tr.Send(c.to, c.ch, c.msg); !errors.Is(err, c.err) {
			t.Errorf("send to %d on %v: %v, want %v", c.to, c.ch, err, c.err)
		}
	}
}

func testRestart(t *testing.T, env Env) {
	e := NewEnsemble(t, env, 0, []int64{1, 2})
	for round, restart := range []int64{2, 1, 2} {
		other := 3 - restart
		before, after := int64(1000*round), int64(1000*round+500)
		e.Link(1, 2)
		MustSend(t, e.N(other).T, restart, ext.ChanElection, Vote(before, 40))
		waitVote(t, e.N(restart), other, before, 40)
		o := e.N(other)
		bDowns := len(o.Rec.Events(restart, ext.ChanBroadcast))
		eDowns := len(o.Rec.Events(restart, ext.ChanElection))
		e.Stop(restart)
		o.Rec.Wait(t, "Down events from the stopped peer", func() bool {
			b, el := o.Rec.Events(restart, ext.ChanBroadcast), o.Rec.Events(restart, ext.ChanElection)
			return len(b) > bDowns && !b[len(b)-1] && len(el) > eDowns && !el[len(el)-1]
		})
		n := e.Start(restart)
		e.Link(1, 2)
		MustSend(t, o.T, restart, ext.ChanElection, Vote(after, 40))
		MustSend(t, n.T, other, ext.ChanElection, Vote(after, 40))
		waitVote(t, n, other, after, 40)
		waitVote(t, o, restart, after, 40)
		MustSend(t, e.N(2).T, 1, ext.ChanBroadcast, Ping(0, 10))
		e.N(1).Rec.Wait(t, "PING after restart", func() bool {
			m := e.N(1).Rec.Messages(2, ext.ChanBroadcast)
			return len(m) > 0 && bytes.Equal(m[len(m)-1], Ping(0, 10))
		})
		CheckAlternation(t, o.Rec, restart)
	}
}

func testBackpressure(t *testing.T, env Env) {
	const queue, size = 64, 16 << 10
	e := NewEnsemble(t, env, queue, []int64{1, 2})
	l, d := e.N(1), e.N(2)
	d.Rec.Block()
	MustSend(t, l.T, 2, ext.ChanBroadcast, Hello(1))
	accepted := 0
	for ; ; accepted++ {
		if accepted > 1<<20 {
			t.Fatalf("no backpressure after %d messages to a server that does not read", accepted)
		}
		err := l.T.Send(2, ext.ChanBroadcast, Ping(int64(accepted), size))
		if errors.Is(err, ext.ErrBackpressure) {
			break
		}
		if err != nil {
			t.Fatalf("send %d: %v", accepted, err)
		}
	}
	// Election sends neither block nor fail while the peer is stuck.
	for i := range int64(100) {
		if err := l.T.Send(2, ext.ChanElection, Vote(i, 40)); err != nil {
			t.Fatalf("election send under backpressure: %v", err)
		}
	}
	d.Rec.Unblock()
	d.Rec.WaitCount(t, 1, ext.ChanBroadcast, 1+accepted)
	checkPings(t, d, 1, 1, accepted, size)
	MustSend(t, l.T, 2, ext.ChanBroadcast, Ping(int64(accepted), size))
	d.Rec.WaitCount(t, 1, ext.ChanBroadcast, 2+accepted)
	checkPings(t, d, 1, 1, accepted+1, size)
	waitVote(t, d, 1, 99, 40)
}

func testSetPeers(t *testing.T, env Env) {
	e := NewEnsemble(t, env, 0, []int64{1, 2, 3})
	n := e.N(1)
	e.Link(1, 2)
	mark := n.Rec.Mark(2, ext.ChanBroadcast)
	MustSend(t, n.T, 3, ext.ChanElection, Vote(1, 40))
	waitVote(t, e.N(3), 1, 1, 40)
	var without []ext.PeerAddr
	for _, a := range e.Addrs {
		if a.ID != 2 {
			without = append(without, a)
		}
	}
	if err := n.T.SetPeers(without); err != nil {
		t.Fatalf("SetPeers: %v", err)
	}
	n.Rec.WaitEventsFrom(t, 2, ext.ChanBroadcast, mark, false)
	if err := n.T.Send(2, ext.ChanBroadcast, Hello(1)); !errors.Is(err, ext.ErrUnknownPeer) {
		t.Fatalf("send to a removed peer: %v, want ErrUnknownPeer", err)
	}
	MustSend(t, n.T, 3, ext.ChanElection, Vote(2, 40))
	waitVote(t, e.N(3), 1, 2, 40)
	if err := n.T.SetPeers(e.Addrs); err != nil {
		t.Fatalf("SetPeers: %v", err)
	}
	e.Link(1, 2)
}

func testGarbage(t *testing.T, env Env) {
	if env.Garbage == nil {
		t.Log("transport has no listeners; nothing to send garbage to")
		return
	}
	e := NewEnsemble(t, env, 0, []int64{1, 2, 3})
	e.Link(1, 2)
	lm, dm := e.N(1).Rec.Mark(2, ext.ChanBroadcast), e.N(2).Rec.Mark(1, ext.ChanBroadcast)
	MustSend(t, e.N(3).T, 2, ext.ChanElection, Vote(1, 40))
	waitVote(t, e.N(2), 3, 1, 40)
	for i, junk := range Junk() {
		if err := env.Garbage(e.Addr(2), junk); err != nil {
			t.Fatalf("junk %d: %v", i, err)
		}
	}
	// The good links carry on.
	MustSend(t, e.N(1).T, 2, ext.ChanBroadcast, Ping(0, 10))
	MustSend(t, e.N(2).T, 1, ext.ChanBroadcast, Ping(0, 10))
	MustSend(t, e.N(3).T, 2, ext.ChanElection, Vote(2, 40))
	MustSend(t, e.N(2).T, 3, ext.ChanElection, Vote(2, 40))
	e.N(2).Rec.WaitCount(t, 1, ext.ChanBroadcast, 2)
	e.N(1).Rec.WaitCount(t, 2, ext.ChanBroadcast, 1)
	waitVote(t, e.N(2), 3, 2, 40)
	waitVote(t, e.N(3), 2, 2, 40)
	if e.N(1).Rec.Mark(2, ext.ChanBroadcast) != lm || e.N(2).Rec.Mark(1, ext.ChanBroadcast) != dm {
		t.Fatalf("garbage disturbed a good link: events %v and %v", updown(e.N(1).Rec.Events(2, ext.ChanBroadcast)), updown(e.N(2).Rec.Events(1, ext.ChanBroadcast)))
	}
}
