// Package ext defines zabkit's extension points: the interfaces that
// stores, transports and election algorithms implement. The kernel depends
// only on these; implementations live outside core/ and are chosen by name.
package ext

import (
	"context"
	"errors"
	"io"
)

// Entry is one txn log record. Data is the serialised txn exactly as
// ZooKeeper logs it: TxnHeader + txn record [+ TxnDigest]. The same bytes
// travel in PROPOSALs and DIFF sync, so a store never re-encodes them.
type Entry struct {
	Zxid int64
	Data []byte
}

// StoreCapabilities is what a store promises, declared up front so the node
// can refuse a store that does not meet its configuration.
type StoreCapabilities struct {
	// Durable means Append, SaveMeta and snapshot Commit survive a power
	// loss once they return. A store that cannot promise it (an in-memory
	// store, forceSync=no) says false and the node refuses it unless the
	// operator allowed non-durable storage.
	Durable bool
	// Format names the on-disk format, e.g. "zookeeper-3.8" for store.file.
	Format string
}

// Meta is the node's small durable state, written atomically.
type Meta struct {
	CurrentEpoch  int64 // epoch whose NEWLEADER this node accepted; -1 if unknown
	AcceptedEpoch int64 // highest epoch acked in LEADERINFO; -1 if unknown
	LastVote      []byte
	DBID          int64
}

// SnapshotInfo describes a stored snapshot. Zxid is the last zxid applied
// when the (fuzzy) snapshot started; replay starts after it.
type SnapshotInfo struct {
	Zxid int64
	Size int64
	Name string
}

// SnapshotWriter receives a snapshot stream. Commit makes it durable and
// visible; Abort discards it. Exactly one of them must be called.
type SnapshotWriter interface {
	io.Writer
	Commit() error
	Abort() error
}

// Errors a store returns; callers compare with errors.Is.
var (
	// ErrZxidOrder means Append was given a zxid not above the last one.
	ErrZxidOrder = errors.New("store: zxid not increasing")
	// ErrNoSnapshot means no snapshot exists (or none at that zxid).
	ErrNoSnapshot = errors.New("store: no snapshot")
	// ErrCorrupt means stored data failed a checksum or framing check
	// somewhere other than a torn tail.
	ErrCorrupt = errors.New("store: corrupt data")
	// ErrClosed means the store was used after Close.
	ErrClosed = errors.New("store: closed")
)

// Store is the durable storage of one node: txn log, snapshots, metadata.
//
// Concurrency: Append, TruncateAfter and RollLog are called from one
// goroutine at a time (the log stage). ReadLog, snapshots and metadata may
// be called concurrently with them.
type Store interface {
	Capabilities() StoreCapabilities

	// Append writes a batch of entries; it is durable when Append returns
	// nil, and one call is one group commit (one fsync). Zxids must be
	// strictly increasing and above LastZxid, else ErrZxidOrder and nothing
	// is written. After a non-nil error the durability of the batch is
	// unknown: the caller must stop acknowledging and reopen.
	Append(ctx context.Context, entries []Entry) error
	// LastZxid is the zxid of the last appended entry, or 0 if the log is
	// empty.
	LastZxid() int64
	// ReadLog calls fn for each entry with zxid > after, in zxid order,
	// until fn returns an error (which ReadLog returns) or the log ends.
	// Entry.Data is only valid during the call.
	ReadLog(ctx context.Context, after int64, fn func(Entry) error) error
	// TruncateAfter durably removes every entry with zxid > zxid.
	TruncateAfter(zxid int64) error
	// RollLog hints that a snapshot is about to be taken: a file-based store
	// starts a new log file at the next Append. Others may ignore it.
	RollLog() error
	// PurgeBefore removes snapshots with zxid < zxid and log entries that
	// no snapshot at or after zxid needs.
	PurgeBefore(zxid int64) error

	// CreateSnapshot starts a snapshot named after zxid.
	CreateSnapshot(zxid int64) (SnapshotWriter, error)
	// Snapshots lists stored snapshots, newest first.
	Snapshots() ([]SnapshotInfo, error)
	// OpenSnapshot opens the snapshot taken at zxid.
	OpenSnapshot(zxid int64) (io.ReadCloser, error)

	// LoadMeta returns the metadata; a store that has none returns Meta
	// with CurrentEpoch and AcceptedEpoch -1.
	LoadMeta() (Meta, error)
	// SaveMeta writes the metadata atomically and durably.
	SaveMeta(Meta) error

	// Usage reports bytes used by snapshots and by logs (for `dirs`).
	Usage() (snapBytes, logBytes int64)

	Close() error
}
