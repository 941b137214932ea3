// Package boltstore is a zabkit store (core/ext.Store) on bbolt, written
// the way a third party writes one: the txn log and the node's metadata
// live in one bbolt file, snapshots in files beside it. The plugin in the
// parent directory serves it to a zabkit server; docs/plugins.md in
// zabkit walks through it.
//
// Layout under Dir:
//
//	zabkit.db          bbolt: bucket "log" (zxid, 8 bytes big-endian → txn),
//	                   bucket "meta" ("node" → ext.Meta, "id", "format")
//	snapshots/         snapshot.<zxid in hex>, written as tmp-* and renamed
//
// Every bbolt commit is one fsync (with Sync), so one Append is one group
// commit.
package boltstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/zabkit/zabkit/core/ext"
)

// Format names this store's on-disk layout; Open refuses any other.
const Format = "bbolt-zabkit-1"

var (
	bucketLog  = []byte("log")
	bucketMeta = []byte("meta")
	keyNode    = []byte("node")
	keyID      = []byte("id")
	keyFormat  = []byte("format")
)

// Options configure a store.
type Options struct {
	// Dir holds the database file and the snapshots.
	Dir string
	// Sync makes every commit durable (fsync); without it the store says
	// it is not durable.
	Sync bool
	// LockTimeout bounds the wait for another process's lock on the
	// database. Default 10s.
	LockTimeout time.Duration
}

// Store is an ext.Store on bbolt.
type Store struct {
	db      *bolt.DB
	snapDir string
	id      string
	durable bool

	// wmu serialises write transactions with the bounds they publish, so
	// the published bounds are always those of the newest commit.
	wmu    sync.Mutex
	bounds atomic.Pointer[[2]int64] // first, last
	// snapMu serialises changes to the snapshot directory.
	snapMu sync.Mutex
	closed atomic.Bool
}

// ReadBatch is how many entries ReadLog copies out of one read
// transaction: bbolt cannot grow its file while a read transaction is
// open, so a slow reader must not hold one.
const ReadBatch = 512

// Open opens or creates the store in opts.Dir.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("boltstore: no directory")
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 10 * time.Second
	}
	snapDir := filepath.Join(opts.Dir, "snapshots")
	if err := os.MkdirAll(snapDir, 0o755); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(opts.Dir, "zabkit.db"), 0o600, &bolt.Options{
		Timeout:        opts.LockTimeout,
		NoSync:         !opts.Sync,
		NoFreelistSync: true, // rebuilt on open; saves a write per commit
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", opts.Dir, err)
	}
	s := &Store{db: db, snapDir: snapDir, durable: opts.Sync}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.removeTemps(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// init creates the buckets and the database id on first use, checks the
// format, and loads the log's bounds.
func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		lb, err := tx.CreateBucketIfNotExists(bucketLog)
		if err != nil {
			return err
		}
		mb, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch f := mb.Get(keyFormat); {
		case f == nil:
			if err := mb.Put(keyFormat, []byte(Format)); err != nil {
				return err
			}
		case string(f) != Format:
			return fmt.Errorf("boltstore: database format %q, this build reads %q", f, Format)
		}
		if id := mb.Get(keyID); id != nil {
			s.id = string(id)
		} else {
			b := make([]byte, 16)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			s.id = hex.EncodeToString(b)
			if err := mb.Put(keyID, []byte(s.id)); err != nil {
				return err
			}
		}
		s.publish(lb)
		return nil
	})
}

// publish records the log's bounds as the bucket shows them.
func (s *Store) publish(lb *bolt.Bucket) {
	c := lb.Cursor()
	var b [2]int64
	if k, _ := c.First(); k != nil {
		b[0] = zxidOf(k)
		k, _ = c.Last()
		b[1] = zxidOf(k)
	}
	s.bounds.Store(&b)
}

func key(z int64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(z))
	return k[:]
}

func zxidOf(k []byte) int64 { return int64(binary.BigEndian.Uint64(k)) }

// DBID names the database: random, written when it was created.
func (s *Store) DBID() string { return s.id }

// Capabilities: durable when syncing.
func (s *Store) Capabilities() ext.StoreCapabilities {
	return ext.StoreCapabilities{Durable: s.durable, Format: Format}
}

