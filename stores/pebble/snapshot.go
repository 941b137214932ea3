package pebble

import (
	"bufio"
	"cmp"
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

// Snapshot file names: "snapshot." + the zxid in lower-case hex, as
// ZooKeeper names them, so an operator recognises them; files being
// written carry tmpPrefix and are never listed.
const (
	snapPrefix = "snapshot."
	tmpPrefix  = ".tmp-"
)

func snapName(zxid int64) string { return snapPrefix + strconv.FormatInt(zxid, 16) }

// snapZxid parses a committed snapshot's file name; only the spelling
// snapName produces counts, so every listed snapshot can be opened.
func snapZxid(name string) (int64, bool) {
	hex, ok := strings.CutPrefix(name, snapPrefix)
	if !ok {
		return 0, false
	}
	z, err := strconv.ParseInt(hex, 16, 64)
	return z, err == nil && z >= 0 && name == snapName(z)
}

// syncDir makes a directory's entries (a rename, a removal) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// snapWriter streams a snapshot into a temp file that Commit renames into
// place.
type snapWriter struct {
	s     *Store
	f     *os.File
	bw    *bufio.Writer
	tmp   string
	final string
	done  bool
	err   error // the first write error; Commit then fails
}

var errSnapDone = errors.New("store.pebble: snapshot already committed or aborted")

// CreateSnapshot implements ext.Store. The bytes are opaque to the store.
func (s *Store) CreateSnapshot(zxid int64) (ext.SnapshotWriter, error) {
	if zxid < 0 {
		return nil, fmt.Errorf("store.pebble: snapshot zxid %d is negative", zxid)
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	s.leave()
	name := snapName(zxid)
	tmp := filepath.Join(s.snapDir, tmpPrefix+name+"."+strconv.FormatUint(s.snapSeq.Add(1), 10))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store.pebble: create snapshot: %w", err)
	}
	return &snapWriter{s: s, f: f, bw: bufio.NewWriterSize(f, 256<<10), tmp: tmp, final: filepath.Join(s.snapDir, name)}, nil
}

func (w *snapWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errSnapDone
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = fmt.Errorf("store.pebble: write snapshot: %w", err)
	}
	return n, w.err
}

// Commit flushes, fsyncs (with ForceSync), renames into place and fsyncs
// the directory. On error the temp file is removed and nothing is visible.
func (w *snapWriter) Commit() error {
	if w.done {
		return errSnapDone
	}
	w.done = true
	err := w.err
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil && w.s.opts.ForceSync {
		err = w.f.Sync()
	}
	err = errors.Join(err, w.f.Close())
	if err == nil {
		err = os.Rename(w.tmp, w.final)
	}
	if err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("store.pebble: commit snapshot: %w", err)
	}
	if w.s.opts.ForceSync {
		if err := syncDir(w.s.snapDir); err != nil {
			return fmt.Errorf("store.pebble: commit snapshot: sync dir: %w", err)
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
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store.pebble: abort snapshot: %w", err)
	}
	return nil
}

// Snapshots implements ext.Store: committed snapshots, newest first.
func (s *Store) Snapshots() ([]ext.SnapshotInfo, error) {
	ents, err := os.ReadDir(s.snapDir)
	if err != nil {
		return nil, fmt.Errorf("store.pebble: list snapshots: %w", err)
	}
	var out []ext.SnapshotInfo
	for _, e := range ents {
		z, ok := snapZxid(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // purged meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("store.pebble: list snapshots: %w", err)
		}
		out = append(out, ext.SnapshotInfo{Zxid: z, Size: info.Size(), Name: e.Name()})
	}
	slices.SortFunc(out, func(a, b ext.SnapshotInfo) int { return cmp.Compare(b.Zxid, a.Zxid) })
	return out, nil
}

// OpenSnapshot implements ext.Store.
func (s *Store) OpenSnapshot(zxid int64) (io.ReadCloser, error) {
	f, err := os.Open(filepath.Join(s.snapDir, snapName(zxid)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %#x", ext.ErrNoSnapshot, zxid)
	}
	if err != nil {
		return nil, fmt.Errorf("store.pebble: open snapshot: %w", err)
	}
	return f, nil
}

// hasSnapshot reports whether a committed snapshot at zxid exists (Append
// asks when a zxid skips ahead, which only a snapshot may justify).
func (s *Store) hasSnapshot(zxid int64) (bool, error) {
	_, err := os.Stat(filepath.Join(s.snapDir, snapName(zxid)))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// removeSnapshots deletes the committed snapshots whose zxid matches, and
// with durable set makes the removal survive a power loss before
// returning.
func (s *Store) removeSnapshots(match func(zxid int64) bool, durable bool) error {
	snaps, err := s.Snapshots()
	if err != nil {
		return err
	}
	removed := false
	for _, sn := range snaps {
		if !match(sn.Zxid) {
			continue
		}
		if err := os.Remove(filepath.Join(s.snapDir, sn.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove snapshot: %w", err)
		}
		removed = true
	}
	if removed && durable {
		if err := syncDir(s.snapDir); err != nil {
			return fmt.Errorf("sync snapshot dir: %w", err)
		}
	}
	return nil
}

// removeSnapshotTemps deletes snapshots a crash left half-written.
func (s *Store) removeSnapshotTemps() error {
	ents, err := os.ReadDir(s.snapDir)
	if err != nil {
		return fmt.Errorf("store.pebble: %w", err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if err := os.Remove(filepath.Join(s.snapDir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("store.pebble: %w", err)
			}
		}
	}
	return nil
}
