package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/stores/internal/snapdir"
)

// Errors specific to this store; compare with errors.Is.
var (
	// ErrUncertain means an earlier write or sync failed, so what is on
	// disk is unknown; the store refuses writes until it is reopened.
	ErrUncertain = errors.New("store.file: earlier write failed; durability unknown, reopen the store")
	// ErrBadEntry means an entry's data does not start with a TxnHeader
	// carrying the entry's zxid, or is larger than the reader accepts
	// (256 MiB). Nothing was written.
	ErrBadEntry = errors.New("store.file: entry data does not match its zxid")
)

// Options configures a Store.
type Options struct {
	// DataDir holds snapshots and metadata (ZooKeeper's dataDir). Required.
	DataDir string
	// DataLogDir holds txn logs (ZooKeeper's dataLogDir). Default DataDir.
	// A separate device for the log keeps snapshot writes from delaying
	// fsyncs.
	DataLogDir string
	// ForceSync fdatasyncs every Append and fsyncs snapshots; without it
	// the store is not durable across power loss (ZooKeeper's forceSync).
	ForceSync bool
	// PreAllocSizeKB is the log pre-allocation step in KiB (ZooKeeper's
	// zookeeper.preAllocSize). 0 means the default 65536; negative turns
	// pre-allocation off, which makes every fdatasync also update the file
	// size and so costs a journal commit.
	PreAllocSizeKB int64
	// RecoverCorrupt lets Open cut the log at a corrupt record in the
	// middle instead of failing. Entries after the cut are lost locally
	// (a replica re-fetches them from the leader).
	RecoverCorrupt bool
	// Logger receives warnings about recovery. Default slog.Default().
	Logger *slog.Logger
	// FS is the file system. Default OSFS.
	FS FS
}

type logFile struct {
	first int64 // zxid in the name
	path  string
}

// Store is a ZooKeeper-3.8-format store. See the package doc for its
// durability contract.
type Store struct {
	opts    Options
	fs      FS
	log     *slog.Logger
	snapDir string // DataDir/version-2
	snaps   *snapdir.Dir[File]
	logDir  string // DataLogDir/version-2
	step    int64  // pre-allocation step in bytes

	// appendMu serialises the log writers: Append, TruncateAfter, RollLog
	// and Close. Only they touch active, buf and failed.
	appendMu sync.Mutex
	active   File
	failed   error
	buf      []byte

	// truncMu lets ReadLog run concurrently with Append (which only adds
	// bytes past the end a reader captured) while TruncateAfter and
	// PurgeBefore, which change or remove bytes, wait for readers.
	truncMu sync.RWMutex

	// mu guards the fields ReadLog snapshots.
	mu         sync.Mutex
	logs       []logFile // ascending by first
	activeEnd  int64     // end of the last durable record in the active file
	activeSize int64     // pre-allocated size of the active file
	closed     bool

	lastZxid atomic.Int64

	metaMu     sync.Mutex
	readerPool sync.Pool
}

var _ ext.Store = (*Store)(nil)

// Open opens (creating if needed) the store and recovers its log: see the
// package doc.
func Open(opts Options) (*Store, error) {
	if opts.DataDir == "" {
		return nil, errors.New("store.file: DataDir is required")
	}
	if opts.DataLogDir == "" {
		opts.DataLogDir = opts.DataDir
	}
	if opts.PreAllocSizeKB == 0 {
		opts.PreAllocSizeKB = 65536
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	s := &Store{
		opts:    opts,
		fs:      opts.FS,
		log:     opts.Logger.With("store", "file"),
		snapDir: filepath.Join(opts.DataDir, "version-2"),
		logDir:  filepath.Join(opts.DataLogDir, "version-2"),
	}
	if opts.PreAllocSizeKB > 0 {
		s.step = opts.PreAllocSizeKB * 1024
	}
	for _, d := range []string{s.snapDir, s.logDir} {
		if err := s.fs.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("store.file: %w", err)
		}
	}
	s.snaps = snapdir.New[File](s.fs, s.snapDir, opts.ForceSync, "store.file")
	if err := s.snaps.RemoveTemps(); err != nil {
		return nil, err
	}
	if err := s.recoverLog(); err != nil {
		return nil, err
	}
	return s, nil
}

