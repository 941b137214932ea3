// Package ext defines zabkit's extension points: the interfaces that
// stores, transports and election algorithms implement. The kernel depends
// only on these; implementations live outside core/ and are chosen by name.
package ext

import (
	"context"
	"errors"
	"fmt"
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
	// Durable means Append, TruncateAfter, SaveMeta and snapshot Commit
	// survive a power loss once they return. A store that
	// cannot promise it (an in-memory store, forceSync=no) says false: the
	// server warns at start-up, and the conformance kit's crash test does
	// not apply to it.
	Durable bool
	// Format names the on-disk format, e.g. "zookeeper-3.8" for store.file;
	// a store changes it when it changes its format.
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
	// ErrZxidGap means Append was given a zxid that skips txns (see
	// Store.Append for what counts as a gap). It wraps ErrZxidOrder: both
	// say the batch does not continue the log, and nothing was written.
	ErrZxidGap = fmt.Errorf("%w: gap in the txn sequence", ErrZxidOrder)
	// ErrNoSnapshot means no snapshot exists (or none at that zxid).
	ErrNoSnapshot = errors.New("store: no snapshot")
	// ErrCorrupt means stored data failed a checksum or framing check
	// somewhere other than a torn tail.
	ErrCorrupt = errors.New("store: corrupt data")
	// ErrClosed means the store was used after Close.
	ErrClosed = errors.New("store: closed")
)

// Store is the durable storage of one node: txn log, snapshots, metadata.
// docs/stores.md is the contract for implementers; the conformance kit
// (core/ext/storetest) checks it.
//
// Durability: when Capabilities().Durable, Append, TruncateAfter, SaveMeta
// and SnapshotWriter.Commit have their effect on stable storage when they
// return nil. (PurgeBefore need not be: a purge a crash undoes only leaves
// more history.) After a non-nil error the effect is unknown; the caller
// stops and reopens the store, which then reports what really is on disk.
//
// Concurrency: Append, TruncateAfter and RollLog are called from one
// goroutine at a time (the log stage). ReadLog, FirstZxid, LastZxid,
// PurgeBefore, snapshots (a SnapshotWriter is written from a background
// goroutine), metadata and Usage may be called concurrently with them and
// with each other. Close is called once nothing else runs.
type Store interface {
	Capabilities() StoreCapabilities

	// Append writes a batch of entries; it is durable when Append returns
	// nil, and one call is one group commit (one fsync). After a non-nil
	// error the durability of the batch is unknown: the caller must stop
	// acknowledging and reopen.
	//
	// Every entry must continue the log (the entry before the first one
	// is the last entry, or zxid 0 if the log is empty), else nothing of
	// the batch is written:
	//   - a zxid not above the previous one is ErrZxidOrder;
	//   - within one epoch (the zxid's high 32 bits) the next zxid is the
	//     previous one + 1, and a new epoch starts at counter 1, else the
	//     store returns ErrZxidGap: a hole in the log is a lost txn, which
	//     replay would silently skip (ZOOKEEPER-4882);
	//   - except that any zxid z may follow a committed snapshot at z-1:
	//     a learner synced by SNAP stores the leader's snapshot, then logs
	//     the txns after it, and the snapshot holds the history the log
	//     lacks (ZooKeeper snapshots at once for the same reason).
	// The end of the epoch before a new one is not checked: the store
	// cannot know how many txns that epoch had. CheckAppend implements
	// these rules.
	Append(ctx context.Context, entries []Entry) error
	// LastZxid is the zxid of the last appended entry, or 0 if the log is
	// empty.
	LastZxid() int64
	// FirstZxid is the zxid of the oldest entry the log holds, or 0 if the
	// log is empty. PurgeBefore raises it; TruncateAfter may empty the log.
	//
	// ReadLog delivers only what the log holds: entries PurgeBefore removed
	// are silently absent. A caller that must know it gets every entry
	// after `after` (a leader sending DIFF sync from its log) checks that
	// the log is empty or FirstZxid()-1 <= after, both before and after
	// ReadLog: purging only ever removes a prefix, so if the condition
	// holds after the read, no entry above `after` went missing during it.
	FirstZxid() int64
	// ReadLog calls fn for each entry with zxid > after, in zxid order,
	// until fn returns an error (which ReadLog returns) or the log ends.
	// Entry.Data is only valid during the call. Entries appended while it
	// runs may or may not be delivered; entries that are delivered are
	// never skipped in between.
	ReadLog(ctx context.Context, after int64, fn func(Entry) error) error
	// TruncateAfter durably removes every entry with zxid > zxid, and the
	// snapshots above zxid: they hold history that no longer exists.
	TruncateAfter(zxid int64) error
	// RollLog hints that a snapshot is about to be taken: a file-based store
	// starts a new log file at the next Append. Others may ignore it.
	RollLog() error
	// PurgeBefore removes snapshots with zxid < zxid and log entries that
	// no snapshot at or after zxid needs. It removes only a prefix of the
	// log and never an entry above zxid (how much of the prefix goes is
	// the store's choice: a file store drops whole files).
	PurgeBefore(zxid int64) error

	// CreateSnapshot starts a snapshot named after zxid. It becomes
	// visible to Snapshots and OpenSnapshot only when Commit returns nil;
	// Abort, a failed Commit or a crash before Commit leave nothing
	// visible. Committing at a zxid that has a snapshot replaces it.
	CreateSnapshot(zxid int64) (SnapshotWriter, error)
	// Snapshots lists committed snapshots, newest first: Snapshots()[0]
	// is the latest.
	Snapshots() ([]SnapshotInfo, error)
	// OpenSnapshot opens the snapshot taken at zxid, or fails with
	// ErrNoSnapshot.
	OpenSnapshot(zxid int64) (io.ReadCloser, error)

	// LoadMeta returns the metadata; a store that has none returns Meta
	// with CurrentEpoch and AcceptedEpoch -1. The result shares no memory
	// with the store.
	LoadMeta() (Meta, error)
	// SaveMeta writes the metadata atomically, and durably if the store is
	// Durable. After a crash LoadMeta returns the old or the new Meta,
	// never a mix. It copies what it keeps.
	SaveMeta(Meta) error

	// Usage reports bytes used by snapshots and by logs (for `dirs`).
	Usage() (snapBytes, logBytes int64)

	Close() error
}

// CheckAppend applies Append's rules to entries that would follow last (the
// store's LastZxid): ErrZxidOrder, then ErrZxidGap. snapshotAt reports
// whether a committed snapshot exists at a zxid; it is called only for a
// gap, which a healthy writer never produces, so it may be slow.
func CheckAppend(last int64, entries []Entry, snapshotAt func(zxid int64) (bool, error)) error {
	prev := last
	for _, e := range entries {
		if e.Zxid <= prev {
			return fmt.Errorf("%w: %#x after %#x", ErrZxidOrder, e.Zxid, prev)
		}
		prev = e.Zxid
	}
	prev = last
	for _, e := range entries {
		sameEpoch := e.Zxid>>32 == prev>>32
		if (sameEpoch && e.Zxid != prev+1) || (!sameEpoch && e.Zxid&0xffffffff != 1) {
			ok, err := snapshotAt(e.Zxid - 1)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: %#x after %#x with no snapshot at %#x", ErrZxidGap, e.Zxid, prev, e.Zxid-1)
			}
		}
		prev = e.Zxid
	}
	return nil
}
