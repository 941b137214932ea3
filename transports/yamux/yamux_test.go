package yamux_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/transporttest"
	"github.com/zabkit/zabkit/transports/internal/nettest"
	"github.com/zabkit/zabkit/transports/yamux"
)

// records keeps the log of a transport: has looks at its errors, and a
// failing test prints all of it.
type records struct {
	mu   sync.Mutex
	msgs []string // level ERROR
	all  []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	r.mu.Lock()
	if rec.Level >= slog.LevelError {
		r.msgs = append(r.msgs, b.String())
	}
	r.all = append(r.all, rec.Time.Format("15:04:05.000")+" "+b.String())
	r.mu.Unlock()
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) has(sub string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		if strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

type server struct {
	tr   *yamux.Transport
	rec  *transporttest.Recorder
	logs *records
}

func start(t *testing.T, id int64, addrs []ext.PeerAddr, alg string, version int64) *server {
	t.Helper()
	s := &server{rec: transporttest.NewRecorder(), logs: &records{}}
	s.tr = yamux.New(yamux.Options{Logger: slog.New(s.logs)})
	cfg := ext.TransportConfig{Self: id, Peers: addrs, ElectionAlgorithm: alg, ProtocolVersion: version}
	if err := s.tr.Start(context.Background(), cfg, s.rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.tr.Close()
		if t.Failed() {
			s.logs.mu.Lock()
			t.Logf("server %d log:\n%s", id, strings.Join(s.logs.all, "\n"))
			s.logs.mu.Unlock()
		}
	})
	return s
}

func addrs(t *testing.T, ids ...int64) []ext.PeerAddr {
	out := make([]ext.PeerAddr, len(ids))
	for i, id := range ids {
		out[i] = ext.PeerAddr{ID: id, QuorumAddr: nettest.FreeAddr(t)}
	}
	return out
}

// sendUntil sends a vote every few milliseconds until Send's error is
// (refused) or is not (!refused) ext.ErrRefused.
func sendUntil(t *testing.T, s *server, to, seq int64, refused bool) {
	t.Helper()
	deadline := time.Now().Add(transporttest.WaitTimeout)
	for {
		err := s.tr.Send(to, ext.ChanElection, transporttest.Vote(seq, 40))
		if err != nil && !errors.Is(err, ext.ErrRefused) {
			t.Fatalf("send: %v", err)
		}
		if (err != nil) == refused {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Send to %d never returned refused=%v", to, refused)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A peer with another election algorithm or protocol version is refused
// at the handshake, on both sides, and never half-joins: no event, no
// message, and its FOLLOWERINFO is refused too. Once it comes back with the
// same settings it joins.
func TestRefusedAtHandshake(t *testing.T) {
	for _, c := range []struct {
		name    string
		alg     string
		version int64
		why     string
	}{
		{"algorithm", "raft", 1, "election algorithm"},
		{"version", "fle", 2, "protocol version"},
	} {
		t.Run(c.name, func(t *testing.T) {
			as := addrs(t, 1, 2)
			a := start(t, 1, as, "fle", 1)
			b := start(t, 2, as, c.alg, c.version)
			sendUntil(t, a, 2, 1, true)
			sendUntil(t, b, 1, 1, true)
			if err := a.tr.Send(2, ext.ChanBroadcast, transporttest.Hello(1)); !errors.Is(err, ext.ErrRefused) {
				t.Fatalf("FOLLOWERINFO to a refused peer: %v, want ErrRefused", err)
			}
			for _, s := range []*server{a, b} {
				if !s.logs.has(c.why) || !s.logs.has(ext.ErrRefused.Error()) {
					t.Fatalf("refusal not logged with ErrRefused and the reason (%q): %q", c.why, s.logs.msgs)
				}
				for _, p := range []int64{1, 2} {
					for _, ch := range []ext.Channel{ext.ChanElection, ext.ChanBroadcast} {
						if ev := s.rec.Events(p, ch); len(ev) != 0 || s.rec.Count(p, ch) != 0 {
							t.Fatalf("a refused peer half-joined: events %v, %d messages", ev, s.rec.Count(p, ch))
						}
					}
				}
			}

			b.tr.Close()
			b = start(t, 2, as, "fle", 1)
			sendUntil(t, a, 2, 7, false)
			b.rec.Wait(t, "the vote", func() bool {
				m := b.rec.Messages(1, ext.ChanElection)
				return len(m) > 0 && transporttest.VoteSeq(m[len(m)-1]) == 7
			})
		})
	}
}

// bulkGate is an inbox whose bulk deliveries wait at a gate, like a
// learner that is slow to load a snapshot.
type bulkGate struct {
	*transporttest.Recorder
	gate chan struct{}
}

func (g *bulkGate) Deliver(m ext.Message) {
	if m.Channel == ext.ChanBulk {
		<-g.gate
	}
	g.Recorder.Deliver(m)
}

// A snapshot stalled on the bulk stream does not hold up the broadcast
// stream: PINGs and proposals keep flowing (on transport.tcp they would
// wait behind it, in one byte stream).
func TestBulkDoesNotStarveBroadcast(t *testing.T) {
	as := addrs(t, 1, 2)
	leader := start(t, 2, as, "fle", 1)
	g := &bulkGate{Recorder: transporttest.NewRecorder(), gate: make(chan struct{})}
	learner := yamux.New(yamux.Options{Logger: nettest.Logger()})
	if err := learner.Start(context.Background(), ext.TransportConfig{Self: 1, Peers: as, ElectionAlgorithm: "fle", ProtocolVersion: 1}, g); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { learner.Close() })
	var once sync.Once
	release := func() { once.Do(func() { close(g.gate) }) }
	t.Cleanup(release)

	transporttest.MustSend(t, learner, 2, ext.ChanBroadcast, transporttest.Hello(1))
	leader.rec.WaitCount(t, 1, ext.ChanBroadcast, 1)
	stream := transporttest.SnapStream(1, 4000, 2000) // several MiB, far over the stream window
	transporttest.MustSend(t, leader.tr, 1, ext.ChanBroadcast, transporttest.Packet(transporttest.PktSnap, 0, nil))
	transporttest.MustSend(t, leader.tr, 1, ext.ChanBulk, stream)
	for i := range int64(50) {
		transporttest.MustSend(t, leader.tr, 1, ext.ChanBroadcast, transporttest.Ping(i, 100))
	}
	g.WaitCount(t, 2, ext.ChanBroadcast, 51) // while the bulk stream is stuck
	if n := g.Count(2, ext.ChanBulk); n != 0 {
		t.Fatalf("%d bulk messages passed the gate", n)
	}
	release()
	g.Wait(t, "the whole snapshot", func() bool {
		n := 0
		for _, c := range g.Messages(2, ext.ChanBulk) {
			n += len(c)
		}
		return n == len(stream)
	})
}
