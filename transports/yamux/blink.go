package yamux

import (
	"bufio"
	"context"
	"sync"
	"time"

	hy "github.com/hashicorp/yamux"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/transports/internal/link"
)

// blink is one ZAB link: a broadcast stream and a bulk stream on the
// session to the peer, both opened by the learner. Each stream has its own
// queue and writer, so a snapshot on the bulk stream never queues in front
// of a PING.
type blink struct {
	id   uint64
	bq   *link.Queue // broadcast
	kq   *link.Queue // bulk
	turn *link.Turn
	ctx  context.Context
	stop context.CancelFunc

	mu       sync.Mutex
	sess     *session
	bcast    *hy.Stream
	bulk     *hy.Stream
	bulkSeen chan struct{} // closed once bulk is attached
}

func (t *Transport) newBlink(id uint64) *blink {
	ctx, cancel := context.WithCancel(t.ctx)
	return &blink{
		id:       id,
		bq:       link.NewQueue(t.opts.SendQueue, t.opts.SendQueueBytes),
		kq:       link.NewQueue(t.opts.SendQueue, t.opts.SendQueueBytes),
		ctx:      ctx,
		stop:     cancel,
		bulkSeen: make(chan struct{}),
	}
}

func (b *blink) isClosed() bool { return b.ctx.Err() != nil }

// close ends the link at once on this side: readers fail now (a read
// deadline in the past) and the streams' FINs end the peer's side.
func (b *blink) close() {
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
	closed := b.isClosed()
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

// installLocked makes b the peer's link and returns the one it replaces.
func (t *Transport) installLocked(p *peer, b *blink) (old *blink) {
	old = p.bl
	b.turn = p.turn.Next()
	p.turn = b.turn
	p.bl = b
	t.wg.Add(1)
	return old
}

// release clears p's link if it is b; it reports whether it was.
func (t *Transport) release(p *peer, b *blink) bool {
	b.close()
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.bl == b {
		p.bl = nil
		return !t.closed
	}
	return false
}

// openLearnerLocked starts a new link to p carrying msgs (FOLLOWERINFO or
// OBSERVERINFO first), replacing any link to p.
func (t *Transport) openLearnerLocked(p *peer, msgs [][]byte) (old *blink) {
	b := t.newBlink(t.linkIDs.Add(1))
	b.bq.Push(msgs...)
	old = t.installLocked(p, b)
	go t.runLearner(p, b)
	return old
}

func (t *Transport) runLearner(p *peer, b *blink) {
	defer t.wg.Done()
	defer b.turn.End()
	err := t.openStreams(p, b)
	if !b.turn.Wait(t.ctx.Done()) {
		b.close()
		return
	}
	if err != nil {
		t.log.Info("could not open a link to the leader", "peer", p.id, "err", err)
		if t.release(p, b) {
			t.event(p.id, ext.ChanBroadcast, false) // a Down without an Up
		}
		return
	}
	t.serveLink(p, b)
}

// openStreams waits for the session to p and opens the link's two
// streams on it.
func (t *Transport) openStreams(p *peer, b *blink) error {
	ctx, cancel := context.WithTimeout(b.ctx, t.opts.ConnectTimeout)
	defer cancel()
	c, err := t.sessions.Wait(ctx, p.id)
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
	t.mu.Lock()
	p := t.peers[sid]
	if p == nil || t.closed {
		t.mu.Unlock()
		st.Close()
		return
	}
	b := t.newBlink(id)
	b.attach(s, st, nil)
	old := t.installLocked(p, b)
	t.mu.Unlock()
	if old != nil {
		old.close()
	}
	go func() {
		defer t.wg.Done()
		defer b.turn.End()
		if !b.turn.Wait(t.ctx.Done()) {
			b.close()
			return
		}
		t.serveLink(p, b)
	}()
}

// attachBulk gives the current link with this id its bulk stream.
func (t *Transport) attachBulk(sid int64, s *session, id uint64, st *hy.Stream) bool {
	t.mu.Lock()
	var b *blink
	if p := t.peers[sid]; p != nil && p.bl != nil && p.bl.id == id {
		b = p.bl
	}
	t.mu.Unlock()
	if b == nil {
		return false
	}
	b.mu.Lock()
	same := b.sess == s
	b.mu.Unlock()
	return same && b.attach(s, nil, st)
}

// serveLink announces the link, runs its two writers and two readers, and
// announces Down once the broadcast stream ends.
func (t *Transport) serveLink(p *peer, b *blink) {
	t.mu.Lock()
	current := p.bl == b && !t.closed
	t.mu.Unlock()
	if !current || b.isClosed() {
		if t.release(p, b) {
			t.event(p.id, ext.ChanBroadcast, false)
		}
		return
	}
	t.event(p.id, ext.ChanBroadcast, true)
	b.mu.Lock()
	bcast := b.bcast
	b.mu.Unlock()
	limit := 2 * t.opts.MaxBuffer
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		t.pump(p.id, b, bcast, b.bq)
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
			t.pump(p.id, b, bulk, b.kq)
		}()
		t.read(p.id, b, bulk, ext.ChanBulk, limit)
		rg.Wait()
	}()
	go func() {
		defer wg.Done()
		t.read(p.id, b, bcast, ext.ChanBroadcast, limit)
	}()
	wg.Wait()
	t.release(p, b)
	t.event(p.id, ext.ChanBroadcast, false)
}

func (t *Transport) pump(peer int64, b *blink, st *hy.Stream, q *link.Queue) {
	if err := link.Pump(bufio.NewWriterSize(st, ioBuffer), q, true, false, b.ctx.Done()); err != nil && !isClosedErr(err) {
		t.log.Debug("link write failed", "peer", peer, "err", err)
	}
	b.close()
}

func (t *Transport) read(peer int64, b *blink, st *hy.Stream, ch ext.Channel, limit int) {
	br := bufio.NewReaderSize(st, ioBuffer)
	for {
		m, err := link.ReadFrame(br, limit)
		if err != nil {
			if !isClosedErr(err) && !b.isClosed() {
				t.log.Warn("link dropped", "peer", peer, "channel", ch, "err", err)
			}
			break
		}
		t.deliver(peer, ch, m)
	}
	b.close()
}
