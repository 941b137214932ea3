// Package zkraw is a raw ZooKeeper client-protocol connection for tests.
//
// Real client libraries hide exactly what compatibility tests must see: the
// zxid in every reply header, the order of notifications relative to
// replies, the bytes of bodies, and what a server does with malformed
// input. zkraw shows all of it. It speaks jute through core/proto/jute and
// adds nothing clever: one socket, requests written as given, every frame
// the server sends kept in arrival order.
//
// It is not a production client: there are no reconnects, no pings in the
// background and no watch bookkeeping.
package zkraw

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

// Errors a caller may test with errors.Is.
var (
	// ErrClosed means the server closed the connection (or it was closed
	// locally) and no more frames will arrive.
	ErrClosed = errors.New("zkraw: connection closed")
	// ErrSessionInvalid means the handshake reply carried timeOut 0: the
	// session asked for is unknown, expired, or its password was wrong.
	ErrSessionInvalid = errors.New("zkraw: session invalid or expired")
	// ErrOutOfOrder means a reply arrived for an xid other than the one
	// awaited; ZooKeeper answers each session strictly in order.
	ErrOutOfOrder = errors.New("zkraw: reply out of order")
	// ErrFrame means a frame could not be parsed.
	ErrFrame = errors.New("zkraw: malformed frame")
)

// MaxFrame bounds the frames zkraw accepts from a server, so a confused
// peer cannot make a test allocate without limit.
const MaxFrame = 64 << 20

// Options shape the handshake.
type Options struct {
	// Timeout is the session timeout asked for; 0 means 10 s.
	Timeout time.Duration
	// SessionID and Passwd re-attach to an existing session when non-zero.
	SessionID int64
	Passwd    []byte
	// LastZxidSeen is sent as is (a value ahead of the server makes it
	// close the connection without a reply).
	LastZxidSeen int64
	// OmitReadOnly sends the 44-byte "old client" ConnectRequest without
	// the trailing readOnly byte.
	OmitReadOnly bool
	// ReadOnly sets the readOnly byte ("a read-only server is fine").
	ReadOnly bool
	// DialTimeout bounds the TCP connect; 0 means 5 s.
	DialTimeout time.Duration
}

// Frame is one frame from the server after the handshake.
type Frame struct {
	Header jute.ReplyHeader
	// Body is the payload after the 16-byte reply header.
	Body []byte
}

// IsNotification reports whether the frame is a watch event (xid -1).
func (f *Frame) IsNotification() bool { return f.Header.Xid == jute.XidNotification }

// Err is the frame's error code.
func (f *Frame) Err() zkerr.Code { return zkerr.Code(f.Header.Err) }

// Decode decodes the body into rec.
func (f *Frame) Decode(rec jute.Record) error {
	if err := jute.Unmarshal(f.Body, rec); err != nil {
		return fmt.Errorf("%w: xid %d body: %w", ErrFrame, f.Header.Xid, err)
	}
	return nil
}

// Event decodes a notification body.
func (f *Frame) Event() (jute.WatcherEvent, error) {
	var ev jute.WatcherEvent
	err := f.Decode(&ev)
	return ev, err
}

// ParseFrame splits a frame payload into reply header and body.
func ParseFrame(payload []byte) (*Frame, error) {
	if len(payload) < 16 {
		return nil, fmt.Errorf("%w: %d-byte frame is shorter than a reply header", ErrFrame, len(payload))
	}
	f := &Frame{Body: payload[16:]}
	r := jute.NewReader(payload[:16])
	f.Header.Decode(r)
	return f, r.Err()
}

// Conn is one TCP connection to a ZooKeeper-protocol server.
type Conn struct {
	nc   net.Conn
	resp jute.ConnectResponse

	wmu sync.Mutex // serialises socket writes

	mu      sync.Mutex
	avail   chan struct{} // signalled (non-blocking) when frames or rerr change
	frames  [][]byte      // raw payloads not yet consumed, in arrival order
	rerr    error         // why the reader stopped; sticky
	reading bool
	nextXid int32
	events  []jute.WatcherEvent // notifications met while waiting in Call
}

// DialRaw opens a TCP connection without a handshake, for tests that send
// bad bytes or four-letter words.
func DialRaw(ctx context.Context, addr string, dialTimeout time.Duration) (*Conn, error) {
	if dialTimeout == 0 {
		dialTimeout = 5 * time.Second
	}
	d := net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("zkraw: dial %s: %w", addr, err)
	}
	c := &Conn{nc: nc, avail: make(chan struct{}, 1), nextXid: 1}
	return c, nil
}

