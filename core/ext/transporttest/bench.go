package transporttest

import (
	"sync/atomic"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
)

// counter is an inbox that only counts broadcast messages, so a benchmark
// measures the transport rather than a recorder's memory.
type counter struct {
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (c *counter) Deliver(m ext.Message) {
	if m.Channel == ext.ChanBroadcast && c.n.Add(1) == c.want {
		close(c.done)
	}
}
func (c *counter) PeerChanged(ext.PeerEvent) {}

// BenchmarkBroadcast measures one-way broadcast throughput from a leader
// to a learner: b.N packets of `size` data bytes, one Send each, as the
// kernel sends PROPOSALs and COMMITs.
func BenchmarkBroadcast(b *testing.B, f Factory, size int) {
	env := f(b)
	e := NewEnsemble(b, env, 0, []int64{1, 2}, 2)
	c := &counter{want: int64(b.N) + 1, done: make(chan struct{})}
	learner := env.New(0)
	if err := learner.Start(b.Context(), e.Config(1), c); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { learner.Close() })
	MustSend(b, learner, 2, ext.ChanBroadcast, Hello(1))
	e.N(2).Rec.WaitCount(b, 1, ext.ChanBroadcast, 1)
	pkt := Ping(1, size)
	MustSend(b, e.N(2).T, 1, ext.ChanBroadcast, pkt) // the first one opens the way
	b.SetBytes(int64(len(pkt)))
	b.ResetTimer()
	for range b.N {
		MustSend(b, e.N(2).T, 1, ext.ChanBroadcast, pkt)
	}
	<-c.done
}