// update runs a write transaction and publishes the bounds it leaves.
func (s *Store) update(fn func(lb *bolt.Bucket) error) error {
	if s.closed.Load() {
		return ext.ErrClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var lb *bolt.Bucket
	err := s.db.Update(func(tx *bolt.Tx) error {
		lb = tx.Bucket(bucketLog)
		lb.FillPercent = 1 // keys only ever grow: pack pages full
		return fn(lb)
	})
	if err == nil {
		_ = s.db.View(func(tx *bolt.Tx) error { s.publish(tx.Bucket(bucketLog)); return nil })
	}
	return err
}

// Append writes the batch in one transaction: one fsync.
func (s *Store) Append(ctx context.Context, entries []ext.Entry) error {
	if len(entries) == 0 {
		if s.closed.Load() {
			return ext.ErrClosed
		}
		return nil
	}
	return s.update(func(lb *bolt.Bucket) error {
		if err := ext.CheckAppend(s.LastZxid(), entries, s.snapshotAt); err != nil {
			return err
		}
		for _, e := range entries {
			if err := lb.Put(key(e.Zxid), e.Data); err != nil {
				return err
			}
		}
		return nil
	})
}

// LastZxid is the newest entry's zxid, 0 when the log is empty.
func (s *Store) LastZxid() int64 { return s.bounds.Load()[1] }

// FirstZxid is the oldest entry's zxid, 0 when the log is empty.
func (s *Store) FirstZxid() int64 { return s.bounds.Load()[0] }

// ReadLog reads ReadBatch entries per read transaction and calls fn
// outside it.
func (s *Store) ReadLog(ctx context.Context, after int64, fn func(ext.Entry) error) error {
	next := max(after+1, 0)
	if after == 1<<63-1 {
		return nil
	}
	batch := make([]ext.Entry, 0, ReadBatch)
	for {
		if s.closed.Load() {
			return ext.ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		batch = batch[:0]
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketLog).Cursor()
			for k, v := c.Seek(key(next)); k != nil && len(batch) < ReadBatch; k, v = c.Next() {
				batch = append(batch, ext.Entry{Zxid: zxidOf(k), Data: bytes.Clone(v)})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < ReadBatch {
			return nil
		}
		next = batch[len(batch)-1].Zxid + 1
	}
}

// TruncateAfter drops the snapshots above zxid, then the log above it.
// In that order a crash in between leaves a longer log and never a
// snapshot of history the log no longer has.
func (s *Store) TruncateAfter(zxid int64) error {
	if s.closed.Load() {
		return ext.ErrClosed
	}
	if err := s.removeSnapshots(func(z int64) bool { return z > zxid }); err != nil {
		return err
	}
	return s.update(func(lb *bolt.Bucket) error {
		c := lb.Cursor()
		for k, _ := c.Seek(key(max(zxid+1, 0))); k != nil; k, _ = c.Seek(key(max(zxid+1, 0))) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// RollLog: one file, nothing to roll.
func (s *Store) RollLog() error {
	if s.closed.Load() {
		return ext.ErrClosed
	}
	return nil
}

// PurgeBefore removes snapshots below zxid and the log entries below it:
// the snapshot at zxid, if any, needs only what follows it.
func (s *Store) PurgeBefore(zxid int64) error {
	if s.closed.Load() {
		return ext.ErrClosed
	}
	if err := s.removeSnapshots(func(z int64) bool { return z < zxid }); err != nil {
		return err
	}
	return s.update(func(lb *bolt.Bucket) error {
		c := lb.Cursor()
		for k, _ := c.First(); k != nil && zxidOf(k) < zxid; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadMeta reads the node's metadata.
func (s *Store) LoadMeta() (ext.Meta, error) {
	if s.closed.Load() {
		return ext.Meta{}, ext.ErrClosed
	}
	m := ext.Meta{CurrentEpoch: -1, AcceptedEpoch: -1}
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyNode)
		if v == nil {
			return nil
		}
		if len(v) < 24 {
			return fmt.Errorf("%w: metadata record of %d bytes", ext.ErrCorrupt, len(v))
		}
		m.CurrentEpoch = int64(binary.BigEndian.Uint64(v))
		m.AcceptedEpoch = int64(binary.BigEndian.Uint64(v[8:]))
		m.DBID = int64(binary.BigEndian.Uint64(v[16:]))
		if len(v) > 24 {
			m.LastVote = bytes.Clone(v[24:])
		}
		return nil
	})
	return m, err
}

// SaveMeta writes the metadata in one transaction: atomic and durable.
func (s *Store) SaveMeta(m ext.Meta) error {
	if s.closed.Load() {
		return ext.ErrClosed
	}
	v := make([]byte, 24, 24+len(m.LastVote))
	binary.BigEndian.PutUint64(v, uint64(m.CurrentEpoch))
	binary.BigEndian.PutUint64(v[8:], uint64(m.AcceptedEpoch))
	binary.BigEndian.PutUint64(v[16:], uint64(m.DBID))
	v = append(v, m.LastVote...)
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyNode, v) })
}

// Usage: snapshot files, and the database file for the log.
func (s *Store) Usage() (snapBytes, logBytes int64) {
	if snaps, err := s.Snapshots(); err == nil {
		for _, sn := range snaps {
			snapBytes += sn.Size
		}
	}
	if fi, err := os.Stat(s.db.Path()); err == nil {
		logBytes = fi.Size()
	}
	return snapBytes, logBytes
}

// Close closes the database; bbolt waits for open transactions.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.db.Close()
}
