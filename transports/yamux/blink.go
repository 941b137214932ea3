package yamux

import (
	"bufio"
	"context"
	"sync"
	"time"

	hy "github.com/hashicorp/yamux"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/transports/internal/base"
	"github.com/zabkit/zabkit/transports/internal/link"
)

// blink is one ZAB link: a broadcast stream and a bulk stream on the
// session to the peer, both opened by the learner. Each stream has its own
// queue and writer, so a snapshot on the bulk stream never queues in front
// of a PING.
type blink struct {
	id    uint64
	bq    *link.Queue // broadcast
	kq    *link.Queue // bulk
	chunk int
	ctx   context.Context
	stop  context.CancelFunc

	mu       sync.Mutex
	sess     *session
	bcast    *hy.Stream
	bulk     *hy.Stream
	bulkSeen chan struct{} // closed once bulk is attached
}

func (t *Transport) newBlink(id uint64) *blink {
	ctx, cancel := context.WithCancel(t.b.Ctx)
	return &blink{
		id:       id,
		bq:       link.NewQueue(t.opts.SendQueue, t.opts.SendQueueBytes),
		kq:       link.NewQueue(t.opts.SendQueue, t.opts.SendQueueBytes),
		chunk:    t.opts.BulkChunk,
		ctx:      ctx,
		stop:     cancel,
		bulkSeen: make(chan struct{}),
	}
}

// Push queues on the channel's own stream. Bulk messages are cut into
// frames of at most BulkChunk: chunk boundaries carry no meaning, and
// frames must stay under the receiver's limit.
func (b *blink) Push(ch ext.Channel, msgs [][]byte) error {
	if ch != ext.ChanBulk {
		return b.bq.Push(msgs...)
	}
	var frames [][]byte
	for _, m := range msgs {
		for len(m) > b.chunk {
			frames = append(frames, m[:b.chunk])
			m = m[b.chunk:]
		}
		frames = append(frames, m)
	}
	return b.kq.Push(frames...)
}

func (b *blink) Closed() bool { return b.ctx.Err() != nil }

// Close ends the link at once on this side: readers fail now (a read
// deadline in the past) and the streams' FINs end the peer's side.
func (b *blink) Close() {
	b.stop()
	b.mu.Lock()
	streams := []*hy.Stream{b.bcast, b.bulk}
	b.mu.Unlock()
	for _, s := range streams {
		if s != nil {
			s.SetReadDeadline(time.Now())
			s.Close()
		}
	}
}

// attach sets the link's streams; false (and the streams closed) if the
// link was closed meanwhile.
func (b *blink) attach(sess *session, bcast, bulk *hy.Stream) bool {
	b.mu.Lock()
	closed := b.Closed()
	if !closed {
		b.sess = sess
		if bcast != nil {
			b.bcast = bcast
		}
		if bulk != nil && b.bulk == nil {
			b.bulk = bulk
			close(b.bulkSeen)
		}
	}
	b.mu.Unlock()
	if closed {
		for _, s := range []*hy.Stream{bcast, bulk} {
			if s != nil {
				s.Close()
			}
		}
	}
	return !closed
}

// newLearner is base.Hooks.NewLearner.
func (t *Transport) newLearner(_ *base.Peer, msgs [][]byte) base.Link {
	b := t.newBlink(t.linkIDs.Add(1))
	b.bq.Push(msgs...) // an empty queue takes any batch
	return b
}

// openStreams is base.Hooks.Connect: wait for the session to the leader
// and open the link's two streams on it.
func (t *Transport) openStreams(p *base.Peer, bl base.Link) error {
	b := bl.(*blink)
	ctx, cancel := context.WithTimeout(b.ctx, t.opts.ConnectTimeout)
	defer cancel()
	c, err := t.b.Pairs.Wait(ctx, p.ID)
	if err != nil {
		return err
	}
	sess := c.(*session)
	var streams [2]*hy.Stream
	for i, kind := range []byte{streamBroadcast, streamBulk} {
		st, err := sess.ys.OpenStream()
		if err == nil {
			err = writeHeader(st, kind, b.id)
		}
		if err != nil {
			for _, s := range streams {
				if s != nil {
					s.Close()
				}
			}
			return err
		}
		streams[i] = st
	}
	if !b.attach(sess, streams[0], streams[1]) {
		return context.Canceled
	}
	return nil
}

// acceptLink installs the link a learner opened with its broadcast stream.
func (t *Transport) acceptLink(sid int64, s *session, id uint64, st *hy.Stream) {
	p := t.b.Peer(sid)
	if p == nil {
		st.Close()
		return
	}
	b := t.newBlink(id)
	b.attach(s, st, nil)
	// Streams arrive in the order they were opened, so this link is the
	// newest from that peer.
	t.b.Accepted(p, b, t.b.Pairs.NextOrder())
}

// attachBulk gives the current link with this id, on this session, its
// bulk stream.
func (t *Transport) attachBulk(sid int64, s *session, id uint64, st *hy.Stream) bool {
	p := t.b.Peer(sid)
	if p == nil {
		return false
	}
	b, ok := t.b.LinkOf(p).(*blink)
	if !ok || b.id != id {
		return false
	}
	b.mu.Lock()
	same := b.sess == s
	b.mu.Unlock()
	return same && b.attach(s, nil, st)
}

// serveLink is base.Hooks.Serve: the link's two writers and two readers,
// until the broadcast stream ends.
func (t *Transport) serveLink(p *base.Peer, bl base.Link) {
	b := bl.(*blink)
	b.mu.Lock()
	bcast := b.bcast
	b.mu.Unlock()
	limit := 2 * t.opts.MaxBuffer
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		t.pump(p.ID, b, bcast, b.bq)
	}()
	go func() {
		defer wg.Done()
		select {
		case <-b.bulkSeen:
		case <-b.ctx.Done():
			return
		}
		b.mu.Lock()
		bulk := b.bulk
		b.mu.Unlock()
		var rg sync.WaitGroup
		rg.Add(1)
		go func() {
			defer rg.Done()
			t.pump(p.ID, b, bulk, b.kq)
		}()
		t.read(p.ID, b, bulk, ext.ChanBulk, limit)
		rg.Wait()
	}()
	go func() {
		defer wg.Done()
		t.read(p.ID, b, bcast, ext.ChanBroadcast, limit)
	}()
	wg.Wait()
}

func (t *Transport) pump(peer int64, b *blink, st *hy.Stream, q *link.Queue) {
	if err := link.Pump(bufio.NewWriterSize(st, ioBuffer), q, true, false, b.ctx.Done()); !base.IsClosedErr(err, closedErrs...) {
		t.b.Log.Debug("link write failed", "peer", peer, "err", err)
	}
	b.Close()
}

func (t *Transport) read(peer int64, b *blink, st *hy.Stream, ch ext.Channel, limit int) {
	br := bufio.NewReaderSize(st, ioBuffer)
	for {
		m, err := link.ReadFrame(br, limit)
		if err != nil {
			if !base.IsClosedErr(err, closedErrs...) && !b.Closed() {
				t.b.Log.Warn("link dropped", "peer", peer, "channel", ch, "err", err)
			}
			break
		}
		t.b.Deliver(peer, ch, m)
	}
	b.Close()
}