// Capabilities implements ext.Store.
func (s *Store) Capabilities() ext.StoreCapabilities {
	return ext.StoreCapabilities{Durable: s.opts.ForceSync, Format: "zookeeper-3.8"}
}

// LastZxid implements ext.Store.
func (s *Store) LastZxid() int64 { return s.lastZxid.Load() }

// FirstZxid implements ext.Store: the first zxid of the oldest log file,
// which is what its name says.
func (s *Store) FirstZxid() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.logs) == 0 {
		return 0
	}
	return s.logs[0].first
}

// listLogs returns the log files sorted by first zxid.
func (s *Store) listLogs() ([]logFile, error) {
	ents, err := s.fs.ReadDir(s.logDir)
	if err != nil {
		return nil, fmt.Errorf("store.file: list logs: %w", err)
	}
	var out []logFile
	for _, e := range ents {
		if z, ok := parseName(e.Name(), logPrefix); ok && e.Type().IsRegular() {
			out = append(out, logFile{first: z, path: filepath.Join(s.logDir, e.Name())})
		}
	}
	slices.SortFunc(out, func(a, b logFile) int { return cmpInt64(a.first, b.first) })
	return out, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// startIndex is the newest log whose first zxid is <= zxid (the log that
// holds the entry after a snapshot at zxid), or 0 if every log starts later.
func startIndex(logs []logFile, zxid int64) int {
	i := 0
	for j, l := range logs {
		if l.first <= zxid {
			i = j
		}
	}
	return i
}

// fileCheck is what checkFile learned about one log file.
type fileCheck struct {
	headerOK bool
	count    int
	lastZxid int64
	validEnd int64 // end of the last valid record (or of the header)
	size     int64
	torn     bool // stopped at a bad record with nothing valid after it
	corrupt  *CorruptError
}

// checkFile reads a whole log file, classifying how it ends. prev is the
// zxid its entries must exceed.
func (s *Store) checkFile(path string, prev int64) (fileCheck, error) {
	var fc fileCheck
	f, err := s.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return fc, fmt.Errorf("store.file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fc, fmt.Errorf("store.file: %w", err)
	}
	fc.size = st.Size()
	var hdr [fileHeaderSize]byte
	if fc.size >= fileHeaderSize {
		if _, err := f.ReadAt(hdr[:], 0); err != nil {
			return fc, fmt.Errorf("store.file: read %s: %w", path, err)
		}
	}
	fc.headerOK = fc.size >= fileHeaderSize && validFileHeader(hdr[:])
	if !fc.headerOK {
		off, found, err := findValidEntry(f, 0, fc.size, prev)
		if err != nil {
			return fc, fmt.Errorf("store.file: read %s: %w", path, err)
		}
		if found {
			fc.corrupt = &CorruptError{File: path, Offset: 0, Reason: fmt.Sprintf("bad file header, yet a valid record follows at offset %d", off)}
		}
		return fc, nil
	}
	fc.validEnd = fileHeaderSize
	fc.lastZxid = prev
	r := newEntryReader(f, fileHeaderSize, fc.size, nil)
	for {
		zxid, _, st, reason, err := r.next()
		if err != nil {
			return fc, fmt.Errorf("store.file: read %s: %w", path, err)
		}
		if st == stopNone && zxid <= fc.lastZxid {
			fc.corrupt = &CorruptError{File: path, Offset: r.rec, Reason: fmt.Sprintf("zxid %#x not above %#x", zxid, fc.lastZxid)}
			return fc, nil
		}
		if st != stopNone {
			off, found, err := findValidEntry(f, r.off+1, fc.size, fc.lastZxid)
			if err != nil {
				return fc, fmt.Errorf("store.file: read %s: %w", path, err)
			}
			switch {
			case found && st == stopBad:
				fc.corrupt = &CorruptError{File: path, Offset: r.off, Reason: fmt.Sprintf("%s, yet a valid record follows at offset %d", reason, off)}
			case found:
				fc.corrupt = &CorruptError{File: path, Offset: r.off, Reason: fmt.Sprintf("log ends early, yet a valid record follows at offset %d", off)}
			case st == stopBad:
				fc.torn = true
			}
			return fc, nil
		}
		fc.count++
		fc.lastZxid = zxid
		fc.validEnd = r.off
	}
}

// recoverLog implements the recovery rules in the package doc and sets
// lastZxid.
func (s *Store) recoverLog() error {
	logs, err := s.listLogs()
	if err != nil {
		return err
	}
	snaps, err := s.Snapshots()
	if err != nil {
		return err
	}
	start := 0
	if len(snaps) > 0 {
		start = startIndex(logs, snaps[0].Zxid)
	}
	dirty := false
	last, known := int64(0), false // known: last is a real entry's zxid

	// check verifies logs[i]. It may remove it (nothing valid in it) or,
	// with RecoverCorrupt, cut it and remove every later file.
	check := func(i int) (removed bool, err error) {
		lf := logs[i]
		prev := int64(math.MinInt64)
		if known {
			prev = last
		}
		fc, err := s.checkFile(lf.path, prev)
		if err != nil {
			return false, err
		}
		if fc.corrupt != nil {
			if !s.opts.RecoverCorrupt {
				return false, fc.corrupt
			}
			s.log.Error("cutting txn log at corrupt record; later entries are dropped",
				"file", lf.path, "offset", fc.corrupt.Offset, "reason", fc.corrupt.Reason)
			for j := len(logs) - 1; j > i; j-- { // newest first, as TruncateAfter
				if err := s.fs.Remove(logs[j].path); err != nil {
					return false, fmt.Errorf("store.file: %w", err)
				}
				if err := s.fs.SyncDir(s.logDir); err != nil {
					return false, fmt.Errorf("store.file: %w", err)
				}
			}
			logs = logs[:i+1]
			dirty = true
			if fc.headerOK {
				fc.torn = true // cut below like a torn tail
			} else {
				fc.count = 0
			}
		}
		if fc.count == 0 {
			// Nothing valid in it: a file created just before a crash.
			s.log.Warn("removing txn log without valid records", "file", lf.path)
			if err := s.fs.Remove(lf.path); err != nil {
				return false, fmt.Errorf("store.file: %w", err)
			}
			logs = slices.Delete(logs, i, i+1)
			dirty = true
			return true, nil
		}
		if fc.torn {
			if i == len(logs)-1 {
				s.log.Warn("truncating torn tail of txn log", "file", lf.path, "offset", fc.validEnd, "size", fc.size)
				if err := s.truncateFile(lf.path, fc.validEnd); err != nil {
					return false, err
				}
				dirty = true
			} else {
				// ZooKeeper leaves torn tails in place and starts a new
				// file on restart; readers treat them as the file's end.
				s.log.Warn("txn log has a torn tail (left in place)", "file", lf.path, "offset", fc.validEnd)
			}
		}
		last, known = fc.lastZxid, true
		return false, nil
	}

	for i := start; i < len(logs); {
		removed, err := check(i)
		if err != nil {
			return err
		}
		if !removed {
			i++
		}
	}
	// If every checked file was empty and removed, the newest older file
	// is now the last one and holds the last entry.
	for !known && start > 0 {
		start--
		if _, err := check(start); err != nil {
			return err
		}
	}
	if dirty {
		if err := s.fs.SyncDir(s.logDir); err != nil {
			return fmt.Errorf("store.file: %w", err)
		}
	}
	s.logs = logs
	s.lastZxid.Store(max(last, 0))
	return nil
}

func (s *Store) truncateFile(path string, size int64) error {
	f, err := s.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("store.file: %w", err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store.file: truncate %s: %w", path, err)
	}
	return nil
}

// writable returns why the log may not be written, if it may not.
func (s *Store) writable() error {
	if s.closed {
		return ext.ErrClosed
	}
	if s.failed != nil {
		return fmt.Errorf("%w (%v)", ErrUncertain, s.failed)
	}
	return nil
}

// fail records a write failure: from now on the store refuses writes.
func (s *Store) fail(op string, err error) error {
	s.failed = fmt.Errorf("%s: %w", op, err)
	s.log.Error("store write failed; refusing writes until reopened", "op", op, "err", err)
	return fmt.Errorf("%w: %s: %w", ErrUncertain, op, err)
}

// Append implements ext.Store: one buffered write and one fdatasync per
// batch.
func (s *Store) Append(ctx context.Context, entries []ext.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.mu.Lock()
	err := s.writable()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ext.CheckAppend(s.lastZxid.Load(), entries, s.snaps.Has); err != nil {
		return err
	}
	for i := range entries {
		e := &entries[i]
		// The reader trusts only records between a TxnHeader and
		// maxEntryLen long; refuse to write what it would call torn.
		if len(e.Data) < jute.TxnHeaderSize || len(e.Data) > maxEntryLen {
			return fmt.Errorf("%w: zxid %#x has %d bytes", ErrBadEntry, e.Zxid, len(e.Data))
		}
		if z, _ := entryZxid(e.Data); z != e.Zxid {
			return fmt.Errorf("%w: zxid %#x, header says %#x", ErrBadEntry, e.Zxid, z)
		}
	}
	last := entries[len(entries)-1].Zxid

	fresh := s.active == nil
	buf := s.buf[:0]
	if fresh {
		buf = appendFileHeader(buf)
	}
	for i := range entries {
		buf = appendEntry(buf, entries[i].Data)
	}
	if cap(buf) <= 16<<20 {
		s.buf = buf // keep the buffer unless a huge batch inflated it
	}

	var pos, size int64
	var path string
	f := s.active
	if fresh {
		path = filepath.Join(s.logDir, hexName(logPrefix, entries[0].Zxid))
		f, err = s.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return s.fail("create "+path, err)
		}
		pos, size = fileHeaderSize, fileHeaderSize
	} else {
		s.mu.Lock()
		pos, size = s.activeEnd, s.activeSize
		s.mu.Unlock()
	}
	writeAt := pos
	if fresh {
		writeAt = 0
	}
	end := writeAt + int64(len(buf))
	// ZooKeeper's rule at the batch start, then again at its end so a
	// batch never changes the file size and fdatasync has no size to
	// record. (ZooKeeper's exact growth points cannot be reproduced
	// anyway: it measures the position behind an 8 KiB write buffer.)
	newSize := nextPrealloc(pos, size, s.step)
	if end+padSlack >= newSize {
		newSize = nextPrealloc(end, newSize, s.step)
	}
	if newSize > size && newSize > end {
		// One byte at the new end makes the file that long; the kernel
		// fills the gap with zeros without writing them.
		if _, err := f.WriteAt([]byte{0}, newSize-1); err != nil {
			return s.failAppend(f, fresh, "preallocate", err)
		}
	}
	if _, err := f.WriteAt(buf, writeAt); err != nil {
		return s.failAppend(f, fresh, "write", err)
	}
	if s.opts.ForceSync {
		if err := f.Datasync(); err != nil {
			return s.failAppend(f, fresh, "fdatasync", err)
		}
		if fresh {
			if err := s.fs.SyncDir(s.logDir); err != nil {
				return s.failAppend(f, fresh, "sync log dir", err)
			}
		}
	}
	s.mu.Lock()
	if fresh {
		s.active = f
		s.logs = append(s.logs, logFile{first: entries[0].Zxid, path: path})
	}
	s.activeEnd = end
	s.activeSize = max(newSize, end)
	s.mu.Unlock()
	s.lastZxid.Store(last)
	return nil
}

