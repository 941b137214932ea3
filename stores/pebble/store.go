package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/wal"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/stores/internal/snapdir"
)

// FormatName names this store's layout (see the package doc). It is stored
// in the database and reported as Capabilities().Format.
const FormatName = "pebble-v2"

// Errors specific to this store; compare with errors.Is.
var (
	// ErrUncertain means an earlier log write failed, so what is on disk
	// is unknown; the store refuses log writes until it is reopened.
	ErrUncertain = errors.New("store.pebble: earlier write failed; durability unknown, reopen the store")
	// ErrFormat means the database was not written by this store or by a
	// version of it with another layout.
	ErrFormat = errors.New("store.pebble: unknown database format")
)

// Defaults for Options fields left zero.
const (
	DefaultCacheSize    = 32 << 20
	DefaultMemTableSize = 16 << 20
)

// pebbleFormat pins Pebble's own on-disk format version, so upgrading the
// library never silently ratchets a database past what an older zabkit can
// open. It includes WAL sync chunks, which let WAL replay tell a torn tail
// from corruption.
const pebbleFormat = pebble.FormatValueSeparation

// Options configures a Store.
type Options struct {
	// Dir holds the database (Dir/db) and the snapshots (Dir/snapshots).
	// Required.
	Dir string
	// WALDir is where Pebble keeps its write-ahead log, i.e. the txn log
	// bytes that are synced on every Append. Default: inside Dir/db. A
	// dedicated device keeps snapshot writes and compactions from
	// delaying syncs. Moving the WAL from Dir/db to a WALDir is picked up
	// at Open; moving it back or between two WALDirs needs the old WAL
	// files moved by hand while the server is stopped.
	WALDir string
	// CacheSize is Pebble's block cache in bytes (default 32 MiB). Only
	// log replay and catch-up reads use it, so a small cache suffices.
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes (default 16 MiB).
	// Larger means fewer flushes and compactions but more WAL to replay at
	// Open and up to twice this much memory in use.
	MemTableSize uint64
	// WALMinSyncInterval delays a WAL sync until this long after the
	// previous one, so more commits share it (default 0: sync at once).
	// It adds up to this much latency to every write; zabkit's pipeline
	// already batches, so it rarely pays off.
	WALMinSyncInterval time.Duration
	// L0CompactionThreshold is the L0 read amplification (sublevels) that
	// triggers a compaction; 0 means Pebble's default (4).
	L0CompactionThreshold int
	// L0StopWritesThreshold is the L0 read amplification at which Pebble
	// stalls writes until compactions catch up; 0 means Pebble's default
	// (12). A stall blocks Append, so every client write waits.
	L0StopWritesThreshold int
	// ForceSync syncs the WAL on every Append and fsyncs snapshots;
	// without it the store is not durable (ZooKeeper's forceSync).
	ForceSync bool
	// Logger receives Pebble's errors (its informational messages at
	// debug level). Default slog.Default().
	Logger *slog.Logger
	// FS is the file system Pebble uses (snapshots always use the OS).
	// Default vfs.Default; tests inject faults through it.
	FS vfs.FS
}

// Key layout; see the package doc.
const (
	logPrefix  = "log/"
	metaPrefix = "meta/"
	logKeyLen  = len(logPrefix) + 8
)

var (
	logEnd           = []byte("log0") // the key after every "log/..." key
	metaEnd          = []byte("meta0")
	keyFormat        = []byte(metaPrefix + "format")
	keyCurrentEpoch  = []byte(metaPrefix + "currentEpoch")
	keyAcceptedEpoch = []byte(metaPrefix + "acceptedEpoch")
	keyDBID          = []byte(metaPrefix + "dbid")
	keyLastVote      = []byte(metaPrefix + "lastVote")
)

// appendLogKey appends the log key of zxid to dst.
func appendLogKey(dst []byte, zxid int64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, logPrefix...), uint64(zxid))
}

// keyZxid decodes a log key.
func keyZxid(key []byte) (int64, error) {
	if len(key) != logKeyLen || !bytes.HasPrefix(key, []byte(logPrefix)) {
		return 0, fmt.Errorf("%w: log key %q", ext.ErrCorrupt, key)
	}
	return int64(binary.BigEndian.Uint64(key[len(logPrefix):])), nil
}

