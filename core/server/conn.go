package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zabkit/zabkit/core/admin"
	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/pipeline"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/session"
	"github.com/zabkit/zabkit/core/zkerr"
)

// errFrame means a frame length was negative or above jute.maxbuffer.
var errFrame = errors.New("frame length out of range")

// Conn is one client connection. A dedicated goroutine reads and serves
// requests; another writes replies, batching everything queued into one
// write so many small replies cost one syscall.
type Conn struct {
	s           *Server
	nc          net.Conn
	ip          string
	br          *bufio.Reader
	established time.Time

	outMu      sync.Mutex
	out        []byte
	spare      []byte
	w          jute.Writer
	wake       chan struct{}
	closed     bool
	closeAfter bool
	done       chan struct{}
	closeOnce  sync.Once

	// Session state. sid and ids are written by the reading goroutine and
	// read elsewhere, hence atomics; ids is an immutable slice swapped whole.
	sid     atomic.Int64
	timeout atomic.Int32
	ids     atomic.Pointer[[]jute.Id]
	// local marks a session of this connection only, given to a read-only
	// client while the store has failed: no txn created it, none closes
	// it, the session tracker never hears of it.
	local bool

	// FIFO state: reads that arrive while writes of this session are in
	// the pipeline wait behind the last of them.
	mu        sync.Mutex
	pending   int
	lastWrite *pipeline.Request

	// Stats for cons/stat.
	recv        atomic.Int64
	sent        atomic.Int64
	lastOp      atomic.Int32
	lastCxid    atomic.Int32
	lastZxid    atomic.Int64
	lastResp    atomic.Int64
	lastLatency atomic.Int64
	lat         latency
}

// pendingWrite is a write's per-request state while it is in the pipeline.
type pendingWrite struct {
	start time.Time
	after []deferredRead
}

type deferredRead struct {
	hdr   jute.RequestHeader
	body  []byte
	start time.Time
}

func newConn(s *Server, nc net.Conn, ip string) *Conn {
	c := &Conn{
		s: s, nc: nc, ip: ip,
		br:          bufio.NewReaderSize(nc, 64<<10),
		established: time.Now(),
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	ids := []jute.Id{{Scheme: "ip", ID: ip}}
	c.ids.Store(&ids)
	c.lastOp.Store(-1000)
	return c
}

// WatcherID is the session id, as wchc/wchp show it.
func (c *Conn) WatcherID() int64 { return c.sid.Load() }

// Notify queues a watch event. Called under the tree lock, so the event is
// queued before the reply of any read that could observe the change.
func (c *Conn) Notify(ev *jute.WatcherEvent) {
	c.send(jute.XidNotification, -1, 0, ev)
}

// NotifyACL delivers ev only if this connection may READ the node (or the
// parent, for child events), as ZooKeeper 3.8.4 does.
func (c *Conn) NotifyACL(ev *jute.WatcherEvent, acl []jute.ACL) {
	if c.s.auth.Check(acl, *c.ids.Load(), jute.PermRead) != nil {
		return
	}
	c.Notify(ev)
}

func (c *Conn) session() int64 { return c.sid.Load() }

// send encodes a reply straight into the output buffer.
func (c *Conn) send(xid int32, zxid int64, errCode int32, body jute.Record) {
	c.outMu.Lock()
	if c.closed {
		c.outMu.Unlock()
		return
	}
	start := len(c.out)
	c.w.SetBytes(append(c.out, 0, 0, 0, 0))
	hdr := jute.ReplyHeader{Xid: xid, Zxid: zxid, Err: errCode}
	hdr.Encode(&c.w)
	if body != nil {
		body.Encode(&c.w)
	}
	c.out = c.w.Bytes()
	c.w.SetBytes(nil)
	size := len(c.out) - start
	binary.BigEndian.PutUint32(c.out[start:], uint32(size-4))
	c.outMu.Unlock()
	c.s.cfg.Metrics.AddBytesSent(size)
	c.sent.Add(1)
	c.s.stats.PacketsSent.Add(1)
	c.signal()
}

// sendBare queues a frame with no reply header (the ConnectResponse).
func (c *Conn) sendBare(rec jute.Record) {
	c.outMu.Lock()
	if !c.closed {
		start := len(c.out)
		c.w.SetBytes(append(c.out, 0, 0, 0, 0))
		rec.Encode(&c.w)
		c.out = c.w.Bytes()
		c.w.SetBytes(nil)
		binary.BigEndian.PutUint32(c.out[start:], uint32(len(c.out)-start-4))
	}
	c.outMu.Unlock()
	c.signal()
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Conn) writeLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		for {
			c.outMu.Lock()
			if len(c.out) == 0 {
				finish := c.closeAfter
				c.outMu.Unlock()
				if finish {
					c.close()
					return
				}
				break
			}
			// Swap buffers: senders append to the spare while this one is
			// written. spare is cleared so the two can never alias.
			buf := c.out
			c.out = c.spare[:0]
			c.spare = nil
			c.outMu.Unlock()
			_ = c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.nc.Write(buf); err != nil {
				c.close()
				return
			}
			if cap(buf) <= 1<<20 {
				c.outMu.Lock()
				if c.spare == nil {
					c.spare = buf[:0]
				}
				c.outMu.Unlock()
			}
		}
	}
}