func (s *Store) failAppend(f File, fresh bool, op string, err error) error {
	if fresh {
		f.Close()
	}
	return s.fail(op, err)
}

// RollLog implements ext.Store: the next Append starts a new file.
func (s *Store) RollLog() error {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.mu.Lock()
	err := s.writable()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.closeActive()
}

// closeActive closes the active file; the next Append creates a new one.
// Callers hold appendMu.
func (s *Store) closeActive() error {
	if s.active == nil {
		return nil
	}
	f := s.active
	s.mu.Lock()
	s.active = nil
	s.activeEnd, s.activeSize = 0, 0
	s.mu.Unlock()
	if err := f.Close(); err != nil {
		return s.fail("close log", err)
	}
	return nil
}

func (s *Store) getReader() *bufio.Reader {
	if br, ok := s.readerPool.Get().(*bufio.Reader); ok {
		return br
	}
	return nil
}

// ReadLog implements ext.Store. It reads a snapshot of the log taken when
// it starts: entries appended meanwhile may or may not be seen.
func (s *Store) ReadLog(ctx context.Context, after int64, fn func(ext.Entry) error) error {
	s.truncMu.RLock()
	defer s.truncMu.RUnlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ext.ErrClosed
	}
	logs := slices.Clone(s.logs)
	activeEnd := s.activeEnd
	hasActive := s.active != nil
	s.mu.Unlock()
	if len(logs) == 0 {
		return nil
	}
	target := after
	if target < math.MaxInt64 {
		target++
	}
	prev := int64(math.MinInt64)
	var br *bufio.Reader
	defer func() {
		if br != nil {
			s.readerPool.Put(br)
		}
	}()
	for i := startIndex(logs, target); i < len(logs); i++ {
		limit := int64(-1)
		if hasActive && i == len(logs)-1 {
			limit = activeEnd
		}
		var err error
		br, prev, err = s.readFile(ctx, logs[i].path, limit, after, prev, br, fn)
		if err != nil {
			return err
		}
	}
	return nil
}