// Store is the Pebble store. See the package doc for its layout and
// durability contract.
type Store struct {
	opts     Options
	db       *pebble.DB
	log      *slog.Logger
	dbDir    string
	snapDir  string
	snaps    *snapdir.Dir[*os.File]
	logWrite *pebble.WriteOptions
	stalls   stallCounter

	// mu guards closed and users: every method that touches db counts
	// itself in users, and Close waits for them, because Pebble panics
	// when used after Close.
	mu     sync.Mutex
	idle   sync.Cond
	users  int
	closed bool

	// appendMu serialises the log writers (Append, TruncateAfter); only
	// they touch batch, key and failed.
	appendMu sync.Mutex
	batch    *pebble.Batch
	key      []byte
	failed   error

	// rangeMu keeps TruncateAfter and PurgeBefore apart: a purge bounds
	// its deletion by LastZxid, which a truncation lowers.
	rangeMu sync.Mutex

	lastZxid atomic.Int64
}

var (
	_ ext.Store           = (*Store)(nil)
	_ ext.MetricsReporter = (*Store)(nil)
)

// Open opens (creating if needed) the store in opts.Dir.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("store.pebble: Dir is required")
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = DefaultMemTableSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	opts.FS = sparseWALFS{opts.FS}
	s := &Store{
		opts:     opts,
		log:      opts.Logger.With("store", "pebble"),
		dbDir:    filepath.Join(opts.Dir, "db"),
		snapDir:  filepath.Join(opts.Dir, "snapshots"),
		logWrite: pebble.NoSync,
	}
	if opts.ForceSync {
		s.logWrite = pebble.Sync
	}
	s.idle.L = &s.mu
	for _, d := range []string{s.dbDir, s.snapDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("store.pebble: %w", err)
		}
	}
	s.snaps = snapdir.New(snapdir.OS{}, s.snapDir, opts.ForceSync, "store.pebble")
	if err := s.snaps.RemoveTemps(); err != nil {
		return nil, err
	}
	db, err := pebble.Open(s.dbDir, s.pebbleOptions())
	if err != nil {
		return nil, fmt.Errorf("store.pebble: open %s: %w", s.dbDir, err)
	}
	s.db = db
	if err := s.checkFormat(); err != nil {
		db.Close()
		return nil, err
	}
	last, err := s.findLast()
	if err != nil {
		db.Close()
		return nil, err
	}
	s.lastZxid.Store(last)
	return s, nil
}

func (s *Store) pebbleOptions() *pebble.Options {
	o := s.opts
	po := &pebble.Options{
		FS:                    o.FS,
		CacheSize:             o.CacheSize,
		MemTableSize:          o.MemTableSize,
		WALDir:                o.WALDir,
		L0CompactionThreshold: o.L0CompactionThreshold,
		L0StopWritesThreshold: o.L0StopWritesThreshold,
		FormatMajorVersion:    pebbleFormat,
		Logger:                pebbleLogger{s.log},
		EventListener:         s.stalls.listener(),
	}
	if d := o.WALMinSyncInterval; d > 0 {
		po.WALMinSyncInterval = func() time.Duration { return d }
	}
	if o.WALDir != "" && filepath.Clean(o.WALDir) != s.dbDir {
		// A WAL left in the database directory by an earlier
		// configuration is replayed rather than refused.
		po.WALRecoveryDirs = []wal.Dir{{FS: o.FS, Dirname: s.dbDir}}
	}
	return po
}

// checkFormat accepts a database holding FormatName, finishing an
// upgrade from pebble-v1 if one is due (upgrade.go), and stamps an empty
// database with it.
func (s *Store) checkFormat() error {
	v, closer, err := s.db.Get(keyFormat)
	if err == nil {
		got := string(v)
		closer.Close()
		switch got {
		case FormatName:
			return s.resumeUpgrade()
		case formatV1:
			return s.upgradeV1(0)
		}
		return fmt.Errorf("%w: %s holds format %q; this build reads %q (and upgrades %q)", ErrFormat, s.opts.Dir, got, FormatName, formatV1)
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("store.pebble: read format: %w", err)
	}
	it, err := s.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("store.pebble: %w", err)
	}
	empty := !it.First()
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("store.pebble: %w", err)
	}
	if !empty {
		return fmt.Errorf("%w: %s has data but no format key; it is not a store.pebble database", ErrFormat, s.opts.Dir)
	}
	if err := s.db.Set(keyFormat, []byte(FormatName), pebble.Sync); err != nil {
		return fmt.Errorf("store.pebble: write format: %w", err)
	}
	return nil
}

