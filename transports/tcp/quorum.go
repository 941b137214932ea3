package tcp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/transports/internal/base"
	"github.com/zabkit/zabkit/transports/internal/link"
)

// qlink is one quorum-port connection: a learner's to its leader. The
// learner dials; the leader learns who it is from the first packet.
// Broadcast packets and bulk bytes share its one queue, so they go out in
// the order they were sent.
type qlink struct {
	q *link.Queue
	// ctx ends when the link is closed; it also cancels a dial.
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	c     net.Conn // nil while dialling
	br    *bufio.Reader
	first []byte // an accepted link's greeting, delivered after Up
}

func (t *Transport) newQlink(c net.Conn, br *bufio.Reader) *qlink {
	ctx, cancel := context.WithCancel(t.b.Ctx)
	return &qlink{q: link.NewQueue(t.opts.SendQueue, t.opts.SendQueueBytes), ctx: ctx, cancel: cancel, c: c, br: br}
}

func (l *qlink) Push(_ ext.Channel, msgs [][]byte) error { return l.q.Push(msgs...) }

func (l *qlink) Close() {
	l.cancel()
	l.mu.Lock()
	c := l.c
	l.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

func (l *qlink) Closed() bool { return l.ctx.Err() != nil }

// newLearner is base.Hooks.NewLearner. A learner always opens a fresh
// connection, as ZooKeeper's Learner.connectToLeader does.
func (t *Transport) newLearner(_ *base.Peer, msgs [][]byte) base.Link {
	l := t.newQlink(nil, nil)
	l.q.Push(msgs...) // an empty queue takes any batch
	return l
}

// connectLearner is base.Hooks.Connect: dial the leader's quorum port.
func (t *Transport) connectLearner(p *base.Peer, bl base.Link) error {
	l := bl.(*qlink)
	ctx, cancel := context.WithTimeout(l.ctx, t.opts.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.Addr.QuorumAddr)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Closed() {
		c.Close()
		return net.ErrClosed
	}
	l.c, l.br = c, bufio.NewReaderSize(c, ioBuffer)
	return nil
}

// acceptQuorum reads a learner's first packet to learn who it is.
func (t *Transport) acceptQuorum(c net.Conn, order uint64) {
	c.SetReadDeadline(time.Now().Add(t.opts.ConnectTimeout))
	br := bufio.NewReaderSize(c, ioBuffer)
	first, err := readGreeting(br, 2*t.opts.MaxBuffer)
	if !t.b.Handshaken(c) {
		return
	}
	var sid int64
	if err == nil {
		sid, err = learnerID(first)
	}
	if err != nil {
		t.b.Log.Warn("quorum connection without a valid learner greeting; closing", "remote", c.RemoteAddr(), "err", err)
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	p := t.b.Peer(sid)
	if p == nil {
		t.b.Log.Warn("quorum connection from an unknown server; closing", "peer", sid, "remote", c.RemoteAddr())
		c.Close()
		return
	}
	l := t.newQlink(c, br)
	l.first = first
	if !t.b.Accepted(p, l, order) {
		t.b.Log.Info("quorum connection superseded by a newer one; closed", "peer", sid)
	}
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

// serveQuorum is base.Hooks.Serve: the link's writer, and this goroutine
// reading packets into the inbox until the connection ends. A SNAP
// packet's snapshot stream is delivered as ChanBulk messages before the
// next packet.
func (t *Transport) serveQuorum(p *base.Peer, bl base.Link) {
	l := bl.(*qlink)
	l.mu.Lock()
	c, br := l.c, l.br
	l.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := link.Pump(bufio.NewWriterSize(c, ioBuffer), l.q, false, false, l.ctx.Done()); err != nil {
			t.b.Log.Debug("quorum write failed", "peer", p.ID, "err", err)
		}
		l.Close()
	}()
	if err := t.readQuorum(p.ID, br, l.first); !base.IsClosedErr(err) && !l.Closed() {
		t.b.Log.Warn("quorum connection dropped", "peer", p.ID, "err", err)
	}
	l.Close()
	wg.Wait()
}

func (t *Transport) readQuorum(from int64, br *bufio.Reader, first []byte) error {
	if first != nil {
		t.b.Deliver(from, ext.ChanBroadcast, first)
	}
	bulk := func(b []byte) { t.b.Deliver(from, ext.ChanBulk, b) }
	for {
		pkt, typ, err := readPacket(br, 2*t.opts.MaxBuffer)
		if err != nil {
			return err
		}
		t.b.Deliver(from, ext.ChanBroadcast, pkt)
		if typ == link.PktSnap {
			if _, err := scanSnapshot(br, 2*t.opts.MaxBuffer, t.opts.BulkChunk, bulk); err != nil {
				return err
			}
		}
	}
}
