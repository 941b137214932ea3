package tcp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/transports/internal/link"
)

// qlink is one quorum-port connection: a learner's to its leader. The
// learner dials; the leader learns who it is from the first packet.
type qlink struct {
	q    *link.Queue
	turn *link.Turn
	// order ranks links by age (pair.Manager.NextOrder): concurrent
	// greetings may be read out of order, and an older connection must
	// not replace a newer one.
	order uint64
	// ctx ends when the link is closed; it also cancels a dial.
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex
	c  net.Conn // nil while dialling
}

func (t *Transport) newQlink(c net.Conn, order uint64) *qlink {
	ctx, cancel := context.WithCancel(t.ctx)
	return &qlink{q: link.NewQueue(t.opts.SendQueue, t.opts.SendQueueBytes), order: order, ctx: ctx, cancel: cancel, c: c}
}

func (l *qlink) close() {
	l.cancel()
	l.mu.Lock()
	c := l.c
	l.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

func (l *qlink) isClosed() bool { return l.ctx.Err() != nil }

// setConn attaches a dialled connection; false if the link was closed
// meanwhile (the connection is closed then).
func (l *qlink) setConn(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed() {
		c.Close()
		return false
	}
	l.c = c
	return true
}

// install makes l the peer's current link and returns the one it
// replaces. The caller holds t.mu and closes the old link after.
func (t *Transport) installLocked(p *peer, l *qlink) (old *qlink) {
	old = p.ql
	l.turn = p.turn.Next()
	p.turn = l.turn
	p.ql = l
	t.wg.Add(1)
	return old
}

// openLearnerLocked starts a new learner link to p carrying msgs (a
// FOLLOWERINFO or OBSERVERINFO first). A learner always opens a fresh
// connection, as ZooKeeper's Learner.connectToLeader does.
func (t *Transport) openLearnerLocked(p *peer, msgs [][]byte) (old *qlink) {
	l := t.newQlink(nil, t.elec.NextOrder())
	l.q.Push(msgs...) // an empty queue takes any batch
	old = t.installLocked(p, l)
	go t.runLearner(p, p.addr.QuorumAddr, l)
	return old
}

func (t *Transport) runLearner(p *peer, addr string, l *qlink) {
	defer t.wg.Done()
	defer l.turn.End()
	ctx, cancel := context.WithTimeout(l.ctx, t.opts.ConnectTimeout)
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	cancel()
	if err == nil && !l.setConn(c) {
		err = net.ErrClosed
	}
	if !l.turn.Wait(t.ctx.Done()) {
		l.close()
		return
	}
	if err != nil {
		// Nothing came up, but the kernel must learn that its
		// FOLLOWERINFO went nowhere: a Down without an Up.
		t.log.Info("connect to leader failed", "peer", p.id, "addr", addr, "err", err)
		if t.release(p, l) {
			t.event(p.id, ext.ChanBroadcast, false)
		}
		return
	}
	t.serveQuorum(p, l, c, bufio.NewReaderSize(c, ioBuffer), nil)
}

// release clears p's current link if it is l; it reports whether it was.
func (t *Transport) release(p *peer, l *qlink) bool {
	l.close()
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.ql == l {
		p.ql = nil
		return !t.closed
	}
	return false
}

// acceptQuorum reads a learner's first packet to learn who it is.
func (t *Transport) acceptQuorum(c net.Conn, order uint64) {
	c.SetReadDeadline(time.Now().Add(t.opts.ConnectTimeout))
	br := bufio.NewReaderSize(c, ioBuffer)
	first, err := readGreeting(br, 2*t.opts.MaxBuffer)
	if !t.handshakeDone(c) {
		return
	}
	var sid int64
	if err == nil {
		sid, err = learnerID(first)
	}
	if err != nil {
		t.log.Warn("quorum connection without a valid learner greeting; closing", "remote", c.RemoteAddr(), "err", err)
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	t.mu.Lock()
	p := t.peers[sid]
	if p == nil || t.closed || (p.ql != nil && p.ql.order > order) {
		t.mu.Unlock()
		t.log.Warn("quorum connection from an unknown server, or superseded; closing", "peer", sid, "remote", c.RemoteAddr())
		c.Close()
		return
	}
	l := t.newQlink(c, order)
	old := t.installLocked(p, l)
	t.mu.Unlock()
	if old != nil {
		old.close()
	}
	go func() {
		defer t.wg.Done()
		defer l.turn.End()
		if !l.turn.Wait(t.ctx.Done()) {
			l.close()
			return
		}
		t.serveQuorum(p, l, c, br, first)
	}()
}

var errNotLearner = errors.New("tcp: first quorum packet is not FOLLOWERINFO or OBSERVERINFO")

// readGreeting reads a learner's first packet, refusing any other type as
// soon as the type is in: a stranger's bytes are not read further.
func readGreeting(br *bufio.Reader, maxBuf int) ([]byte, error) {
	head, err := br.Peek(4)
	if err != nil {
		return nil, err
	}
	if !link.IsHello(head) {
		return nil, errNotLearner
	}
	pkt, _, err := readPacket(br, maxBuf)
	return pkt, err
}

// learnerID returns the sid in a FOLLOWERINFO/OBSERVERINFO's LearnerInfo.
func learnerID(pkt []byte) (int64, error) {
	var qp jute.QuorumPacket
	if err := jute.Unmarshal(pkt, &qp); err != nil {
		return 0, err
	}
	var li jute.LearnerInfo
	if err := jute.Unmarshal(qp.Data, &li); err != nil {
		return 0, err
	}
	return li.ServerID, nil
}

// serveQuorum announces the link, runs its writer, and reads packets into
// the inbox until the connection ends; a SNAP packet's snapshot stream is
// delivered as ChanBulk messages before the next packet.
func (t *Transport) serveQuorum(p *peer, l *qlink, c net.Conn, br *bufio.Reader, first []byte) {
	t.mu.Lock()
	current := p.ql == l && !t.closed
	t.mu.Unlock()
	if !current || l.isClosed() {
		l.close()
		if t.release(p, l) {
			t.event(p.id, ext.ChanBroadcast, false)
		}
		return
	}
	t.event(p.id, ext.ChanBroadcast, true)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := link.Pump(bufio.NewWriterSize(c, ioBuffer), l.q, false, false, l.ctx.Done()); err != nil {
			t.log.Debug("quorum write failed", "peer", p.id, "err", err)
		}
		l.close()
	}()
	err := t.readQuorum(p.id, br, first)
	if !isClosedErr(err) {
		t.log.Warn("quorum connection dropped", "peer", p.id, "err", err)
	}
	l.close()
	wg.Wait()
	t.release(p, l)
	t.event(p.id, ext.ChanBroadcast, false)
}

func (t *Transport) readQuorum(from int64, br *bufio.Reader, first []byte) error {
	if first != nil {
		t.deliver(from, ext.ChanBroadcast, first)
	}
	bulk := func(b []byte) { t.deliver(from, ext.ChanBulk, b) }
	for {
		pkt, typ, err := readPacket(br, 2*t.opts.MaxBuffer)
		if err != nil {
			return err
		}
		t.deliver(from, ext.ChanBroadcast, pkt)
		if typ == link.PktSnap {
			if _, err := scanSnapshot(br, 2*t.opts.MaxBuffer, t.opts.BulkChunk, bulk); err != nil {
				return err
			}
		}
	}
}

// isClosedErr is true for the ordinary ends of a connection.
func isClosedErr(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}
