// Package mem is an in-memory ext.Store for tests and the simulator. It is
// not durable (Capabilities().Durable is false): a real node refuses it
// unless non-durable storage was explicitly allowed.
//
// The data lives in a Disk, which outlives the Store: closing a Store and
// opening a new one on the same Disk behaves like a process restart with an
// intact disk, which is what restart tests and the simulator need.
package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/zabkit/zabkit/core/ext"
)

// Disk is the state that survives Close.
type Disk struct {
	mu        sync.Mutex
	entries   []ext.Entry // ascending zxid; Data owned by the disk
	snapshots map[int64][]byte
	meta      ext.Meta
	hasMeta   bool
}

// NewDisk returns an empty disk.
func NewDisk() *Disk { return &Disk{snapshots: map[int64][]byte{}} }

// Store is an in-memory store over a Disk.
type Store struct {
	d      *Disk
	closed bool // guarded by d.mu
}

var _ ext.Store = (*Store)(nil)

// New returns a store on a fresh disk.
func New() *Store { return Open(NewDisk()) }

// Open returns a store on d. Only one open Store should use a Disk at a
// time, as with a real data directory.
func Open(d *Disk) *Store { return &Store{d: d} }

// Capabilities implements ext.Store.
func (s *Store) Capabilities() ext.StoreCapabilities {
	return ext.StoreCapabilities{Durable: false, Format: "mem"}
}

func (s *Store) lock() error {
	s.d.mu.Lock()
	if s.closed {
		s.d.mu.Unlock()
		return ext.ErrClosed
	}
	return nil
}

// Append implements ext.Store. The data is copied.
func (s *Store) Append(ctx context.Context, entries []ext.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.lock(); err != nil {
		return err
	}
	defer s.d.mu.Unlock()
	err := ext.CheckAppend(s.lastLocked(), entries, func(z int64) (bool, error) {
		_, ok := s.d.snapshots[z]
		return ok, nil
	})
	if err != nil {
		return err
	}
	size := 0
	for _, e := range entries {
		size += len(e.Data)
	}
	// One allocation for the whole batch's bytes.
	buf := make([]byte, 0, size)
	for _, e := range entries {
		start := len(buf)
		buf = append(buf, e.Data...)
		s.d.entries = append(s.d.entries, ext.Entry{Zxid: e.Zxid, Data: buf[start:len(buf):len(buf)]})
	}
	return nil
}

func (s *Store) lastLocked() int64 {
	if n := len(s.d.entries); n > 0 {
		return s.d.entries[n-1].Zxid
	}
	return 0
}

// LastZxid implements ext.Store.
func (s *Store) LastZxid() int64 {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.lastLocked()
}

// FirstZxid implements ext.Store.
func (s *Store) FirstZxid() int64 {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if len(s.d.entries) == 0 {
		return 0
	}
	return s.d.entries[0].Zxid
}

// ReadLog implements ext.Store over the entries present when it starts.
// It holds no lock while calling fn.
func (s *Store) ReadLog(ctx context.Context, after int64, fn func(ext.Entry) error) error {
	if err := s.lock(); err != nil {
		return err
	}
	// Appends never modify existing elements and TruncateAfter copies, so
	// this slice header stays valid without the lock.
	ents := s.d.entries
	s.d.mu.Unlock()
	i, _ := slices.BinarySearchFunc(ents, after+1, func(e ext.Entry, z int64) int {
		switch {
		case e.Zxid < z:
			return -1
		case e.Zxid > z:
			return 1
		}
		return 0
	})
	if after == 1<<63-1 {
		return nil
	}
	for n, e := range ents[i:] {
		if n&255 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// TruncateAfter implements ext.Store; snapshots above zxid go too.
func (s *Store) TruncateAfter(zxid int64) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.d.mu.Unlock()
	n := len(s.d.entries)
	for n > 0 && s.d.entries[n-1].Zxid > zxid {
		n--
	}
	if n == len(s.d.entries) {
		return nil
	}
	// Copy so readers holding the old slice never see later appends
	// overwrite it.
	s.d.entries = slices.Clone(s.d.entries[:n])
	for z := range s.d.snapshots {
		if z > zxid {
			delete(s.d.snapshots, z)
		}
	}
	return nil
}

// RollLog implements ext.Store; there are no files to roll.
func (s *Store) RollLog() error {
	if err := s.lock(); err != nil {
		return err
	}
	s.d.mu.Unlock()
	return nil
}

// PurgeBefore implements ext.Store: snapshots below zxid go, and log
// entries up to (not including) the newest one <= zxid, which a snapshot
// at zxid would replay after.
func (s *Store) PurgeBefore(zxid int64) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.d.mu.Unlock()
	for z := range s.d.snapshots {
		if z < zxid {
			delete(s.d.snapshots, z)
		}
	}
	keep := 0
	for i, e := range s.d.entries {
		if e.Zxid <= zxid {
			keep = i
		}
	}
	if keep > 0 {
		s.d.entries = slices.Clone(s.d.entries[keep:])
	}
	return nil
}