// logIter iterates over the log records.
func (s *Store) logIter(ctx context.Context) (*pebble.Iterator, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte(logPrefix), UpperBound: logEnd})
	if err != nil {
		return nil, fmt.Errorf("store.pebble: %w", err)
	}
	return it, nil
}

// seekRecord positions it at the record holding zxid: the last one that
// starts at or below it (its entries may all be below zxid if the log
// skips to the next record). It is false if every record starts above
// zxid.
func seekRecord(it *pebble.Iterator, zxid int64) bool {
	return zxid >= 0 && zxid < math.MaxInt64 && it.SeekLT(appendLogKey(nil, zxid+1))
}

// currentRecord opens the record it is at. Its entries alias it: they
// are valid until it moves.
func currentRecord(it *pebble.Iterator) (record, error) {
	v, err := it.ValueAndErr()
	if err != nil {
		return record{}, fmt.Errorf("store.pebble: read log record %q: %w", it.Key(), err)
	}
	return openRecord(it.Key(), v)
}

// findLast returns the zxid of the last log entry, or 0 if there is none.
// It reads only the last record's header.
func (s *Store) findLast() (int64, error) {
	it, err := s.logIter(context.Background())
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return 0, fmt.Errorf("store.pebble: find last zxid: %w", err)
		}
		return 0, nil
	}
	r, err := currentRecord(it)
	return r.last, err
}

// enter registers a caller that uses the database; leave must follow.
func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ext.ErrClosed
	}
	s.users++
	return nil
}

func (s *Store) leave() {
	s.mu.Lock()
	s.users--
	if s.users == 0 {
		s.idle.Broadcast()
	}
	s.mu.Unlock()
}

// Capabilities implements ext.Store.
func (s *Store) Capabilities() ext.StoreCapabilities {
	return ext.StoreCapabilities{Durable: s.opts.ForceSync, Format: FormatName}
}

// LastZxid implements ext.Store.
func (s *Store) LastZxid() int64 { return s.lastZxid.Load() }

// FirstZxid implements ext.Store with one forward seek: the first
// record's key is its first zxid, and a purge's range deletion makes the
// seek cheap however many records it covered.
func (s *Store) FirstZxid() int64 {
	if s.enter() != nil {
		return 0
	}
	defer s.leave()
	it, err := s.logIter(context.Background())
	if err != nil {
		return 0
	}
	defer it.Close()
	if !it.First() {
		return 0
	}
	z, _ := keyZxid(it.Key())
	return z
}

// writable returns why the log may not be written, if it may not. Callers
// hold appendMu.
func (s *Store) writable() error {
	if s.failed != nil {
		return fmt.Errorf("%w (%v)", ErrUncertain, s.failed)
	}
	return nil
}

// fail records a write failure: from now on the store refuses log writes.
func (s *Store) fail(op string, err error) error {
	s.failed = fmt.Errorf("%s: %w", op, err)
	s.batch = nil // Pebble may still reference a batch whose commit failed
	s.log.Error("store write failed; refusing writes until reopened", "op", op, "err", err)
	return fmt.Errorf("%w: %s: %w", ErrUncertain, op, err)
}

// commit commits b. Pebble reports a failed WAL write or sync through
// Logger.Fatalf, which pebbleLogger turns into a panic; it is recovered
// here, where Pebble holds no locks, and returned as an error.
func commit(b *pebble.Batch, opts *pebble.WriteOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = f
		}
	}()
	return b.Commit(opts)
}

// putRecords adds the records holding entries to b: one, unless they
// exceed maxRecordBytes. key is scratch space for the keys, returned for
// reuse. Each value is encoded straight into the batch.
func putRecords(b *pebble.Batch, key []byte, entries []ext.Entry) ([]byte, error) {
	for len(entries) > 0 {
		n, size := nextRecord(entries)
		key = appendLogKey(key[:0], entries[0].Zxid)
		op := b.SetDeferred(len(key), size)
		copy(op.Key, key)
		if v := appendRecord(op.Value[:0], entries[:n]); len(v) != size || &v[0] != &op.Value[0] {
			return key, fmt.Errorf("store.pebble: record %#x encoded to %d bytes, sized %d", entries[0].Zxid, len(v), size)
		}
		if err := op.Finish(); err != nil {
			return key, fmt.Errorf("store.pebble: %w", err)
		}
		entries = entries[n:]
	}
	return key, nil
}