// close tears the connection down now.
func (c *Conn) close() {
	c.closeOnce.Do(func() {
		c.outMu.Lock()
		c.closed = true
		c.outMu.Unlock()
		close(c.done)
		c.nc.Close()
	})
}

func (c *Conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// closeAfterFlush closes once everything queued has been written.
func (c *Conn) closeAfterFlush() {
	c.outMu.Lock()
	c.closeAfter = true
	c.outMu.Unlock()
	c.signal()
}

func (c *Conn) readFrame() ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(c.br, lb[:]); err != nil {
		return nil, err
	}
	return c.readBody(int32(binary.BigEndian.Uint32(lb[:])))
}

func (c *Conn) readBody(n int32) ([]byte, error) {
	if n < 0 || int(n) > c.s.cfg.MaxBuffer {
		return nil, fmt.Errorf("%w: %d (jute.maxbuffer %d)", errFrame, n, c.s.cfg.MaxBuffer)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return nil, err
	}
	c.recv.Add(1)
	c.s.stats.PacketsReceived.Add(1)
	c.s.cfg.Metrics.AddBytesReceived(int(n) + 4)
	return buf, nil
}

func (c *Conn) serve() {
	defer func() {
		c.close()
		c.s.removeConn(c)
		c.s.tree.RemoveWatcher(c)
		if c.local {
			c.s.localSessions.Add(-1)
		}
	}()
	var lb [4]byte
	if _, err := io.ReadFull(c.br, lb[:]); err != nil {
		return
	}
	first := int32(binary.BigEndian.Uint32(lb[:]))
	if c.s.cfg.IsFourLetterWord != nil && c.s.cfg.FourLetterWord != nil {
		if word, ok := c.s.cfg.IsFourLetterWord(first); ok {
			_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
			c.s.cfg.FourLetterWord(word, &fourLetterConn{Conn: c.nc, r: c.br})
			return
		}
	}
	go c.writeLoop()
	frame, err := c.readBody(first)
	if err != nil {
		c.s.log.Warn("closing connection: bad connect frame", "remote", c.nc.RemoteAddr().String(), "err", err)
		return
	}
	// handshake and handle close the connection themselves (at once, or
	// after a final reply) whenever they return false.
	if !c.handshake(frame) {
		<-c.done
		return
	}
	for {
		frame, err := c.readFrame()
		if err != nil {
			if errors.Is(err, errFrame) {
				c.s.log.Warn("closing connection: bad frame", "remote", c.nc.RemoteAddr().String(), "session", fmt.Sprintf("0x%x", c.session()), "err", err)
			}
			return
		}
		if !c.handle(frame) {
			<-c.done
			return
		}
	}
}

// fourLetterConn lets a four-letter word handler read any bytes already
// buffered (stmk's mask).
type fourLetterConn struct {
	net.Conn
	r io.Reader
}

func (f *fourLetterConn) Read(p []byte) (int, error) { return f.r.Read(p) }

func (c *Conn) clampTimeout(t int32) int32 {
	if t < c.s.cfg.MinSessionTimeout {
		t = c.s.cfg.MinSessionTimeout
	}
	if c.s.cfg.MaxSessionTimeout > 0 && t > c.s.cfg.MaxSessionTimeout {
		t = c.s.cfg.MaxSessionTimeout
	}
	return t
}