// readFile delivers the entries of one file with zxid > after. limit < 0
// means the whole file.
func (s *Store) readFile(ctx context.Context, path string, limit, after, prev int64, br *bufio.Reader, fn func(ext.Entry) error) (*bufio.Reader, int64, error) {
	f, err := s.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return br, prev, fmt.Errorf("store.file: %w", err)
	}
	defer f.Close()
	size := limit
	if size < 0 {
		st, err := f.Stat()
		if err != nil {
			return br, prev, fmt.Errorf("store.file: %w", err)
		}
		size = st.Size()
	}
	var hdr [fileHeaderSize]byte
	if size < fileHeaderSize {
		return br, prev, nil // an empty file; recovery removes these
	}
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return br, prev, fmt.Errorf("store.file: read %s: %w", path, err)
	}
	if !validFileHeader(hdr[:]) {
		return br, prev, &CorruptError{File: path, Offset: 0, Reason: "bad file header"}
	}
	if br == nil {
		br = s.getReader()
	}
	r := newEntryReader(f, fileHeaderSize, size, br)
	br = r.br
	for n := 0; ; n++ {
		if n&255 == 0 {
			if err := ctx.Err(); err != nil {
				return br, prev, err
			}
		}
		zxid, data, st, reason, err := r.next()
		if err != nil {
			return br, prev, fmt.Errorf("store.file: read %s: %w", path, err)
		}
		if st == stopNone && zxid <= prev {
			return br, prev, &CorruptError{File: path, Offset: r.rec, Reason: fmt.Sprintf("zxid %#x not above %#x", zxid, prev)}
		}
		switch st {
		case stopNone:
		case stopEOF, stopPad:
			if limit >= 0 && r.off != limit {
				return br, prev, &CorruptError{File: path, Offset: r.off, Reason: "log ends before its recorded end"}
			}
			return br, prev, nil
		case stopBad:
			if limit >= 0 {
				return br, prev, &CorruptError{File: path, Offset: r.off, Reason: reason}
			}
			off, found, err := findValidEntry(f, r.off+1, size, prev)
			if err != nil {
				return br, prev, fmt.Errorf("store.file: read %s: %w", path, err)
			}
			if found {
				return br, prev, &CorruptError{File: path, Offset: r.off, Reason: fmt.Sprintf("%s, yet a valid record follows at offset %d", reason, off)}
			}
			return br, prev, nil // a torn tail ZooKeeper left behind
		}
		prev = zxid
		if zxid <= after {
			continue
		}
		if err := fn(ext.Entry{Zxid: zxid, Data: data}); err != nil {
			return br, prev, err
		}
	}
}

