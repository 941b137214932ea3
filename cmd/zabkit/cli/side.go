package cli

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

// side is a second, minimal session speaking jute directly, for the two
// requests go-zookeeper v1.0.4 cannot send: addWatch (opcode 106) and
// whoAmI (opcode 107). The shell replays its addauth credentials on it, so
// whoami reports the same identities the main session has; persistent
// watches registered here live as long as the side session.
//
// It is deliberately small: no reconnect (a lost side session is re-dialled
// by the next command that needs it), pings to keep the session alive, and
// notifications handed to onEvent.
type side struct {
	nc      net.Conn
	onEvent func(jute.WatcherEvent)

	wmu sync.Mutex // serializes frame writes
	xid int32

	mu      sync.Mutex
	pending map[int32]chan sideReply
	err     error // set once the connection is gone

	done chan struct{}
}

type sideReply struct {
	hdr  jute.ReplyHeader
	body []byte
}

// maxSideFrame bounds what the side session reads; its replies are tiny.
const maxSideFrame = 16 << 20

type credential struct {
	scheme string
	auth   []byte
}

// dialSide opens the side session on the first server that answers.
func dialSide(ctx context.Context, servers []string, timeout time.Duration, creds []credential, onEvent func(jute.WatcherEvent)) (*side, error) {
	var last error
	for _, addr := range servers {
		s, err := dialSideOne(ctx, addr, timeout, creds, onEvent)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

func dialSideOne(ctx context.Context, addr string, timeout time.Duration, creds []credential, onEvent func(jute.WatcherEvent)) (*side, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	_ = nc.SetDeadline(time.Now().Add(timeout))
	req := jute.ConnectRequest{TimeOut: int32(timeout.Milliseconds()), Passwd: make([]byte, 16), HasReadOnly: true}
	if err := writeFrame(nc, jute.Marshal(&req)); err != nil {
		nc.Close()
		return nil, err
	}
	payload, err := readFrame(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	var resp jute.ConnectResponse
	if err := jute.Unmarshal(payload, &resp); err != nil {
		nc.Close()
		return nil, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	if resp.TimeOut <= 0 {
		nc.Close()
		return nil, fmt.Errorf("handshake with %s: %w", addr, zkerr.SessionExpired)
	}
	_ = nc.SetDeadline(time.Time{})
	s := &side{nc: nc, onEvent: onEvent, pending: make(map[int32]chan sideReply), done: make(chan struct{})}
	go s.readLoop()
	go s.pingLoop(time.Duration(resp.TimeOut) * time.Millisecond / 3)
	for _, c := range creds {
		if _, err := s.call(ctx, jute.XidAuth, jute.OpAuth, &jute.AuthPacket{Scheme: c.scheme, Auth: c.auth}); err != nil {
			s.close()
			return nil, fmt.Errorf("replay addauth %s: %w", c.scheme, err)
		}
	}
	return s, nil
}

func writeFrame(w io.Writer, payload []byte) error {
	buf := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(len(payload)))
	if _, err := w.Write(append(buf, payload...)); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

func readFrame(r io.Reader) ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return nil, fmt.Errorf("read frame length: %w", err)
	}
	n := binary.BigEndian.Uint32(lb[:])
	if n > maxSideFrame {
		return nil, fmt.Errorf("frame of %d bytes exceeds %d", n, maxSideFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read frame: %w", err)
	}
	return b, nil
}

// parseReply splits a reply frame into its header and body.
func parseReply(payload []byte) (jute.ReplyHeader, []byte, error) {
	r := jute.NewReader(payload)
	var hdr jute.ReplyHeader
	hdr.Decode(r)
	if r.Err() != nil {
		return hdr, nil, fmt.Errorf("bad reply header: %w", r.Err())
	}
	return hdr, r.Rest(), nil
}

// errSideClosed means the side session's connection is gone.
var errSideClosed = errors.New("side session closed")

func (s *side) readLoop() {
	defer close(s.done)
	for {
		payload, err := readFrame(s.nc)
		if err != nil {
			s.fail(fmt.Errorf("%w: %w", errSideClosed, err))
			return
		}
		hdr, body, err := parseReply(payload)
		if err != nil {
			s.fail(fmt.Errorf("%w: %w", errSideClosed, err))
			return
		}
		switch hdr.Xid {
		case jute.XidNotification:
			var ev jute.WatcherEvent
			if err := jute.Unmarshal(body, &ev); err == nil && s.onEvent != nil {
				s.onEvent(ev)
			}
			continue
		case jute.XidPing:
			continue
		}
		s.mu.Lock()
		ch := s.pending[hdr.Xid]
		delete(s.pending, hdr.Xid)
		s.mu.Unlock()
		if ch != nil {
			ch <- sideReply{hdr: hdr, body: body}
		}
	}
}

func (s *side) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
	for x, ch := range s.pending {
		close(ch)
		delete(s.pending, x)
	}
}

func (s *side) pingLoop(every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if err := s.send(jute.XidPing, jute.OpPing, nil); err != nil {
				return
			}
		}
	}
}

func (s *side) send(xid, op int32, rec jute.Record) error {
	w := jute.NewWriter(make([]byte, 0, 64))
	hdr := jute.RequestHeader{Xid: xid, Type: op}
	hdr.Encode(w)
	if rec != nil {
		rec.Encode(w)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return writeFrame(s.nc, w.Bytes())
}

// call sends one request and waits for its reply; xid 0 picks the next one.
// A non-zero error code in the reply comes back as a zkerr.Code.
func (s *side) call(ctx context.Context, xid, op int32, rec jute.Record) ([]byte, error) {
	ch := make(chan sideReply, 1)
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, err
	}
	if xid == 0 {
		s.xid++
		xid = s.xid
	}
	s.pending[xid] = ch
	s.mu.Unlock()
	if err := s.send(xid, op, rec); err != nil {
		s.fail(fmt.Errorf("%w: %w", errSideClosed, err))
		return nil, err
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			s.mu.Lock()
			err := s.err
			s.mu.Unlock()
			return nil, err
		}
		if rep.hdr.Err != 0 {
			return nil, zkerr.Code(rep.hdr.Err)
		}
		return rep.body, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *side) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err == nil
}

func (s *side) addWatch(ctx context.Context, path string, mode int32) error {
	_, err := s.call(ctx, 0, jute.OpAddWatch, &jute.AddWatchRequest{Path: path, Mode: mode})
	return err
}

func (s *side) whoAmI(ctx context.Context) ([]jute.ClientInfo, error) {
	body, err := s.call(ctx, 0, jute.OpWhoAmI, nil)
	if err != nil {
		return nil, err
	}
	var resp jute.WhoAmIResponse
	if err := jute.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decode whoAmI reply: %w", err)
	}
	return resp.Infos, nil
}

// close ends the session politely (closeSession) and drops the socket.
func (s *side) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = s.call(ctx, 0, jute.OpCloseSession, nil)
	s.nc.Close()
	<-s.done
}
