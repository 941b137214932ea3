package file

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/zabkit/zabkit/core/ext"
)

// snapWriter streams a snapshot into a temp file; Commit makes it visible.
type snapWriter struct {
	s     *Store
	f     File
	bw    *bufio.Writer
	tmp   string
	final string
	done  bool
	err   error // first write error; Commit then fails
}

// CreateSnapshot implements ext.Store. Writes are buffered; the bytes are
// opaque to the store.
func (s *Store) CreateSnapshot(zxid int64) (ext.SnapshotWriter, error) {
	if zxid < 0 {
		return nil, fmt.Errorf("store.file: snapshot zxid %d is negative", zxid)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ext.ErrClosed
	}
	name := hexName(snapPrefix, zxid)
	tmp := filepath.Join(s.snapDir, snapTmpPrefix+name[len(snapPrefix):]+"."+strconv.FormatUint(s.snapSeq.Add(1), 10))
	f, err := s.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store.file: create snapshot: %w", err)
	}
	return &snapWriter{s: s, f: f, bw: bufio.NewWriterSize(f, 256<<10), tmp: tmp, final: filepath.Join(s.snapDir, name)}, nil
}

func (w *snapWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("store.file: snapshot already committed or aborted")
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = fmt.Errorf("store.file: write snapshot: %w", err)
		return n, w.err
	}
	return n, nil
}

// Commit flushes, fsyncs (with ForceSync), renames into place and fsyncs
// the directory. On error the temp file is removed and nothing is visible.
func (w *snapWriter) Commit() error {
	if w.done {
		return errors.New("store.file: snapshot already committed or aborted")
	}
	w.done = true
	err := w.err
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil && w.s.opts.ForceSync {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.s.fs.Rename(w.tmp, w.final)
	}
	if err != nil {
		w.s.fs.Remove(w.tmp)
		return fmt.Errorf("store.file: commit snapshot: %w", err)
	}
	if w.s.opts.ForceSync {
		if err := w.s.fs.SyncDir(w.s.snapDir); err != nil {
			// The rename may or may not survive a power loss; the
			// file itself is complete either way.
			return fmt.Errorf("store.file: commit snapshot: sync dir: %w", err)
		}
	}
	return nil
}

// Abort discards the snapshot.
func (w *snapWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	if err := w.s.fs.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store.file: abort snapshot: %w", err)
	}
	return nil
}

// Snapshots implements ext.Store: committed snapshots, newest first.
// Compressed ZooKeeper snapshots (snapshot.<hex>.gz/.snappy) are not
// listed: the data tree reads only the plain format.
func (s *Store) Snapshots() ([]ext.SnapshotInfo, error) {
	ents, err := s.fs.ReadDir(s.snapDir)
	if err != nil {
		return nil, fmt.Errorf("store.file: list snapshots: %w", err)
	}
	var out []ext.SnapshotInfo
	for _, e := range ents {
		z, ok := parseName(e.Name(), snapPrefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // purged meanwhile
			}
			return nil, fmt.Errorf("store.file: list snapshots: %w", err)
		}
		out = append(out, ext.SnapshotInfo{Zxid: z, Size: info.Size(), Name: e.Name()})
	}
	slices.SortFunc(out, func(a, b ext.SnapshotInfo) int { return cmpInt64(b.Zxid, a.Zxid) })
	return out, nil
}

// OpenSnapshot implements ext.Store.
func (s *Store) OpenSnapshot(zxid int64) (io.ReadCloser, error) {
	f, err := s.fs.OpenFile(filepath.Join(s.snapDir, hexName(snapPrefix, zxid)), os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %#x", ext.ErrNoSnapshot, zxid)
	}
	if err != nil {
		return nil, fmt.Errorf("store.file: open snapshot: %w", err)
	}
	return f, nil
}

// hasSnapshot reports whether a committed snapshot at zxid exists (Append
// asks when a zxid skips ahead, which only a snapshot may justify).
func (s *Store) hasSnapshot(zxid int64) (bool, error) {
	r, err := s.OpenSnapshot(zxid)
	if errors.Is(err, ext.ErrNoSnapshot) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r.Close()
	return true, nil
}

// removeSnapshotTemps deletes snapshots a crash left half-written.
func (s *Store) removeSnapshotTemps() error {
	ents, err := s.fs.ReadDir(s.snapDir)
	if err != nil {
		return fmt.Errorf("store.file: %w", err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), snapTmpPrefix) {
			if err := s.fs.Remove(filepath.Join(s.snapDir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("store.file: %w", err)
			}
		}
	}
	return nil
}