// TruncateAfter implements ext.Store.
func (s *Store) TruncateAfter(zxid int64) error {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.mu.Lock()
	err := s.writable()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if zxid >= s.lastZxid.Load() {
		return nil
	}
	s.truncMu.Lock()
	defer s.truncMu.Unlock()
	if err := s.closeActive(); err != nil {
		return err
	}
	s.mu.Lock()
	logs := slices.Clone(s.logs)
	s.mu.Unlock()

	// Delete files that start after zxid, newest first, so a crash
	// midway never leaves a gap in front of surviving later entries.
	keep := len(logs)
	for keep > 0 && logs[keep-1].first > zxid {
		keep--
	}
	last := int64(0)
	for ; ; keep-- {
		for len(logs) > keep {
			victim := logs[len(logs)-1]
			if err := s.fs.Remove(victim.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return s.fail("truncate: remove "+victim.path, err)
			}
			// One directory sync per removal keeps the order on disk:
			// a power loss must not keep a later file whose
			// predecessor is gone.
			if err := s.fs.SyncDir(s.logDir); err != nil {
				return s.fail("truncate: sync log dir", err)
			}
			logs = logs[:len(logs)-1]
		}
		if keep == 0 {
			break
		}
		lf := logs[keep-1]
		end, lastKept, n, err := s.boundary(lf.path, zxid)
		if err != nil {
			return s.fail("truncate: scan "+lf.path, err)
		}
		if n > 0 {
			if err := s.truncateFile(lf.path, end); err != nil {
				return s.fail("truncate", err)
			}
			last = lastKept
			break
		}
		// No entry <= zxid in it: the loop removes it too.
	}
	if err := s.fs.SyncDir(s.logDir); err != nil {
		return s.fail("truncate: sync log dir", err)
	}
	s.mu.Lock()
	s.logs = logs
	s.mu.Unlock()
	s.lastZxid.Store(last)

	// Snapshots above the cut would restore history that is gone.
	if err := s.snaps.Remove(func(z int64) bool { return z > zxid }, true); err != nil {
		return s.fail("truncate", err)
	}
	return nil
}

