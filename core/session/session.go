// Package session tracks client sessions: ids, passwords, timeouts and
// bucketed expiry, exactly as ZooKeeper does, so sessions can one day move
// between zabkit and Java servers.
//
// The tracker is deterministic: it never reads a clock. Callers pass the
// current monotonic time in milliseconds, which keeps expiry testable and
// immune to wall-clock jumps.
package session

import (
	"sort"
	"sync"
)

// PasswordLen is the length of a session password.
const PasswordLen = 16

// passwordSeedMask is XORed with the session id to seed the password
// generator (ZooKeeper's "super secret").
const passwordSeedMask = 0xB3415C00

// Password returns the password ZooKeeper generates for a session id: the
// first 16 bytes of Java's new Random(id ^ 0xB3415C00).nextBytes().
func Password(id int64) []byte {
	const mult = 0x5DEECE66D
	const mask = (1 << 48) - 1
	s := (uint64(id^passwordSeedMask) ^ mult) & mask
	out := make([]byte, PasswordLen)
	for i := 0; i < PasswordLen; {
		s = (s*mult + 0xB) & mask
		v := int32(s >> 16)
		for n := 0; n < 4 && i < PasswordLen; n++ {
			out[i] = byte(v)
			v >>= 8
			i++
		}
	}
	return out
}

// InitialID returns the first session id a server mints: the server id in
// the top byte and the (monotonic) millisecond clock below it, as
// ZooKeeper's SessionTrackerImpl.initializeNextSessionId does.
func InitialID(serverID int64, nowMs int64) int64 {
	id := int64(uint64(nowMs<<24) >> 8)
	id |= serverID << 56
	if id == -1<<63 {
		id++
	}
	return id
}

// Session is the tracker's view of one session.
type Session struct {
	ID        int64
	TimeoutMs int32
	// ExpiresAt is the bucket time (ms) at which the session expires
	// unless touched.
	ExpiresAt int64
	// Closing is set once expiry or closeSession has begun; a closing
	// session accepts no more requests.
	Closing bool
}

// Tracker holds live sessions with bucketed expiry. It is safe for
// concurrent use.
type Tracker struct {
	mu       sync.Mutex
	tickMs   int64
	nextID   int64
	sessions map[int64]*Session
	buckets  map[int64]map[int64]*Session
}

// NewTracker returns a tracker whose expiry buckets are tickMs wide and
// whose first minted id is firstID.
func NewTracker(tickMs int64, firstID int64) *Tracker {
	if tickMs <= 0 {
		tickMs = 1
	}
	return &Tracker{
		tickMs:   tickMs,
		nextID:   firstID,
		sessions: make(map[int64]*Session),
		buckets:  make(map[int64]map[int64]*Session),
	}
}

func (t *Tracker) bucketOf(nowMs int64, timeoutMs int32) int64 {
	at := nowMs + int64(timeoutMs)
	return (at/t.tickMs + 1) * t.tickMs
}

func (t *Tracker) move(s *Session, to int64) {
	if s.ExpiresAt == to {
		return
	}
	if b := t.buckets[s.ExpiresAt]; b != nil {
		delete(b, s.ID)
		if len(b) == 0 {
			delete(t.buckets, s.ExpiresAt)
		}
	}
	s.ExpiresAt = to
	b := t.buckets[to]
	if b == nil {
		b = make(map[int64]*Session)
		t.buckets[to] = b
	}
	b[s.ID] = s
}

// NextID mints a new session id.
func (t *Tracker) NextID() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.nextID
	t.nextID++
	return id
}

// Add starts tracking a session (or refreshes its timeout if known).
func (t *Tracker) Add(id int64, timeoutMs int32, nowMs int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil {
		s = &Session{ID: id}
		t.sessions[id] = s
	}
	s.TimeoutMs = timeoutMs
	t.move(s, t.bucketOf(nowMs, timeoutMs))
}

// AddIfAbsent starts tracking a session another server of the ensemble
// created; a session already known is left as it is.
func (t *Tracker) AddIfAbsent(id int64, timeoutMs int32, nowMs int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sessions[id] != nil {
		return
	}
	s := &Session{ID: id, TimeoutMs: timeoutMs}
	t.sessions[id] = s
	t.move(s, t.bucketOf(nowMs, timeoutMs))
}

// TouchAll gives every live session a full timeout from now: a new leader
// takes over expiry without knowing when clients were last heard from.
func (t *Tracker) TouchAll(nowMs int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sessions {
		if !s.Closing {
			t.move(s, t.bucketOf(nowMs, s.TimeoutMs))
		}
	}
}

// Reset replaces every session with the given ones (id → timeout), each
// with a full timeout from now: the state a learner received by SNAP or
// reloaded from disk.
func (t *Tracker) Reset(sessions map[int64]int32, nowMs int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id := range t.sessions {
		if _, ok := sessions[id]; !ok {
			t.removeLocked(id)
		}
	}
	for id, to := range sessions {
		s := t.sessions[id]
		if s == nil {
			s = &Session{ID: id}
			t.sessions[id] = s
		}
		s.TimeoutMs, s.Closing = to, false
		t.move(s, t.bucketOf(nowMs, to))
	}
}

// Touch pushes a live session's expiry forward. It reports false for an
// unknown or closing session.
func (t *Tracker) Touch(id int64, nowMs int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil || s.Closing {
		return false
	}
	t.move(s, t.bucketOf(nowMs, s.TimeoutMs))
	return true
}

// Get returns a copy of the session and whether it exists.
func (t *Tracker) Get(id int64) (Session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil {
		return Session{}, false
	}
	return *s, true
}

// Valid reports whether the session exists and is not closing.
func (t *Tracker) Valid(id int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	return s != nil && !s.Closing
}

// SetClosing marks a session closing; it reports whether it was live.
func (t *Tracker) SetClosing(id int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[id]
	if s == nil || s.Closing {
		return false
	}
	s.Closing = true
	return true
}

// Remove forgets a session.
func (t *Tracker) Remove(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeLocked(id)
}

func (t *Tracker) removeLocked(id int64) {
	s := t.sessions[id]
	if s == nil {
		return
	}
	if b := t.buckets[s.ExpiresAt]; b != nil {
		delete(b, id)
		if len(b) == 0 {
			delete(t.buckets, s.ExpiresAt)
		}
	}
	delete(t.sessions, id)
}

// Expire returns the sessions whose bucket time is at or before nowMs and
// marks them closing, so each expires once.
func (t *Tracker) Expire(nowMs int64) []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int64
	for at, b := range t.buckets {
		if at > nowMs {
			continue
		}
		for id, s := range b {
			if !s.Closing {
				s.Closing = true
				out = append(out, id)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Snapshot returns id → timeout for every session, closing ones included
// (their closeSession txn may not be logged yet), for snapshots.
func (t *Tracker) Snapshot() map[int64]int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := make(map[int64]int32, len(t.sessions))
	for id, s := range t.sessions {
		m[id] = s.TimeoutMs
	}
	return m
}

// Len is the number of tracked sessions.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions)
}

// Buckets returns expiry time → session ids, for the `dump` command.
func (t *Tracker) Buckets() map[int64][]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := make(map[int64][]int64, len(t.buckets))
	for at, b := range t.buckets {
		for id := range b {
			m[at] = append(m[at], id)
		}
	}
	return m
}