// Dial connects and performs the handshake. A reply with timeOut 0 returns
// the connection and an error wrapping ErrSessionInvalid; a server that
// closes instead of replying gives ErrClosed.
func Dial(ctx context.Context, addr string, opts Options) (*Conn, error) {
	c, err := DialRaw(ctx, addr, opts.DialTimeout)
	if err != nil {
		return nil, err
	}
	if _, err := c.Handshake(ctx, opts); err != nil {
		if !errors.Is(err, ErrSessionInvalid) {
			c.Close()
			return nil, err
		}
		return c, err
	}
	return c, nil
}

// ConnectRequestFor builds the handshake record Dial would send.
func ConnectRequestFor(opts Options) *jute.ConnectRequest {
	to := opts.Timeout
	if to == 0 {
		to = 10 * time.Second
	}
	passwd := opts.Passwd
	if passwd == nil {
		passwd = make([]byte, 16)
	}
	return &jute.ConnectRequest{
		ProtocolVersion: 0,
		LastZxidSeen:    opts.LastZxidSeen,
		TimeOut:         int32(to / time.Millisecond),
		SessionID:       opts.SessionID,
		Passwd:          passwd,
		ReadOnly:        opts.ReadOnly,
		HasReadOnly:     !opts.OmitReadOnly,
	}
}

// Handshake sends a ConnectRequest and reads the ConnectResponse.
func (c *Conn) Handshake(ctx context.Context, opts Options) (*jute.ConnectResponse, error) {
	if err := c.WriteFrame(jute.Marshal(ConnectRequestFor(opts))); err != nil {
		return nil, err
	}
	payload, err := c.nextPayload(ctx)
	if err != nil {
		return nil, fmt.Errorf("zkraw: handshake: %w", err)
	}
	if err := jute.Unmarshal(payload, &c.resp); err != nil {
		return nil, fmt.Errorf("%w: connect response: %w", ErrFrame, err)
	}
	if c.resp.TimeOut <= 0 {
		return &c.resp, fmt.Errorf("%w (session 0x%x)", ErrSessionInvalid, opts.SessionID)
	}
	return &c.resp, nil
}

// Response is the handshake reply.
func (c *Conn) Response() jute.ConnectResponse { return c.resp }

// SessionID is the negotiated session id.
func (c *Conn) SessionID() int64 { return c.resp.SessionID }

// Passwd is the session password.
func (c *Conn) Passwd() []byte { return c.resp.Passwd }

// LocalAddr is the client side of the socket.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Close closes the socket without ending the session.
func (c *Conn) Close() error { return c.nc.Close() }

// WriteRaw writes bytes to the socket as they are, with no framing.
func (c *Conn) WriteRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("zkraw: write: %w", err)
	}
	return nil
}

// WriteFrame writes a 4-byte length and the payload in one write.
func (c *Conn) WriteFrame(payload []byte) error {
	buf := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(len(payload)))
	return c.WriteRaw(append(buf, payload...))
}

// NextXid reserves the next client xid (counting up from 1 like the Java
// client).
func (c *Conn) NextXid() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.nextXid
	c.nextXid++
	return x
}

// EncodeRequest builds a request payload: header + record (rec may be nil).
func EncodeRequest(xid, op int32, rec jute.Record) []byte {
	w := jute.NewWriter(make([]byte, 0, 64))
	h := jute.RequestHeader{Xid: xid, Type: op}
	h.Encode(w)
	if rec != nil {
		rec.Encode(w)
	}
	return w.Bytes()
}

// Send writes one request frame with the given xid.
func (c *Conn) Send(xid, op int32, rec jute.Record) error {
	return c.WriteFrame(EncodeRequest(xid, op, rec))
}

// startReader launches the goroutine that queues every frame. It runs until
// the socket fails or closes.
func (c *Conn) startReader() {
	if c.reading {
		return
	}
	c.reading = true
	go c.readLoop()
}

