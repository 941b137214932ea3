// Package chunkio turns chunks delivered by a transport (the ChanBulk
// messages of a SNAP sync) into an io.Reader a parser can consume from
// another goroutine.
//
// The transport's delivery goroutine must never block on the parser, so
// Feed queues without bound; the memory is what the leader has sent and
// the parser has not yet consumed, which flow control on the transport
// side bounds.
package chunkio

import (
	"io"
	"sync"
)

// Reader is an io.Reader over a queue of fed chunks; create it with
// NewReader. One goroutine feeds it and one reads it (any number may: all
// methods lock).
//
// A Read returns bytes of one chunk only, never joining two: a parser that
// stops reading at the end of what it needs then leaves the next chunk
// untouched, so a producer that feeds each stream in chunks of its own
// (as transports deliver a SNAP payload) can hand the rest to another
// consumer.
type Reader struct {
	mu       sync.Mutex
	cond     sync.Cond
	chunks   [][]byte // chunks[0][off:] is next
	off      int
	buffered int
	closed   bool
	err      error // what Read returns once closed (and drained, for EOF)
}

// NewReader returns an empty, open Reader.
func NewReader() *Reader {
	r := &Reader{}
	r.cond.L = &r.mu
	return r
}

// Feed queues b, which the Reader now owns (the caller must not modify
// it), and wakes a waiting Read. It never blocks. Empty chunks and chunks
// fed after Close are dropped.
func (r *Reader) Feed(b []byte) {
	if len(b) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.chunks = append(r.chunks, b)
	r.buffered += len(b)
	r.cond.Signal()
}

// Read copies from the oldest chunk, blocking until there is one or the
// Reader is closed. After Close it drains what was fed and then returns
// io.EOF; after CloseWithError it returns that error at once.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.chunks) == 0 && !r.closed {
		r.cond.Wait()
	}
	if len(r.chunks) == 0 {
		return 0, r.err
	}
	c := r.chunks[0][r.off:]
	n := copy(p, c)
	r.off += n
	r.buffered -= n
	if n == len(c) {
		r.chunks[0] = nil // let the chunk be collected
		r.chunks = r.chunks[1:]
		r.off = 0
		if len(r.chunks) == 0 {
			r.chunks = nil // and the queue's backing array
		}
	}
	return n, nil
}

// Buffered is the number of fed bytes not yet read.
func (r *Reader) Buffered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buffered
}

// Close ends the stream: Reads return what was fed, then io.EOF. It
// always returns nil.
func (r *Reader) Close() error {
	r.close(io.EOF, false)
	return nil
}

// CloseWithError aborts the stream (a broken link): queued bytes are
// dropped and every Read, blocked or later, returns err (io.EOF if nil).
// It always returns nil. The first Close or CloseWithError wins.
func (r *Reader) CloseWithError(err error) error {
	if err == nil {
		err = io.EOF
	}
	r.close(err, true)
	return nil
}

func (r *Reader) close(err error, drop bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed, r.err = true, err
	if drop {
		r.chunks, r.off, r.buffered = nil, 0, 0
	}
	r.cond.Broadcast()
}