// Append implements ext.Store: one record (see record.go) in one Pebble
// batch, one commit, one WAL sync.
func (s *Store) Append(ctx context.Context, entries []ext.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ext.CheckAppend(s.lastZxid.Load(), entries, s.snaps.Has); err != nil {
		return err
	}
	if s.batch == nil {
		s.batch = s.db.NewBatch()
	}
	b := s.batch
	var err error
	if s.key, err = putRecords(b, s.key, entries); err != nil {
		b.Reset()
		return err
	}
	if err := commit(b, s.logWrite); err != nil {
		return s.fail("commit", err)
	}
	if b.Len() > 16<<20 {
		// Keep the batch's buffer unless a huge batch inflated it.
		b.Close()
		s.batch = nil
	} else {
		b.Reset()
	}
	s.lastZxid.Store(entries[len(entries)-1].Zxid)
	return nil
}

// RollLog implements ext.Store. Pebble rolls its WAL by itself, so there
// is nothing to do.
func (s *Store) RollLog() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ext.ErrClosed
	}
	return nil
}

// ReadLog implements ext.Store. It reads a consistent view taken when it
// starts: entries appended meanwhile are not seen, and a concurrent purge
// or truncation does not cut the view short. It starts at the record
// holding after, skipping that record's entries up to after.
func (s *Store) ReadLog(ctx context.Context, after int64, fn func(ext.Entry) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := ctx.Err(); err != nil {
		return err
	}
	if after == math.MaxInt64 {
		return nil
	}
	it, err := s.logIter(ctx)
	if err != nil {
		return err
	}
	defer it.Close()
	n := 0
	for ok := seekRecord(it, after) || it.First(); ok; ok = it.Next() {
		r, err := currentRecord(it)
		if err != nil {
			return err
		}
		if r.last <= after {
			continue
		}
		for {
			e, more, err := r.next()
			if err != nil {
				return err
			}
			if !more {
				break
			}
			if e.Zxid <= after {
				continue
			}
			if n++; n&255 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("store.pebble: read log: %w", err)
	}
	return nil
}

// TruncateAfter implements ext.Store with one synced batch: a range
// deletion of the records that start above zxid and, if the record
// holding zxid reaches past it, that record rewritten without its
// entries above zxid.
func (s *Store) TruncateAfter(zxid int64) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if zxid >= s.lastZxid.Load() {
		return nil
	}
	s.rangeMu.Lock()
	defer s.rangeMu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	from := []byte(logPrefix)
	if zxid >= 0 {
		from = appendLogKey(nil, zxid+1)
		if err := s.cutRecord(b, zxid); err != nil {
			return fmt.Errorf("store.pebble: truncate: %w", err)
		}
	}
	if err := b.DeleteRange(from, logEnd, nil); err != nil {
		return fmt.Errorf("store.pebble: truncate: %w", err)
	}
	if err := commit(b, pebble.Sync); err != nil {
		return s.fail("truncate", err)
	}
	last, err := s.findLast()
	if err != nil {
		return s.fail("truncate", err)
	}
	s.lastZxid.Store(last)

	// Snapshots above the cut would restore history that is gone.
	if err := s.snaps.Remove(func(z int64) bool { return z > zxid }, true); err != nil {
		return s.fail("truncate", err)
	}
	return nil
}

// cutRecord adds to b the record holding zxid without its entries above
// zxid, if it has any.
func (s *Store) cutRecord(b *pebble.Batch, zxid int64) error {
	it, err := s.logIter(context.Background())
	if err != nil {
		return err
	}
	defer it.Close()
	if !seekRecord(it, zxid) {
		return it.Error()
	}
	r, err := currentRecord(it)
	if err != nil || r.last <= zxid {
		return err
	}
	var keep []ext.Entry
	for {
		e, more, err := r.next()
		if err != nil {
			return err
		}
		if !more || e.Zxid > zxid {
			break
		}
		keep = append(keep, e)
	}
	_, err = putRecords(b, nil, keep) // copies the entries before it moves
	return err
}