// handshake answers the ConnectRequest; false means the connection is
// being closed.
func (c *Conn) handshake(frame []byte) bool {
	var req jute.ConnectRequest
	if err := jute.Unmarshal(frame, &req); err != nil {
		c.s.log.Warn("closing connection: malformed ConnectRequest", "remote", c.nc.RemoteAddr().String(), "err", err)
		c.close()
		return false
	}
	if c.s.paused.Load() {
		// Between roles: the client must find a server that serves.
		c.close()
		return false
	}
	if last := c.s.proc.AppliedZxid(); req.LastZxidSeen > last {
		c.s.log.Info("refusing session: client has seen a newer zxid; it must try another server",
			"client_zxid", fmt.Sprintf("0x%x", req.LastZxidSeen), "server_zxid", fmt.Sprintf("0x%x", last))
		c.close()
		return false
	}
	timeout := c.clampTimeout(req.TimeOut)
	readOnly := c.s.proc.Failed()
	resp := jute.ConnectResponse{TimeOut: timeout, SendReadOnly: req.HasReadOnly, ReadOnly: readOnly}
	sid := req.SessionID
	switch {
	case sid == 0 && readOnly:
		// A global session needs a createSession txn, which a failed store
		// cannot log. Like ZooKeeper's read-only server, give a client that
		// accepts read-only mode a session of this connection only, and
		// close the others (they look for a writable server).
		if !req.ReadOnly {
			c.s.log.Info("refusing session: the store failed and the client did not ask for read-only mode",
				"remote", c.nc.RemoteAddr().String())
			c.close()
			return false
		}
		sid = c.s.sessions.NextID()
		c.local = true
		c.s.localSessions.Add(1)
	case sid == 0:
		sid = c.s.sessions.NextID()
		c.s.sessions.Add(sid, timeout, c.s.clock())
		created := &sessionCreated{done: make(chan struct{})}
		err := c.s.proc.Submit(&pipeline.Request{
			SessionID: sid, Op: jute.OpCreateSession,
			Record: &jute.IntRecord{Value: timeout}, Origin: created,
		})
		if err == nil {
			select {
			case <-created.done:
			case <-c.done:
				return false
			}
		}
		if err != nil || !created.ok {
			// Stopped, or the store failed before the session was logged.
			c.s.sessions.Remove(sid)
			c.close()
			return false
		}
	default:
		// Re-attaching needs no txn, so it works on a failed store too.
		if !bytes.Equal(req.Passwd, session.Password(sid)) || !c.s.sessions.Touch(sid, c.s.clock()) {
			c.s.log.Info("invalid session on reattach", "session", fmt.Sprintf("0x%x", sid))
			c.sendBare(&jute.ConnectResponse{Passwd: make([]byte, session.PasswordLen), SendReadOnly: req.HasReadOnly, ReadOnly: readOnly})
			c.closeAfterFlush()
			return false
		}
	}
	resp.Passwd = session.Password(sid)
	resp.SessionID = sid
	c.sid.Store(sid)
	c.timeout.Store(timeout)
	c.s.bindSession(sid, c)
	c.sendBare(&resp)
	return true
}

// sessionCreated is the Origin of a createSession: it wakes the handshake,
// with ok false when the store failed before the session was logged.
type sessionCreated struct {
	done chan struct{}
	ok   bool // written before done is closed
}

func (s *sessionCreated) Applied(*pipeline.Request, *datatree.Result) { s.ok = true; close(s.done) }

// Dropped implements pipeline.Dropper.
func (s *sessionCreated) Dropped(*pipeline.Request) { close(s.done) }

// handle serves one request frame; false means stop reading.
func (c *Conn) handle(frame []byte) bool {
	r := jute.NewReader(frame)
	var hdr jute.RequestHeader
	hdr.Decode(r)
	if r.Err() != nil {
		c.s.log.Warn("closing connection: truncated request header", "session", fmt.Sprintf("0x%x", c.session()))
		c.close()
		return false
	}
	body := r.Rest()
	now := time.Now()
	c.s.sessions.Touch(c.session(), c.s.clock())
	c.lastOp.Store(hdr.Type)
	c.lastCxid.Store(hdr.Xid)
	switch hdr.Type {
	case jute.OpAuth:
		return c.handleAuth(hdr, body)
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL, jute.OpDelete,
		jute.OpSetData, jute.OpSetACL, jute.OpCheck, jute.OpMulti, jute.OpReconfig, jute.OpDeleteContainer:
		return c.submitWrite(hdr, body, now)
	case jute.OpCloseSession:
		if c.local || c.s.proc.Failed() {
			// No txn can close it: answered (and the connection closed)
			// like a read, in order; see refusal.
			c.read(hdr, body, now)
		} else {
			c.submitWrite(hdr, body, now)
		}
		return false
	case jute.OpSync:
		if r := c.s.proc.Role(); (r == pipeline.RoleLearner || r == pipeline.RoleLeader) && !c.s.proc.Failed() {
			// An ensemble member's sync goes through ZAB: a learner's to
			// the leader, a leader's behind its outstanding proposals, so
			// the reads after it see at least what the leader had
			// committed (ZooKeeper does the same).
			return c.submitWrite(hdr, body, now)
		}
		c.read(hdr, body, now)
		return true
	case jute.OpPing, jute.OpExists, jute.OpGetData, jute.OpGetChildren, jute.OpGetChildren2,
		jute.OpGetACL, jute.OpGetAllChildrenNumber, jute.OpGetEphemerals, jute.OpMultiRead,
		jute.OpSetWatches, jute.OpSetWatches2, jute.OpAddWatch, jute.OpCheckWatches, jute.OpRemoveWatches,
		jute.OpWhoAmI:
		c.read(hdr, body, now)
		return true
	}
	// Unknown opcode (SASL included: zabkit has no SASL): ZooKeeper's
	// UnimplementedRequestProcessor replies UNIMPLEMENTED and closes.
	c.s.log.Warn("closing connection: unsupported opcode", "op", hdr.Type, "session", fmt.Sprintf("0x%x", c.session()))
	c.send(hdr.Xid, -1, int32(zkerr.Unimplemented), nil)
	c.closeAfterFlush()
	return false
}

