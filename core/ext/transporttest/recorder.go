package transporttest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// WaitTimeout bounds every wait of the kit. It is a guard against a hung
// transport, not a performance assertion.
var WaitTimeout = 30 * time.Second

// Recorder is an ext.Inbox that keeps everything it is given, for tests.
// Block makes Deliver wait (a server that stopped reading), which is how
// the kit fills a sender's queue.
type Recorder struct {
	mu      sync.Mutex
	msgs    []ext.Message
	events  []ext.PeerEvent
	changed chan struct{}
	gate    chan struct{}
}

// NewRecorder returns an empty, unblocked recorder.
func NewRecorder() *Recorder { return &Recorder{changed: make(chan struct{})} }

// Deliver implements ext.Inbox.
func (r *Recorder) Deliver(m ext.Message) {
	r.mu.Lock()
	gate := r.gate
	r.mu.Unlock()
	if gate != nil {
		<-gate
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.notifyLocked()
	r.mu.Unlock()
}

// PeerChanged implements ext.Inbox.
func (r *Recorder) PeerChanged(e ext.PeerEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.notifyLocked()
	r.mu.Unlock()
}

func (r *Recorder) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Block makes Deliver wait until Unblock.
func (r *Recorder) Block() {
	r.mu.Lock()
	if r.gate == nil {
		r.gate = make(chan struct{})
	}
	r.mu.Unlock()
}

// Unblock releases Deliver.
func (r *Recorder) Unblock() {
	r.mu.Lock()
	if r.gate != nil {
		close(r.gate)
		r.gate = nil
	}
	r.mu.Unlock()
}

// Messages returns the payloads delivered from peer on ch, in order.
func (r *Recorder) Messages(from int64, ch ext.Channel) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]byte
	for _, m := range r.msgs {
		if m.From == from && m.Channel == ch {
			out = append(out, m.Data)
		}
	}
	return out
}

// Count is len(Messages(from, ch)) without the copy.
func (r *Recorder) Count(from int64, ch ext.Channel) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m.From == from && m.Channel == ch {
			n++
		}
	}
	return n
}

// Events returns the Up flags of the events about peer on ch, in order.
func (r *Recorder) Events(peer int64, ch ext.Channel) []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []bool
	for _, e := range r.events {
		if e.Peer == peer && e.Channel == ch {
			out = append(out, e.Up)
		}
	}
	return out
}

// Wait blocks until cond holds, failing the test after WaitTimeout. cond
// runs without the recorder's lock and may call its accessors.
func (r *Recorder) Wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(WaitTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", WaitTimeout, what)
		}
	}
}

// WaitEvents waits until at least len(want) events about peer on ch
// arrived and checks that the history so far starts with want (true = Up).
// Tests pass the whole history they expect since the start.
func (r *Recorder) WaitEvents(t testing.TB, peer int64, ch ext.Channel, want ...bool) {
	t.Helper()
	r.WaitEventsFrom(t, peer, ch, 0, want...)
}

// WaitEventsFrom is WaitEvents for the history from index `from` on (see
// Mark).
func (r *Recorder) WaitEventsFrom(t testing.TB, peer int64, ch ext.Channel, from int, want ...bool) {
	t.Helper()
	r.Wait(t, fmt.Sprintf("events %v about %d on %v after the first %d", updown(want), peer, ch, from), func() bool {
		return len(r.Events(peer, ch)) >= from+len(want)
	})
	ev := r.Events(peer, ch)
	for i := range want {
		if ev[from+i] != want[i] {
			t.Fatalf("events about %d on %v: got %v, want %v after the first %d", peer, ch, updown(ev), updown(want), from)
		}
	}
}

// Mark is the number of events about peer on ch so far.
func (r *Recorder) Mark(peer int64, ch ext.Channel) int { return len(r.Events(peer, ch)) }

func updown(ev []bool) []string {
	out := make([]string, len(ev))
	for i, up := range ev {
		out[i] = "down"
		if up {
			out[i] = "up"
		}
	}
	return out
}

// WaitCount waits until at least n messages from peer on ch arrived.
func (r *Recorder) WaitCount(t testing.TB, from int64, ch ext.Channel, n int) {
	t.Helper()
	r.Wait(t, fmt.Sprintf("%d messages from %d on %v", n, from, ch), func() bool { return r.Count(from, ch) >= n })
}