// PurgeBefore implements ext.Store with store.file's guarantees, a record
// at a time: snapshots older than zxid go, and the records before the
// one holding zxid. Every entry above zxid stays (a snapshot at zxid
// replays from there), the entry at zxid too (a follower whose last zxid
// it is can still be sent a DIFF), and so does the last record, which
// LastZxid is recovered from. The records go in one range deletion, which
// Pebble reclaims by dropping whole tables, not key by key.
func (s *Store) PurgeBefore(zxid int64) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.rangeMu.Lock()
	defer s.rangeMu.Unlock()
	if err := s.snaps.Remove(func(z int64) bool { return z < zxid }, false); err != nil {
		return err
	}
	bound := min(zxid, s.lastZxid.Load())
	if bound <= 0 {
		return nil
	}
	it, err := s.logIter(context.Background())
	if err != nil {
		return fmt.Errorf("store.pebble: purge: %w", err)
	}
	var end []byte
	if seekRecord(it, bound) {
		end = bytes.Clone(it.Key())
		if !it.Prev() {
			end = nil // nothing before it: no tombstone for nothing
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("store.pebble: purge: %w", err)
	}
	if end == nil {
		return nil
	}
	if err := s.db.DeleteRange([]byte(logPrefix), end, s.logWrite); err != nil {
		return fmt.Errorf("store.pebble: purge: %w", err)
	}
	return nil
}

// LoadMeta implements ext.Store. It reads every field from one consistent
// view, so it never mixes two SaveMeta calls.
func (s *Store) LoadMeta() (ext.Meta, error) {
	m := ext.Meta{CurrentEpoch: -1, AcceptedEpoch: -1}
	if err := s.enter(); err != nil {
		return m, err
	}
	defer s.leave()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(metaPrefix), UpperBound: metaEnd})
	if err != nil {
		return m, fmt.Errorf("store.pebble: load meta: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return m, fmt.Errorf("store.pebble: load meta %s: %w", k, err)
		}
		var dst *int64
		switch {
		case bytes.Equal(k, keyCurrentEpoch):
			dst = &m.CurrentEpoch
		case bytes.Equal(k, keyAcceptedEpoch):
			dst = &m.AcceptedEpoch
		case bytes.Equal(k, keyDBID):
			dst = &m.DBID
		case bytes.Equal(k, keyLastVote):
			m.LastVote = bytes.Clone(v)
		}
		if dst != nil {
			if len(v) != 8 {
				return m, fmt.Errorf("%w: %s is %d bytes", ext.ErrCorrupt, k, len(v))
			}
			*dst = int64(binary.BigEndian.Uint64(v))
		}
	}
	if err := it.Error(); err != nil {
		return m, fmt.Errorf("store.pebble: load meta: %w", err)
	}
	return m, nil
}

// SaveMeta implements ext.Store: every field in one synced batch.
func (s *Store) SaveMeta(m ext.Meta) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	b := s.db.NewBatch()
	defer b.Close()
	var err error
	for _, kv := range []struct {
		k []byte
		v int64
	}{{keyCurrentEpoch, m.CurrentEpoch}, {keyAcceptedEpoch, m.AcceptedEpoch}, {keyDBID, m.DBID}} {
		err = errors.Join(err, b.Set(kv.k, binary.BigEndian.AppendUint64(nil, uint64(kv.v)), nil))
	}
	if len(m.LastVote) > 0 {
		err = errors.Join(err, b.Set(keyLastVote, m.LastVote, nil))
	} else {
		err = errors.Join(err, b.Delete(keyLastVote, nil))
	}
	if err == nil {
		err = commit(b, pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("store.pebble: save meta: %w", err)
	}
	return nil
}

// Usage implements ext.Store with apparent file sizes, as ZooKeeper's
// `dirs` reports them: the snapshot files, and as the log every file of
// the database (tables, manifest) and of its WAL. (Pebble's own disk
// accounting leaves out the WAL being written.)
func (s *Store) Usage() (snapBytes, logBytes int64) {
	snapBytes = snapdir.DirBytes(snapdir.OS{}, s.snapDir)
	logBytes = snapdir.DirBytes(snapdir.OS{}, s.dbDir)
	if s.opts.WALDir != "" && filepath.Clean(s.opts.WALDir) != s.dbDir {
		logBytes += snapdir.DirBytes(snapdir.OS{}, s.opts.WALDir)
	}
	return snapBytes, logBytes
}

// Close implements ext.Store. It waits for calls in progress.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for s.users > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
	if s.batch != nil {
		s.batch.Close()
		s.batch = nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store.pebble: close: %w", err)
	}
	return nil
}
