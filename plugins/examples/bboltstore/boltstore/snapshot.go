package boltstore

import (
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

// Snapshots are files: snapshot.<zxid, 16 hex digits>. One is written to
// a tmp- file, synced, renamed into place and the directory synced, so a
// snapshot is either whole and visible or absent.

const snapPrefix, tmpPrefix = "snapshot.", "tmp-"

func (s *Store) snapPath(z int64) string {
	return filepath.Join(s.snapDir, fmt.Sprintf("%s%016x", snapPrefix, uint64(z)))
}

// snapshotAt tells CheckAppend whether a committed snapshot exists at z.
func (s *Store) snapshotAt(z int64) (bool, error) {
	_, err := os.Stat(s.snapPath(z))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Snapshots lists committed snapshots, newest first.
func (s *Store) Snapshots() ([]ext.SnapshotInfo, error) {
	des, err := os.ReadDir(s.snapDir)
	if err != nil {
		return nil, err
	}
	var out []ext.SnapshotInfo
	for _, de := range des {
		hexZxid, ok := strings.CutPrefix(de.Name(), snapPrefix)
		if !ok {
			continue
		}
		z, err := strconv.ParseUint(hexZxid, 16, 64)
		if err != nil {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, ext.SnapshotInfo{Zxid: int64(z), Size: fi.Size(), Name: de.Name()})
	}
	slices.SortFunc(out, func(a, b ext.SnapshotInfo) int { return cmp.Compare(b.Zxid, a.Zxid) })
	return out, nil
}

// OpenSnapshot opens the snapshot at zxid.
func (s *Store) OpenSnapshot(zxid int64) (io.ReadCloser, error) {
	f, err := os.Open(s.snapPath(zxid))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %#x", ext.ErrNoSnapshot, zxid)
	}
	return f, err
}

// CreateSnapshot starts a snapshot in a temporary file.
func (s *Store) CreateSnapshot(zxid int64) (ext.SnapshotWriter, error) {
	if s.closed.Load() {
		return nil, ext.ErrClosed
	}
	f, err := os.CreateTemp(s.snapDir, fmt.Sprintf("%s%016x-*", tmpPrefix, uint64(zxid)))
	if err != nil {
		return nil, err
	}
	return &snapWriter{s: s, f: f, zxid: zxid}, nil
}

type snapWriter struct {
	s    *Store
	f    *os.File
	zxid int64
	done bool
}

var errSnapDone = errors.New("boltstore: snapshot already committed or aborted")

func (w *snapWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errSnapDone
	}
	return w.f.Write(p)
}

// Commit syncs the file, renames it into place and syncs the directory.
func (w *snapWriter) Commit() error {
	if w.done {
		return errSnapDone
	}
	w.done = true
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		w.s.snapMu.Lock()
		err = os.Rename(w.f.Name(), w.s.snapPath(w.zxid))
		if err == nil {
			err = syncDir(w.s.snapDir)
		}
		w.s.snapMu.Unlock()
	}
	if err != nil {
		os.Remove(w.f.Name())
	}
	return err
}

// Abort discards the temporary file.
func (w *snapWriter) Abort() error {
	if w.done {
		return errSnapDone
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

// removeSnapshots deletes the snapshots whose zxid drop says, durably.
func (s *Store) removeSnapshots(drop func(zxid int64) bool) error {
	snaps, err := s.Snapshots()
	if err != nil {
		return err
	}
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	removed := false
	for _, sn := range snaps {
		if drop(sn.Zxid) {
			if err := os.Remove(filepath.Join(s.snapDir, sn.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			removed = true
		}
	}
	if removed {
		return syncDir(s.snapDir)
	}
	return nil
}

// removeTemps deletes what unfinished snapshots left behind.
func (s *Store) removeTemps() error {
	des, err := os.ReadDir(s.snapDir)
	if err != nil {
		return err
	}
	for _, de := range des {
		if strings.HasPrefix(de.Name(), tmpPrefix) {
			if err := os.Remove(filepath.Join(s.snapDir, de.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
