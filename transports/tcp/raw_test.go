package tcp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/transporttest"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/transports/internal/link"
	"github.com/zabkit/zabkit/transports/internal/nettest"
	"github.com/zabkit/zabkit/transports/tcp"
)

// These tests put the transport opposite a hand-written peer that speaks
// the wire format byte by byte, so each rule of spec 5.1 is checked on
// real sockets without another implementation in the loop.

func initial(sid int64, addr string) []byte {
	w := jute.NewWriter(nil)
	w.WriteLong(-65536)
	w.WriteLong(sid)
	w.WriteInt(int32(len(addr)))
	w.WriteRaw([]byte(addr))
	return w.Bytes()
}

// startOne starts a transport for self in an ensemble of addrs.
func startOne(t *testing.T, self int64, addrs []ext.PeerAddr) (*tcp.Transport, *transporttest.Recorder) {
	t.Helper()
	tr := tcp.New(tcp.Options{Logger: quiet()})
	rec := transporttest.NewRecorder()
	if err := tr.Start(context.Background(), ext.TransportConfig{Self: self, Peers: addrs}, rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, rec
}

func readFull(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(transporttest.WaitTimeout))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

func expectHangup(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(transporttest.WaitTimeout))
	if n, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
		t.Fatalf("expected the transport to hang up, got %v after %d bytes", err, n)
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func accept(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	l.(*net.TCPListener).SetDeadline(time.Now().Add(transporttest.WaitTimeout))
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The transport is the smaller sid: it pokes the larger peer (handshake,
// then hangs up), the peer dials back, and the vote goes out on that
// connection.
func TestSmallerSidPokesAndIsDialledBack(t *testing.T) {
	addrs := []ext.PeerAddr{
		{ID: 1, ElectionAddr: nettest.FreeAddr(t), QuorumAddr: nettest.FreeAddr(t)},
		{ID: 2, ElectionAddr: nettest.FreeAddr(t), QuorumAddr: nettest.FreeAddr(t)},
	}
	peer, err := net.Listen("tcp", addrs[1].ElectionAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	tr, rec := startOne(t, 1, addrs)
	vote := transporttest.Vote(42, 60)
	if err := tr.Send(2, ext.ChanElection, vote); err != nil {
		t.Fatal(err)
	}
	poke := accept(t, peer)
	want := initial(1, addrs[0].ElectionAddr)
	if got := readFull(t, poke, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("poke handshake %x, want %x", got, want)
	}
	expectHangup(t, poke)

	back, err := net.Dial("tcp", addrs[0].ElectionAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	back.Write(initial(2, addrs[1].ElectionAddr))
	frame := readFull(t, back, 4+len(vote))
	if !bytes.Equal(frame, link.AppendFrame(nil, vote)) {
		t.Fatalf("vote frame %x", frame)
	}
	rec.WaitEvents(t, 2, ext.ChanElection, true)

	// The peer answers; then it sends a frame over 512 KiB: dropped, Down.
	back.Write(link.AppendFrame(nil, transporttest.Vote(7, 50)))
	rec.WaitCount(t, 2, ext.ChanElection, 1)
	w := jute.NewWriter(nil)
	w.WriteInt(512<<10 + 1)
	back.Write(w.Bytes())
	expectHangup(t, back)
	rec.WaitEvents(t, 2, ext.ChanElection, true, false)
}

// The transport is the larger sid: a connection from the smaller peer is
// closed and the transport dials back with its own handshake.
func TestLargerSidDialsBack(t *testing.T) {
	addrs := []ext.PeerAddr{
		{ID: 2, ElectionAddr: nettest.FreeAddr(t), QuorumAddr: nettest.FreeAddr(t)},
		{ID: 3, ElectionAddr: nettest.FreeAddr(t), QuorumAddr: nettest.FreeAddr(t)},
	}
	peer, err := net.Listen("tcp", addrs[0].ElectionAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	_, rec := startOne(t, 3, addrs)
	c, err := net.Dial("tcp", addrs[1].ElectionAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(initial(2, addrs[0].ElectionAddr))
	expectHangup(t, c)
	back := accept(t, peer)
	want := initial(3, addrs[1].ElectionAddr)
	if got := readFull(t, back, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("dial-back handshake %x, want %x", got, want)
	}
	back.Write(link.AppendFrame(nil, transporttest.Vote(5, 44)))
	rec.WaitCount(t, 2, ext.ChanElection, 1)
	if got := rec.Messages(2, ext.ChanElection)[0]; !bytes.Equal(got, transporttest.Vote(5, 44)) {
		t.Fatalf("vote %x", got)
	}
	// A connection claiming our own sid is ignored (closed).
	same, err := net.Dial("tcp", addrs[1].ElectionAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer same.Close()
	same.Write(initial(3, addrs[1].ElectionAddr))
	expectHangup(t, same)
}

// A learner connection that turns to garbage after its FOLLOWERINFO is
// dropped with a Down event.
func TestQuorumGarbageAfterGreeting(t *testing.T) {
	addrs := []ext.PeerAddr{
		{ID: 1, ElectionAddr: nettest.FreeAddr(t), QuorumAddr: nettest.FreeAddr(t)},
		{ID: 2, ElectionAddr: nettest.FreeAddr(t), QuorumAddr: nettest.FreeAddr(t)},
	}
	tr, rec := startOne(t, 2, addrs)
	c, err := net.Dial("tcp", addrs[1].QuorumAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(transporttest.Hello(1))
	rec.WaitEvents(t, 1, ext.ChanBroadcast, true)
	if err := tr.Send(1, ext.ChanBroadcast, transporttest.Ping(3, 0)); err != nil {
		t.Fatal(err)
	}
	ping := transporttest.Ping(3, 0)
	if got := readFull(t, c, len(ping)); !bytes.Equal(got, ping) {
		t.Fatalf("leader's packet %x", got)
	}
	w := jute.NewWriter(nil)
	w.WriteInt(5)
	w.WriteLong(0)
	w.WriteInt(-7) // negative buffer length
	c.Write(w.Bytes())
	expectHangup(t, c)
	rec.WaitEvents(t, 1, ext.ChanBroadcast, true, false)
	if got := rec.Count(1, ext.ChanBroadcast); got != 1 {
		t.Fatalf("%d broadcast messages delivered, want the FOLLOWERINFO only", got)
	}
}