func (c *Conn) handleAuth(hdr jute.RequestHeader, body []byte) bool {
	// ZooKeeper echoes the request's xid (the Java client uses -4, other
	// clients their own counter).
	var ap jute.AuthPacket
	if err := jute.Unmarshal(body, &ap); err != nil {
		c.send(hdr.Xid, 0, int32(zkerr.AuthFailed), nil)
		c.closeAfterFlush()
		return false
	}
	ids, err := c.s.auth.Authenticate(ap.Scheme, ap.Auth)
	if err != nil {
		c.s.log.Info("authentication failed", "scheme", ap.Scheme, "session", fmt.Sprintf("0x%x", c.session()))
		c.send(hdr.Xid, 0, int32(zkerr.AuthFailed), nil)
		c.closeAfterFlush()
		return false
	}
	old := *c.ids.Load()
	merged := append([]jute.Id(nil), old...)
	for _, id := range ids {
		dup := false
		for _, have := range merged {
			if have == id {
				dup = true
				break
			}
		}
		if !dup {
			merged = append(merged, id)
		}
	}
	c.ids.Store(&merged)
	c.send(hdr.Xid, 0, 0, nil)
	return true
}

// decodeWrite decodes a write's body; nil means malformed (prep then logs
// a MARSHALLINGERROR error txn, as ZooKeeper does).
func decodeWrite(op int32, body []byte) jute.Record {
	var rec jute.Record
	switch op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer:
		rec = &jute.CreateRequest{}
	case jute.OpCreateTTL:
		rec = &jute.CreateTTLRequest{}
	case jute.OpDelete, jute.OpCheck:
		rec = &jute.PathVersionRequest{}
	case jute.OpSetData:
		rec = &jute.SetDataRequest{}
	case jute.OpSetACL:
		rec = &jute.SetACLRequest{}
	case jute.OpMulti:
		rec = &jute.MultiRequest{}
	case jute.OpReconfig:
		rec = &jute.ReconfigRequest{}
	case jute.OpDeleteContainer:
		return &jute.PathRecord{Path: string(body)}
	case jute.OpSync:
		rec = &jute.PathRecord{}
	case jute.OpCloseSession:
		return nil
	default:
		return nil
	}
	if err := jute.Unmarshal(body, rec); err != nil {
		return nil
	}
	if m, ok := rec.(*jute.MultiRequest); ok {
		for _, o := range m.Ops {
			if o.Type == jute.OpGetData || o.Type == jute.OpGetChildren {
				return nil // reads cannot be mixed into a multi
			}
		}
	}
	return rec
}

func (c *Conn) submitWrite(hdr jute.RequestHeader, body []byte, now time.Time) bool {
	if c.s.proc.Failed() {
		// Refused writes are answered like reads: after this session's
		// earlier writes, whose replies must come first.
		c.read(hdr, body, now)
		return true
	}
	if limit := int64(c.s.cfg.OutstandingLimit); limit > 0 {
		for c.s.proc.Outstanding() > limit {
			select {
			case <-c.done:
				return false
			case <-time.After(time.Millisecond):
			}
		}
	}
	req := &pipeline.Request{
		SessionID: c.session(), Cxid: hdr.Xid, Op: hdr.Type,
		Record: decodeWrite(hdr.Type, body), Auth: *c.ids.Load(),
		Origin: c, Tag: &pendingWrite{start: now},
	}
	c.mu.Lock()
	prev := c.lastWrite
	c.pending++
	c.lastWrite = req
	c.mu.Unlock()
	if err := c.s.proc.Submit(req); err != nil {
		if !errors.Is(err, pipeline.ErrStoreFailed) {
			c.close()
			return false
		}
		// The store failed since the check above; nothing was queued.
		// Writes finish in order, so prev is still pending iff any is.
		c.mu.Lock()
		c.pending--
		if c.lastWrite == req {
			c.lastWrite = nil
			if c.pending > 0 {
				c.lastWrite = prev
			}
		}
		c.mu.Unlock()
		c.read(hdr, body, now)
	}
	return true
}

