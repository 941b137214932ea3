package yamux

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"time"

	hy "github.com/hashicorp/yamux"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/transports/internal/pair"
)

// Stream kinds: the first bytes of every stream are one kind byte and the
// broadcast link's id (0 for the election stream), so the acceptor can pair
// a link's broadcast and bulk streams.
const (
	streamElection  byte = 1
	streamBroadcast byte = 2
	streamBulk      byte = 3
	streamHeader         = 9
)

// session is one yamux session to a peer: the pair.Conn the pair manager
// keeps. Its first stream carries ChanElection.
type session struct {
	ys   *hy.Session
	elec *hy.Stream
	br   *bufio.Reader
	// remoteInc is the peer's incarnation, to judge its pokes.
	remoteInc int64
}

func (s *session) Close() error { return s.ys.Close() }

func writeHeader(s *hy.Stream, kind byte, id uint64) error {
	w := jute.NewWriter(make([]byte, 0, streamHeader))
	w.WriteByte(kind)
	w.WriteLong(int64(id))
	_, err := s.Write(w.Bytes())
	return err
}

func readHeader(s *hy.Stream, timeout time.Duration) (byte, uint64, error) {
	s.SetReadDeadline(time.Now().Add(timeout))
	var b [streamHeader]byte
	if _, err := io.ReadFull(s, b[:]); err != nil {
		return 0, 0, err
	}
	s.SetReadDeadline(time.Time{})
	r := jute.NewReader(b[:])
	kind, _ := r.ReadByte()
	return kind, uint64(r.ReadLong()), nil
}

