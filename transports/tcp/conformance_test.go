package tcp_test

import (
	"log/slog"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/transporttest"
	"github.com/zabkit/zabkit/transports/internal/nettest"
	"github.com/zabkit/zabkit/transports/tcp"
)

func quiet() *slog.Logger { return nettest.Logger() }

func env(t testing.TB) transporttest.Env {
	return transporttest.Env{
		New: func(queue int) ext.Transport {
			return tcp.New(tcp.Options{SendQueue: queue, Logger: quiet()})
		},
		Addrs: func(ids ...int64) []ext.PeerAddr {
			out := make([]ext.PeerAddr, len(ids))
			for i, id := range ids {
				out[i] = ext.PeerAddr{ID: id, ElectionAddr: nettest.FreeAddr(t), QuorumAddr: nettest.FreeAddr(t)}
			}
			return out
		},
		Garbage: func(p ext.PeerAddr, junk []byte) error {
			for _, a := range []string{p.ElectionAddr, p.QuorumAddr} {
				if err := nettest.Junk(a, junk); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func TestConformance(t *testing.T) { transporttest.Run(t, env) }

func BenchmarkBroadcast(b *testing.B) { transporttest.BenchmarkBroadcast(b, env, 128) }