func (c *Conn) readLoop() {
	var lenBuf [4]byte
	for {
		var err error
		if _, err = io.ReadFull(c.nc, lenBuf[:]); err == nil {
			n := int32(binary.BigEndian.Uint32(lenBuf[:]))
			if n < 0 || n > MaxFrame {
				err = fmt.Errorf("%w: length %d", ErrFrame, n)
			} else {
				payload := make([]byte, n)
				if _, err = io.ReadFull(c.nc, payload); err == nil {
					c.mu.Lock()
					c.frames = append(c.frames, payload)
					c.mu.Unlock()
					c.signal()
					continue
				}
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: %w", ErrClosed, err)
		} else if !errors.Is(err, ErrFrame) {
			// A reset by the peer is a close too, as far as tests care.
			err = fmt.Errorf("%w: %w", ErrClosed, err)
		}
		c.mu.Lock()
		c.rerr = err
		c.mu.Unlock()
		c.signal()
		return
	}
}

func (c *Conn) signal() {
	select {
	case c.avail <- struct{}{}:
	default:
	}
}

// nextPayload pops the next raw frame, waiting for it.
func (c *Conn) nextPayload(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	c.startReader()
	c.mu.Unlock()
	for {
		c.mu.Lock()
		if len(c.frames) > 0 {
			p := c.frames[0]
			c.frames[0] = nil
			c.frames = c.frames[1:]
			c.mu.Unlock()
			return p, nil
		}
		rerr := c.rerr
		c.mu.Unlock()
		if rerr != nil {
			return nil, rerr
		}
		select {
		case <-c.avail:
		case <-ctx.Done():
			return nil, fmt.Errorf("zkraw: waiting for a frame: %w", ctx.Err())
		}
	}
}

// NextFrame returns the next frame in arrival order, reply or notification.
// After the server closes the connection and every frame has been read, it
// returns an error wrapping ErrClosed.
func (c *Conn) NextFrame(ctx context.Context) (*Frame, error) {
	p, err := c.nextPayload(ctx)
	if err != nil {
		return nil, err
	}
	return ParseFrame(p)
}

// WaitClosed reads frames until the server closes the connection and
// returns the frames that arrived before the close. It fails if ctx ends
// first: a server that should have hung up did not.
func (c *Conn) WaitClosed(ctx context.Context) ([]*Frame, error) {
	var got []*Frame
	for {
		p, err := c.nextPayload(ctx)
		if errors.Is(err, ErrClosed) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		f, perr := ParseFrame(p)
		if perr != nil {
			return got, perr
		}
		got = append(got, f)
	}
}

// Call sends a request with a fresh xid and waits for its reply. Watch
// notifications that arrive first are kept (see Events) in order.
func (c *Conn) Call(ctx context.Context, op int32, rec jute.Record) (*Frame, error) {
	return c.CallXid(ctx, c.NextXid(), op, rec)
}

// CallXid is Call with a chosen xid, for pings (-2), auth (-4) and
// setWatches (-8).
func (c *Conn) CallXid(ctx context.Context, xid, op int32, rec jute.Record) (*Frame, error) {
	if err := c.Send(xid, op, rec); err != nil {
		return nil, err
	}
	return c.Await(ctx, xid)
}

// Await reads frames until the reply to xid, keeping notifications met on
// the way. Any other reply is ErrOutOfOrder.
func (c *Conn) Await(ctx context.Context, xid int32) (*Frame, error) {
	for {
		f, err := c.NextFrame(ctx)
		if err != nil {
			return nil, err
		}
		if f.IsNotification() && xid != jute.XidNotification {
			ev, err := f.Event()
			if err != nil {
				return nil, err
			}
			c.mu.Lock()
			c.events = append(c.events, ev)
			c.mu.Unlock()
			continue
		}
		if f.Header.Xid != xid {
			return f, fmt.Errorf("%w: awaited xid %d, got %d (err %d)", ErrOutOfOrder, xid, f.Header.Xid, f.Header.Err)
		}
		return f, nil
	}
}

// Events returns and clears the notifications collected so far.
func (c *Conn) Events() []jute.WatcherEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev := c.events
	c.events = nil
	return ev
}

// Ping sends a ping and waits for its reply. Because a server answers a
// session's requests in order and queues a notification before the reply
// of anything that follows it, a ping is a barrier: once it returns,
// every event caused by an earlier acknowledged write is in Events.
func (c *Conn) Ping(ctx context.Context) (*Frame, error) {
	return c.CallXid(ctx, jute.XidPing, jute.OpPing, nil)
}

// CloseSession ends the session (op -11), waits for the reply, and closes
// the socket.
func (c *Conn) CloseSession(ctx context.Context) error {
	defer c.Close()
	f, err := c.Call(ctx, jute.OpCloseSession, nil)
	if err != nil {
		return err
	}
	if f.Header.Err != 0 {
		return zkerr.Code(f.Header.Err)
	}
	return nil
}