// dial is pair.Hooks.Dial: the zabkit handshake as the dialler, then (if
// we are the larger sid) a yamux client session and its election stream.
func (t *Transport) dial(ctx context.Context, p ext.PeerAddr, keep bool) (pair.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.QuorumAddr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	h := &hello{ProtocolVersion: t.version, ElectionAlgorithm: t.alg, Sender: t.b.Self, Target: p.ID, Incarnation: t.incarnation}
	var a answer
	br := bufio.NewReaderSize(c, 512)
	if err := writeRecord(c, h); err == nil {
		err = readRecord(br, &a)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	switch {
	case a.Status == statusRefused:
		c.Close()
		err := fmt.Errorf("%w: server %d refused us: %s", ext.ErrRefused, p.ID, a.Reason)
		t.b.Log.Error("handshake refused", "peer", p.ID, "err", err)
		t.setRefused(p.ID, err)
		return nil, err
	case a.Sid != p.ID:
		c.Close()
		return nil, fmt.Errorf("%w: %s answered as server %d, want %d", errHandshake, p.QuorumAddr, a.Sid, p.ID)
	case a.Status == statusDialBack && !keep:
		t.setRefused(p.ID, nil)
		c.Close()
		return nil, nil
	case a.Status != statusAccept || !keep:
		c.Close()
		return nil, fmt.Errorf("%w: status %d from server %d", errHandshake, a.Status, p.ID)
	}
	t.setRefused(p.ID, nil)
	c.SetDeadline(time.Time{})
	ys, err := hy.Client(bufferedConn{c, br}, t.ycfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	st, err := ys.OpenStream()
	if err == nil {
		err = writeHeader(st, streamElection, 0)
	}
	if err != nil {
		ys.Close()
		return nil, err
	}
	return &session{ys: ys, elec: st, br: bufio.NewReaderSize(st, ioBuffer), remoteInc: a.Incarnation}, nil
}

// bufferedConn hands yamux the bytes the handshake reader may already have
// buffered past the answer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// accept runs the acceptor's side of the handshake.
func (t *Transport) accept(c net.Conn, order uint64) {
	defer t.b.Handshaken(c)
	c.SetDeadline(time.Now().Add(t.opts.ConnectTimeout))
	br := bufio.NewReaderSize(c, 512)
	var h hello
	if err := readRecord(br, &h); err != nil {
		t.b.Log.Warn("not a zabkit handshake; closing", "remote", c.RemoteAddr(), "err", err)
		c.Close()
		return
	}
	a := answer{Status: statusAccept, Sid: t.b.Self, ProtocolVersion: t.version, ElectionAlgorithm: t.alg, Incarnation: t.incarnation}
	known := h.Sender != t.b.Self && t.b.Pairs.Known(h.Sender)
	switch {
	case h.Target != t.b.Self:
		a.Status, a.Reason = statusRefused, fmt.Sprintf("this is server %d, not %d", t.b.Self, h.Target)
	case !known:
		a.Status, a.Reason = statusRefused, fmt.Sprintf("server %d is not a member here", h.Sender)
	default:
		if why := mismatch(t.version, h.ProtocolVersion, t.alg, h.ElectionAlgorithm); why != "" {
			a.Status, a.Reason = statusRefused, why
		} else if h.Sender < t.b.Self {
			a.Status = statusDialBack
		}
	}
	if err := writeRecord(c, &a); err != nil {
		c.Close()
		return
	}
	switch a.Status {
	case statusRefused:
		err := fmt.Errorf("%w: server %d: %s", ext.ErrRefused, h.Sender, a.Reason)
		t.b.Log.Error("refusing a peer", "peer", h.Sender, "remote", c.RemoteAddr(), "err", err)
		if known {
			t.setRefused(h.Sender, err)
		}
		c.Close()
		return
	case statusDialBack:
		t.setRefused(h.Sender, nil)
		c.Close()
		t.poked(h)
		return
	}
	t.setRefused(h.Sender, nil)
	ys, err := hy.Server(bufferedConn{c, br}, t.ycfg)
	if err != nil {
		c.Close()
		return
	}
	ctx, cancel := context.WithTimeout(t.b.Ctx, t.opts.ConnectTimeout)
	st, err := ys.AcceptStreamWithContext(ctx)
	cancel()
	var kind byte
	if err == nil {
		kind, _, err = readHeader(st, t.opts.ConnectTimeout)
	}
	if err != nil || kind != streamElection {
		t.b.Log.Warn("session without an election stream; closing", "peer", h.Sender, "err", err)
		ys.Close()
		return
	}
	c.SetDeadline(time.Time{})
	if t.b.IsClosed() {
		ys.Close()
		return
	}
	t.b.Pairs.Install(h.Sender, &session{ys: ys, elec: st, br: bufio.NewReaderSize(st, ioBuffer)}, order)
}

// poked answers a poke from a smaller peer that had no session to us. A
// poke from a restarted peer means our session to it is dead: replace it.
// Otherwise the poke may have crossed the session we just opened, which
// must not be torn down (it may already carry a ZAB link): ask the session
// itself with a ping, and replace it only if that fails.
func (t *Transport) poked(h hello) {
	c := t.b.Pairs.Current(h.Sender)
	if c == nil {
		t.b.Pairs.Ensure(h.Sender)
		return
	}
	s := c.(*session)
	if s.remoteInc != h.Incarnation {
		t.b.Pairs.Redial(h.Sender, c)
		return
	}
	t.b.Go(func() {
		if _, err := s.ys.Ping(); err != nil {
			t.b.Log.Debug("session failed a ping after a poke; reconnecting", "peer", h.Sender, "err", err)
			t.b.Pairs.Redial(h.Sender, c)
		}
	})
}

// serveSession is pair.Hooks.Serve: the election stream, and the loop
// accepting the peer's broadcast and bulk streams.
func (t *Transport) serveSession(sid int64, pc pair.Conn) {
	s := pc.(*session)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.acceptStreams(sid, s)
	}()
	t.b.ServeElection(sid, s.elec, s.br, s.ys.CloseChan(), func() { s.ys.Close() })
	<-done
}

// acceptStreams takes the broadcast and bulk streams the peer opens as a
// learner.
func (t *Transport) acceptStreams(sid int64, s *session) {
	for {
		st, err := s.ys.AcceptStream()
		if err != nil {
			return
		}
		kind, id, err := readHeader(st, t.opts.ConnectTimeout)
		if err != nil {
			st.Close()
			continue
		}
		switch kind {
		case streamBroadcast:
			t.acceptLink(sid, s, id, st)
		case streamBulk:
			if !t.attachBulk(sid, s, id, st) {
				st.Close()
			}
		default:
			t.b.Log.Warn("unknown stream kind; closing the session", "peer", sid, "kind", kind)
			s.ys.Close()
			return
		}
	}
}
