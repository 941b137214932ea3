package tcp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/transports/internal/pair"
)

// QuorumCnxManager's initial-message constants.
const (
	protocolV1 int64 = -65536 // one "host:port"
	protocolV2 int64 = -65535 // "host:port|host:port…" (multiAddress)
	// maxInitialAddr bounds the address text of the initial message.
	maxInitialAddr = 2048
)

// appendHandshake appends the initiator's initial message: protocol
// version V1, our sid, and our election address as int length + ASCII.
func appendHandshake(dst []byte, sid int64, electionAddr string) []byte {
	w := jute.NewWriter(dst)
	w.WriteLong(protocolV1)
	w.WriteLong(sid)
	w.WriteInt(int32(len(electionAddr)))
	w.WriteRaw([]byte(electionAddr))
	return w.Bytes()
}

// readHandshake reads an initiator's initial message and returns its sid
// and announced address ("" from a pre-3.5 peer, which sends a bare sid).
func readHandshake(r io.Reader) (sid int64, addr string, err error) {
	var b [12]byte
	if _, err := io.ReadFull(r, b[:8]); err != nil {
		return 0, "", err
	}
	first := jute.NewReader(b[:8]).ReadLong()
	if first >= 0 {
		return first, "", nil
	}
	if first != protocolV1 && first != protocolV2 {
		return 0, "", fmt.Errorf("%w: election protocol version %d", errStream, first)
	}
	if _, err := io.ReadFull(r, b[:12]); err != nil {
		return 0, "", unexpected(err)
	}
	jr := jute.NewReader(b[:12])
	sid = jr.ReadLong()
	n := jr.ReadInt()
	if n <= 0 || n > maxInitialAddr {
		return 0, "", fmt.Errorf("%w: initial message address length %d", errStream, n)
	}
	a := make([]byte, n)
	if _, err := io.ReadFull(r, a); err != nil {
		return 0, "", unexpected(err)
	}
	return sid, string(a), nil
}

// elecConn is one election-port connection that survived the tie-break.
type elecConn struct {
	c    net.Conn
	br   *bufio.Reader
	once sync.Once
	done chan struct{}
}

func newElecConn(c net.Conn, br *bufio.Reader) *elecConn {
	return &elecConn{c: c, br: br, done: make(chan struct{})}
}

func (e *elecConn) Close() error {
	e.once.Do(func() { close(e.done) })
	return e.c.Close()
}

// dialElection is pair.Hooks.Dial: connect, send the initial message, and
// hang up at once unless we are the larger sid (ZooKeeper does the same:
// the peer will dial back).
func (t *Transport) dialElection(ctx context.Context, p ext.PeerAddr, keep bool) (pair.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.ElectionAddr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetWriteDeadline(dl)
	}
	if _, err := c.Write(appendHandshake(nil, t.b.Self, t.b.Me.ElectionAddr)); err != nil {
		c.Close()
		return nil, err
	}
	c.SetWriteDeadline(time.Time{})
	if !keep {
		c.Close()
		return nil, nil
	}
	return newElecConn(c, bufio.NewReaderSize(c, ioBuffer)), nil
}

// acceptElection runs the receiver's rules of QuorumCnxManager on an
// accepted connection.
func (t *Transport) acceptElection(c net.Conn, order uint64) {
	c.SetReadDeadline(time.Now().Add(t.opts.ConnectTimeout))
	br := bufio.NewReaderSize(c, ioBuffer)
	sid, addr, err := readHandshake(br)
	if !t.b.Handshaken(c) {
		return
	}
	if err != nil {
		t.b.Log.Warn("election handshake failed; closing", "remote", c.RemoteAddr(), "err", err)
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	switch {
	case sid == t.b.Self:
		t.b.Log.Warn("election connection from a server with our own id; ignoring", "remote", c.RemoteAddr(), "addr", addr)
		c.Close()
	case !t.b.Pairs.Known(sid):
		t.b.Log.Warn("election connection from an unknown server; closing", "peer", sid, "addr", addr)
		c.Close()
	case sid < t.b.Self:
		// Only a connection dialled by the larger sid survives: hang up
		// and dial back.
		c.Close()
		t.b.Pairs.Redial(sid, nil)
	default:
		t.b.Pairs.Install(sid, newElecConn(c, br), order)
	}
}

// serveElection is pair.Hooks.Serve.
func (t *Transport) serveElection(sid int64, pc pair.Conn) {
	e := pc.(*elecConn)
	t.b.ServeElection(sid, e.c, e.br, e.done, func() { e.Close() })
}