type snapWriter struct {
	s    *Store
	zxid int64
	buf  bytes.Buffer
	done bool
}

func (w *snapWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("store.mem: snapshot already committed or aborted")
	}
	return w.buf.Write(p)
}

func (w *snapWriter) Commit() error {
	if w.done {
		return fmt.Errorf("store.mem: snapshot already committed or aborted")
	}
	w.done = true
	if err := w.s.lock(); err != nil {
		return err
	}
	defer w.s.d.mu.Unlock()
	w.s.d.snapshots[w.zxid] = w.buf.Bytes()
	return nil
}

func (w *snapWriter) Abort() error {
	w.done = true
	return nil
}

// CreateSnapshot implements ext.Store.
func (s *Store) CreateSnapshot(zxid int64) (ext.SnapshotWriter, error) {
	if zxid < 0 {
		return nil, fmt.Errorf("store.mem: snapshot zxid %d is negative", zxid)
	}
	if err := s.lock(); err != nil {
		return nil, err
	}
	s.d.mu.Unlock()
	return &snapWriter{s: s, zxid: zxid}, nil
}

// Snapshots implements ext.Store.
func (s *Store) Snapshots() ([]ext.SnapshotInfo, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.d.mu.Unlock()
	out := make([]ext.SnapshotInfo, 0, len(s.d.snapshots))
	for z, b := range s.d.snapshots {
		out = append(out, ext.SnapshotInfo{Zxid: z, Size: int64(len(b)), Name: fmt.Sprintf("snapshot.%x", z)})
	}
	slices.SortFunc(out, func(a, b ext.SnapshotInfo) int {
		switch {
		case a.Zxid > b.Zxid:
			return -1
		case a.Zxid < b.Zxid:
			return 1
		}
		return 0
	})
	return out, nil
}

// OpenSnapshot implements ext.Store.
func (s *Store) OpenSnapshot(zxid int64) (io.ReadCloser, error) {
	if err := s.lock(); err != nil {
		return nil, err
	}
	defer s.d.mu.Unlock()
	b, ok := s.d.snapshots[zxid]
	if !ok {
		return nil, fmt.Errorf("%w: %#x", ext.ErrNoSnapshot, zxid)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// LoadMeta implements ext.Store.
func (s *Store) LoadMeta() (ext.Meta, error) {
	if err := s.lock(); err != nil {
		return ext.Meta{}, err
	}
	defer s.d.mu.Unlock()
	if !s.d.hasMeta {
		return ext.Meta{CurrentEpoch: -1, AcceptedEpoch: -1}, nil
	}
	m := s.d.meta
	m.LastVote = slices.Clone(m.LastVote)
	return m, nil
}

// SaveMeta implements ext.Store.
func (s *Store) SaveMeta(m ext.Meta) error {
	if err := s.lock(); err != nil {
		return err
	}
	defer s.d.mu.Unlock()
	m.LastVote = slices.Clone(m.LastVote)
	s.d.meta, s.d.hasMeta = m, true
	return nil
}

// Usage implements ext.Store.
func (s *Store) Usage() (snapBytes, logBytes int64) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	for _, b := range s.d.snapshots {
		snapBytes += int64(len(b))
	}
	for _, e := range s.d.entries {
		logBytes += int64(len(e.Data))
	}
	return snapBytes, logBytes
}

// Close implements ext.Store. The Disk keeps the data.
func (s *Store) Close() error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.closed = true
	return nil
}
