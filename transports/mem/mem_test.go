package mem_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/transporttest"
	"github.com/zabkit/zabkit/transports/mem"
)

// manual starts servers ids on a manual network.
func manual(t *testing.T, ids ...int64) (*mem.Network, map[int64]*mem.Transport, map[int64]*transporttest.Recorder) {
	t.Helper()
	n := mem.NewManualNetwork()
	var addrs []ext.PeerAddr
	for _, id := range ids {
		addrs = append(addrs, ext.PeerAddr{ID: id})
	}
	trs, recs := map[int64]*mem.Transport{}, map[int64]*transporttest.Recorder{}
	for _, id := range ids {
		trs[id], recs[id] = n.NewTransport(mem.Options{SendQueue: 4}), transporttest.NewRecorder()
		if err := trs[id].Start(context.Background(), ext.TransportConfig{Self: id, Peers: addrs}, recs[id]); err != nil {
			t.Fatal(err)
		}
	}
	return n, trs, recs
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func seqs(msgs [][]byte) []int64 {
	var out []int64
	for _, m := range msgs {
		if qp, err := transporttest.Decode(m); err == nil {
			out = append(out, qp.Zxid)
		} else {
			out = append(out, transporttest.VoteSeq(m))
		}
	}
	return out
}

// In manual mode nothing moves until the driver steps, and the newest-only
// election queue keeps just the last undelivered vote.
func TestManualNothingHappensUntilStepped(t *testing.T) {
	n, trs, recs := manual(t, 1, 2)
	for i := range int64(5) {
		must(t, trs[1].Send(2, ext.ChanElection, transporttest.Vote(i, 16)))
	}
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Hello(1)))
	if got := recs[2].Count(1, ext.ChanElection) + recs[2].Count(1, ext.ChanBroadcast); got != 0 {
		t.Fatalf("%d messages delivered before any Step", got)
	}
	// Up×2 (election), vote 4, Up×2 (broadcast), FOLLOWERINFO.
	if p := n.Pending(); p != 6 {
		t.Fatalf("pending %d, want 6", p)
	}
	if d := n.Drain(); d != 6 {
		t.Fatalf("drained %d", d)
	}
	if got := seqs(recs[2].Messages(1, ext.ChanElection)); !slices.Equal(got, []int64{4}) {
		t.Fatalf("votes %v, want only the newest", got)
	}
	recs[2].WaitEvents(t, 1, ext.ChanBroadcast, true)
	recs[1].WaitEvents(t, 2, ext.ChanBroadcast, true)
	// Backpressure counts what is not delivered yet (SendQueue 4).
	for i := range int64(4) {
		must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Ping(i, 1)))
	}
	if err := trs[1].Send(2, ext.ChanBroadcast, transporttest.Ping(4, 1)); !errors.Is(err, ext.ErrBackpressure) {
		t.Fatalf("fifth undelivered message: %v, want ErrBackpressure", err)
	}
	n.Step()
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Ping(4, 1)))
}

// A driver may interleave FIFOs as it likes through Ready/Deliver, but
// never reorder one FIFO.
func TestManualInterleaving(t *testing.T) {
	n, trs, recs := manual(t, 1, 2, 3)
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Hello(1)))
	must(t, trs[3].Send(2, ext.ChanBroadcast, transporttest.Hello(3)))
	n.Drain()
	for i := range int64(3) {
		must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Ping(i, 1)))
		must(t, trs[3].Send(2, ext.ChanBroadcast, transporttest.Ping(i, 1)))
	}
	// Always deliver the last ready envelope: server 3's FIFO goes first.
	for {
		r := n.Ready()
		if len(r) == 0 {
			break
		}
		if len(r) > 2 {
			t.Fatalf("%d heads ready, want at most one per FIFO", len(r))
		}
		must(t, n.Deliver(r[len(r)-1].Seq))
	}
	for _, from := range []int64{1, 3} {
		if got := seqs(recs[2].Messages(from, ext.ChanBroadcast)[1:]); !slices.Equal(got, []int64{0, 1, 2}) {
			t.Fatalf("from %d: %v", from, got)
		}
	}
	if err := n.Deliver(12345); err == nil {
		t.Fatal("Deliver of an unknown envelope succeeded")
	}
}

// Delays run on the manual clock: nothing is ready until Advance reaches
// NextAt, and a delayed FIFO never lets a later message overtake.
func TestManualDelay(t *testing.T) {
	n, trs, recs := manual(t, 1, 2)
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Hello(1)))
	n.Drain()
	n.SetDelay(1, 2, 50*time.Millisecond)
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Ping(0, 1)))
	n.SetDelay(1, 2, 0)
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Ping(1, 1)))
	if n.Step() {
		t.Fatal("a delayed message was ready early")
	}
	at, ok := n.NextAt()
	if !ok || at != 50*time.Millisecond {
		t.Fatalf("NextAt = %v %v, want 50ms", at, ok)
	}
	n.Advance(at)
	if d := n.Drain(); d != 2 {
		t.Fatalf("drained %d, want 2", d)
	}
	if got := seqs(recs[2].Messages(1, ext.ChanBroadcast)[1:]); !slices.Equal(got, []int64{0, 1}) {
		t.Fatalf("order %v", got)
	}
}