// Dropped implements pipeline.Dropper: the store failed with this write
// in flight, so it may or may not be durable. Only a lost connection tells
// a ZooKeeper client exactly that (its outcome is unknown), so close it.
func (c *Conn) Dropped(req *pipeline.Request) {
	c.s.log.Info("closing connection: the store failed with its write in flight, outcome unknown",
		"session", fmt.Sprintf("0x%x", req.SessionID), "zxid", fmt.Sprintf("0x%x", req.Hdr.Zxid))
	c.close()
}

// read serves a read now, or queues it behind the session's last
// outstanding write so the session sees its own writes in order.
func (c *Conn) read(hdr jute.RequestHeader, body []byte, now time.Time) {
	c.mu.Lock()
	if c.pending > 0 {
		pw := c.lastWrite.Tag.(*pendingWrite)
		pw.after = append(pw.after, deferredRead{hdr: hdr, body: body, start: now})
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.execRead(hdr, body, now)
}

// Applied is called by the apply stage, in zxid order, for this
// connection's writes.
func (c *Conn) Applied(req *pipeline.Request, res *datatree.Result) {
	pw := req.Tag.(*pendingWrite)
	errCode, body := writeReply(req, res)
	c.send(req.Cxid, req.Hdr.Zxid, errCode, body)
	c.record(req.Op, errCode, req.Hdr.Zxid, pw.start)
	for {
		c.mu.Lock()
		after := pw.after
		pw.after = nil
		if len(after) == 0 {
			c.pending--
			if c.lastWrite == req {
				c.lastWrite = nil
			}
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		for _, d := range after {
			c.execRead(d.hdr, d.body, d.start)
		}
	}
	if req.Op == jute.OpCloseSession {
		c.s.dropSession(req.SessionID)
		c.closeAfterFlush()
	}
}

func (c *Conn) record(op, errCode int32, zxid int64, start time.Time) {
	d := time.Since(start)
	c.s.cfg.Metrics.ObserveRequest(op, errCode, d)
	us := d.Microseconds()
	c.lastZxid.Store(zxid)
	c.lastResp.Store(time.Now().UnixMilli())
	c.lastLatency.Store(us)
	c.lat.add(us)
	c.s.stats.latency.add(us)
}

// Info is a connection's state for cons/stat.
type Info struct {
	Remote        string
	Queued        int64
	Received      int64
	Sent          int64
	SessionID     int64
	LastOp        int32
	Established   time.Time
	Timeout       int32
	LastCxid      int32
	LastZxid      int64
	LastResponse  int64
	LastLatencyMs int64
	Latency       admin.Latency
}

// Info snapshots the connection's state.
func (c *Conn) Info() Info {
	c.mu.Lock()
	queued := int64(c.pending)
	c.mu.Unlock()
	return Info{
		Remote: c.nc.RemoteAddr().String(), Queued: queued,
		Received: c.recv.Load(), Sent: c.sent.Load(), SessionID: c.sid.Load(),
		LastOp: c.lastOp.Load(), Established: c.established, Timeout: c.timeout.Load(),
		LastCxid: c.lastCxid.Load(), LastZxid: c.lastZxid.Load(), LastResponse: c.lastResp.Load(),
		LastLatencyMs: c.lastLatency.Load() / 1000, Latency: c.lat.ms(),
	}
}

// ResetStats zeroes the connection's counters (crst).
func (c *Conn) ResetStats() {
	c.recv.Store(0)
	c.sent.Store(0)
	c.lastLatency.Store(0)
	c.lat.reset()
}

// DecodeWrite decodes a write request's body as a client sent it; nil
// means malformed. A leader uses it for the writes its learners forward.
func DecodeWrite(op int32, body []byte) jute.Record {
	if op == jute.OpCreateSession {
		var r jute.IntRecord
		if jute.Unmarshal(body, &r) != nil {
			return nil
		}
		return &r
	}
	return decodeWrite(op, body)
}
