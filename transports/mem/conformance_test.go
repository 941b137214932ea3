package mem_test

import (
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/transporttest"
	"github.com/zabkit/zabkit/transports/mem"
)

func env(t testing.TB) transporttest.Env {
	n := mem.NewNetwork()
	t.Cleanup(n.Close)
	return transporttest.Env{
		New: func(queue int) ext.Transport { return n.NewTransport(mem.Options{SendQueue: queue}) },
		Addrs: func(ids ...int64) []ext.PeerAddr {
			out := make([]ext.PeerAddr, len(ids))
			for i, id := range ids {
				out[i] = ext.PeerAddr{ID: id}
			}
			return out
		},
	}
}

func TestConformance(t *testing.T) { transporttest.Run(t, env) }

func BenchmarkBroadcast(b *testing.B) { transporttest.BenchmarkBroadcast(b, env, 128) }