// A partition holds messages on an established link (they arrive after
// Heal, in order), refuses new links, and lets events through.
func TestPartition(t *testing.T) {
	n, trs, recs := manual(t, 1, 2, 3)
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Hello(1)))
	n.Drain()
	n.Partition(1, 2)
	must(t, trs[2].Send(1, ext.ChanBroadcast, transporttest.Ping(0, 1)))
	must(t, trs[1].Send(2, ext.ChanElection, transporttest.Vote(1, 16)))
	must(t, trs[3].Send(1, ext.ChanBroadcast, transporttest.Hello(3)))
	n.Drain()
	if recs[1].Count(2, ext.ChanBroadcast) != 0 || recs[2].Count(1, ext.ChanElection) != 0 {
		t.Fatal("a message crossed the partition")
	}
	recs[3].WaitEvents(t, 1, ext.ChanBroadcast, true) // 3 is not cut off
	n.Heal(1, 2)
	n.Drain()
	recs[1].WaitCount(t, 2, ext.ChanBroadcast, 1)
	// The vote found no link while cut off: it waits for the next send.
	must(t, trs[2].Send(1, ext.ChanElection, transporttest.Vote(2, 16)))
	n.Drain()
	if got := seqs(recs[2].Messages(1, ext.ChanElection)); !slices.Equal(got, []int64{1}) {
		t.Fatalf("votes 1→2 after heal: %v (a fresh link re-sends the newest)", got)
	}

	// One way: 1 → 2 held, 2 → 1 flows; a new FOLLOWERINFO cannot cross.
	n.PartitionOneWay(1, 2)
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Ping(7, 1)))
	must(t, trs[2].Send(1, ext.ChanBroadcast, transporttest.Ping(8, 1)))
	n.Drain()
	if recs[2].Count(1, ext.ChanBroadcast) != 1 || recs[1].Count(2, ext.ChanBroadcast) != 2 {
		t.Fatal("one-way partition did not hold exactly one direction")
	}
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Hello(1)))
	n.Drain()
	recs[1].WaitEvents(t, 2, ext.ChanBroadcast, true, false, false)
	n.HealAll()
}

// Dropping an election message loses it; dropping a broadcast message
// breaks the link (both ends Down), never leaving a gap in a stream.
func TestDrop(t *testing.T) {
	n, trs, recs := manual(t, 1, 2)
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Hello(1)))
	n.Drain()
	n.SetDrop(func(e mem.Envelope) bool {
		return bytes.Equal(e.Data, transporttest.Vote(1, 16)) || bytes.Equal(e.Data, transporttest.Ping(1, 1))
	})
	for i := range int64(3) {
		must(t, trs[1].Send(2, ext.ChanElection, transporttest.Vote(i, 16)))
		n.Drain()
	}
	if got := seqs(recs[2].Messages(1, ext.ChanElection)); !slices.Equal(got, []int64{0, 2}) {
		t.Fatalf("votes %v, want 0 2", got)
	}
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Ping(0, 1), transporttest.Ping(1, 1), transporttest.Ping(2, 1)))
	n.Drain()
	if got := recs[2].Count(1, ext.ChanBroadcast); got != 1 {
		t.Fatalf("%d broadcast messages delivered, want the FOLLOWERINFO only", got)
	}
	recs[1].WaitEvents(t, 2, ext.ChanBroadcast, true, false)
	recs[2].WaitEvents(t, 1, ext.ChanBroadcast, true, false)
	n.SetDrop(nil)
}

// Kill breaks a server's links without detaching it; it can reconnect.
func TestKill(t *testing.T) {
	n, trs, recs := manual(t, 1, 2)
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Hello(1)))
	must(t, trs[1].Send(2, ext.ChanElection, transporttest.Vote(1, 16)))
	n.Drain()
	n.Kill(2)
	n.Drain()
	for _, ch := range []ext.Channel{ext.ChanElection, ext.ChanBroadcast} {
		recs[1].WaitEvents(t, 2, ch, true, false)
		recs[2].WaitEvents(t, 1, ch, true, false)
	}
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Hello(1)))
	n.Drain()
	recs[2].WaitCount(t, 1, ext.ChanBroadcast, 2)
}

// Automatic mode honours delays in wall time without reordering a FIFO.
func TestAutoDelay(t *testing.T) {
	n := mem.NewNetwork()
	defer n.Close()
	addrs := []ext.PeerAddr{{ID: 1}, {ID: 2}}
	recs := map[int64]*transporttest.Recorder{}
	trs := map[int64]*mem.Transport{}
	for _, id := range []int64{1, 2} {
		trs[id], recs[id] = n.NewTransport(mem.Options{}), transporttest.NewRecorder()
		must(t, trs[id].Start(context.Background(), ext.TransportConfig{Self: id, Peers: addrs}, recs[id]))
		defer trs[id].Close()
	}
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Hello(1)))
	recs[2].WaitCount(t, 1, ext.ChanBroadcast, 1)
	n.SetDelay(1, 2, 30*time.Millisecond)
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Ping(0, 1)))
	n.SetDelay(1, 2, 0)
	must(t, trs[1].Send(2, ext.ChanBroadcast, transporttest.Ping(1, 1)))
	recs[2].WaitCount(t, 1, ext.ChanBroadcast, 3)
	if got := seqs(recs[2].Messages(1, ext.ChanBroadcast)[1:]); !slices.Equal(got, []int64{0, 1}) {
		t.Fatalf("order %v", got)
	}
	tr := n.NewTransport(mem.Options{})
	if err := tr.Start(context.Background(), ext.TransportConfig{Self: 1, Peers: addrs}, transporttest.NewRecorder()); !errors.Is(err, mem.ErrAddrInUse) {
		t.Fatalf("second server 1: %v, want ErrAddrInUse", err)
	}
}