// boundary finds the end offset of the last entry <= zxid in a file.
func (s *Store) boundary(path string, zxid int64) (end, last int64, n int, err error) {
	f, err := s.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, 0, err
	}
	var hdr [fileHeaderSize]byte
	if st.Size() < fileHeaderSize {
		return 0, 0, 0, nil
	}
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return 0, 0, 0, err
	}
	if !validFileHeader(hdr[:]) {
		return 0, 0, 0, nil
	}
	r := newEntryReader(f, fileHeaderSize, st.Size(), nil)
	end = fileHeaderSize
	for {
		z, _, stp, _, err := r.next()
		if err != nil {
			return 0, 0, 0, err
		}
		if stp != stopNone || z > zxid {
			return end, last, n, nil
		}
		end, last = r.off, z
		n++
	}
}

// PurgeBefore implements ext.Store with ZooKeeper's rule: snapshots older
// than zxid go, and so do the logs before the newest log starting at or
// before zxid (that one holds the entries after a snapshot at zxid).
func (s *Store) PurgeBefore(zxid int64) error {
	s.truncMu.Lock()
	defer s.truncMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ext.ErrClosed
	}
	logs := slices.Clone(s.logs)
	s.mu.Unlock()

	if err := s.snaps.Remove(func(z int64) bool { return z < zxid }, false); err != nil {
		return err
	}
	drop := 0
	if len(logs) > 0 && logs[0].first <= zxid {
		drop = startIndex(logs, zxid)
	}
	for _, lf := range logs[:drop] {
		if err := s.fs.Remove(lf.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store.file: purge: %w", err)
		}
	}
	if drop > 0 {
		s.mu.Lock()
		// Append only adds at the end and TruncateAfter waits for
		// truncMu, so the first drop entries are the ones removed.
		s.logs = slices.Delete(s.logs, 0, drop)
		s.mu.Unlock()
	}
	return nil
}

// Usage implements ext.Store: apparent sizes, as ZooKeeper's `dirs` reports.
func (s *Store) Usage() (snapBytes, logBytes int64) {
	sum := func(dir string) int64 { return snapdir.DirBytes[File](s.fs, dir) }
	snapBytes = sum(s.snapDir)
	if s.logDir == s.snapDir {
		// Shared directory: split by name.
		ents, _ := s.fs.ReadDir(s.logDir)
		for _, e := range ents {
			if _, ok := parseName(e.Name(), logPrefix); ok {
				if info, err := e.Info(); err == nil {
					logBytes += info.Size()
				}
			}
		}
		return snapBytes - logBytes, logBytes
	}
	return snapBytes, sum(s.logDir)
}

// Close implements ext.Store.
func (s *Store) Close() error {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	f := s.active
	s.active = nil
	s.mu.Unlock()
	if f != nil {
		return f.Close()
	}
	return nil
}
