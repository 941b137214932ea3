// Package link holds the building blocks the socket transports share: the
// per-peer send queue and the writer that drains it, length-prefixed
// frames, the ordering of one peer's successive connections, and the rule
// that tells which message opens a ZAB link.
package link

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/zabkit/zabkit/core/ext"
)

// Queue is a bounded, non-blocking send queue between Transport.Send and
// the one writer goroutine of a connection. Push never blocks: a full
// queue refuses the whole batch with ext.ErrBackpressure, which is how the
// kernel learns that a peer is not keeping up.
//
// A newest-only queue (NewSlot) keeps just the last message pushed, like
// ZooKeeper's election send queue of capacity 1, and remembers the message
// its writer took last so that a fresh connection can send it again.
type Queue struct {
	mu       sync.Mutex
	items    [][]byte
	bytes    int
	maxItems int
	maxBytes int
	newest   bool
	last     []byte
	ready    chan struct{}
}

// NewQueue returns a queue bounded to maxItems messages and maxBytes bytes
// (<= 0: no bound of that kind).
func NewQueue(maxItems, maxBytes int) *Queue {
	return &Queue{maxItems: maxItems, maxBytes: maxBytes, ready: make(chan struct{}, 1)}
}

// NewSlot returns a newest-only queue.
func NewSlot() *Queue {
	return &Queue{newest: true, ready: make(chan struct{}, 1)}
}

// Push queues msgs, all or nothing. On a newest-only queue the last of
// msgs replaces whatever was waiting and Push never fails.
func (q *Queue) Push(msgs ...[]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	q.mu.Lock()
	if q.newest {
		m := msgs[len(msgs)-1]
		q.items = append(q.items[:0], m)
		q.bytes = len(m)
	} else {
		n := 0
		for _, m := range msgs {
			n += len(m)
		}
		if (q.maxItems > 0 && len(q.items)+len(msgs) > q.maxItems) ||
			(q.maxBytes > 0 && q.bytes+n > q.maxBytes && len(q.items) > 0) {
			items, bytes := len(q.items), q.bytes
			q.mu.Unlock()
			return fmt.Errorf("%w (%d messages, %d bytes queued)", ext.ErrBackpressure, items, bytes)
		}
		q.items = append(q.items, msgs...)
		q.bytes += n
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return nil
}

// Take moves every queued message to the end of buf and returns it.
func (q *Queue) Take(buf [][]byte) [][]byte {
	q.mu.Lock()
	buf = append(buf, q.items...)
	clear(q.items)
	q.items = q.items[:0]
	q.bytes = 0
	if q.newest && len(buf) > 0 {
		q.last = buf[len(buf)-1]
	}
	q.mu.Unlock()
	return buf
}

// Len is the number of queued messages.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Last returns the message a newest-only queue's writer took last, if
// nothing newer waits; nil otherwise.
func (q *Queue) Last() []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) > 0 {
		return nil
	}
	return q.last
}

// Ready fires after a Push.
func (q *Queue) Ready() <-chan struct{} { return q.ready }

// Pump writes q's messages to w until done closes or a write fails. It
// flushes only when the queue is empty, so a burst of small packets (every
// PROPOSAL and ACK) leaves in few large writes. framed writes each message
// as int length + payload; otherwise messages go out back to back, as
// QuorumPackets do. With resend, a newest-only queue's last message goes
// out first when nothing newer waits (ZooKeeper's SendWorker does this so a
// vote lost with the previous connection is not lost for good).
func Pump(w *bufio.Writer, q *Queue, framed, resend bool, done <-chan struct{}) error {
	var batch [][]byte
	if resend {
		if m := q.Last(); m != nil {
			batch = append(batch, m)
		}
	}
	var hdr [4]byte
	for {
		batch = q.Take(batch)
		if len(batch) == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
			select {
			case <-q.Ready():
				continue
			case <-done:
				return nil
			}
		}
		for _, m := range batch {
			if framed {
				binary.BigEndian.PutUint32(hdr[:], uint32(len(m)))
				if _, err := w.Write(hdr[:]); err != nil {
					return err
				}
			}
			if _, err := w.Write(m); err != nil {
				return err
			}
		}
		clear(batch)
		batch = batch[:0]
	}
}
