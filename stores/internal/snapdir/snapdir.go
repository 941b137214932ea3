// Package snapdir keeps a store's snapshots as files in one directory, the
// way ZooKeeper does: "snapshot.<zxid in hex>", written under a temporary
// name and renamed into place on commit, so a snapshot is either complete
// and listed or not there at all. store.file and store.pebble share it;
// the bytes are opaque here (core/datatree writes them).
package snapdir

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
	"sync/atomic"

	"github.com/zabkit/zabkit/core/ext"
)

// Names. ZooKeeper parses any "snapshot.<hex>[.suffix]" as a snapshot (the
// suffix selects a compression), so a file being written must not start
// with Prefix, or a Java server could load a half-written one.
const (
	Prefix    = "snapshot."
	TmpPrefix = "tmp.snapshot."
)

// Name is the file name of the snapshot at zxid (>= 0), as ZooKeeper
// spells it: lower-case hex without leading zeros.
func Name(zxid int64) string { return Prefix + strconv.FormatInt(zxid, 16) }

// Parse returns the zxid of a committed snapshot's file name. Only the
// spelling Name produces counts, so every listed snapshot can be opened;
// compressed ZooKeeper snapshots (".gz", ".snappy") are not listed because
// the data tree reads only the plain format.
func Parse(name string) (int64, bool) {
	hex, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return 0, false
	}
	z, err := strconv.ParseInt(hex, 16, 64)
	return z, err == nil && z >= 0 && name == Name(z)
}

// File is what a snapshot needs of an open file.
type File interface {
	io.Reader
	io.Writer
	io.Closer
	// Sync is fsync.
	Sync() error
}

// FS is the file-system calls a Dir makes; a store passes its own seam
// (store.file injects faults through it) or OS.
type FS[F File] interface {
	OpenFile(name string, flag int, perm os.FileMode) (F, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	ReadDir(name string) ([]os.DirEntry, error)
	// SyncDir fsyncs a directory, making renames and removals durable.
	SyncDir(name string) error
}

// OS is FS on the real file system.
type OS struct{}

func (OS) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
func (OS) Rename(oldpath, newpath string) error       { return os.Rename(oldpath, newpath) }
func (OS) Remove(name string) error                   { return os.Remove(name) }
func (OS) ReadDir(name string) ([]os.DirEntry, error) { return os.ReadDir(name) }

func (OS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// DirBytes is the apparent size of the regular files in dir, which is what
// ZooKeeper's `dirs` reports for its data directories (0 if unreadable).
func DirBytes[F File](fsys FS[F], dir string) int64 {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// Dir is one snapshot directory. Its methods implement the snapshot half of
// ext.Store and are safe for concurrent use.
type Dir[F File] struct {
	fs    FS[F]
	path  string
	sync  bool
	owner string // prefixes errors, e.g. "store.file"
	seq   atomic.Uint64
}

// New returns the snapshot directory at path (which must exist). With
// sync, Commit fsyncs the file and the directory. owner names the store
// in errors.
func New[F File](fsys FS[F], path string, sync bool, owner string) *Dir[F] {
	return &Dir[F]{fs: fsys, path: path, sync: sync, owner: owner}
}

// Path is the directory.
func (d *Dir[F]) Path() string { return d.path }

func (d *Dir[F]) errorf(format string, args ...any) error {
	return fmt.Errorf(d.owner+": "+format, args...)
}

// Create implements ext.Store.CreateSnapshot. Writes are buffered.
func (d *Dir[F]) Create(zxid int64) (ext.SnapshotWriter, error) {
	if zxid < 0 {
		return nil, d.errorf("snapshot zxid %d is negative", zxid)
	}
	name := Name(zxid)
	tmp := filepath.Join(d.path, TmpPrefix+name[len(Prefix):]+"."+strconv.FormatUint(d.seq.Add(1), 10))
	f, err := d.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, d.errorf("create snapshot: %w", err)
	}
	return &writer[F]{d: d, f: f, bw: bufio.NewWriterSize(f, 256<<10), tmp: tmp, final: filepath.Join(d.path, name)}, nil
}

// writer streams a snapshot into a temp file; Commit makes it visible.
type writer[F File] struct {
	d     *Dir[F]
	f     F
	bw    *bufio.Writer
	tmp   string
	final string
	done  bool
	err   error // the first write error; Commit then fails
}

func (w *writer[F]) Write(p []byte) (int, error) {
	if w.done {
		return 0, w.d.errorf("snapshot already committed or aborted")
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(p)
	if err != nil {
		w.err = w.d.errorf("write snapshot: %w", err)
	}
	return n, w.err
}

// Commit flushes, fsyncs (with sync), renames into place and fsyncs the
// directory. On error the temp file is removed and nothing is visible.
func (w *writer[F]) Commit() error {
	if w.done {
		return w.d.errorf("snapshot already committed or aborted")
	}
	w.done = true
	err := w.err
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil && w.d.sync {
		err = w.f.Sync()
	}
	err = errors.Join(err, w.f.Close())
	if err == nil {
		err = w.d.fs.Rename(w.tmp, w.final)
	}
	if err != nil {
		w.d.fs.Remove(w.tmp)
		return w.d.errorf("commit snapshot: %w", err)
	}
	if w.d.sync {
		if err := w.d.fs.SyncDir(w.d.path); err != nil {
			// The rename may or may not survive a power loss; the
			// file itself is complete either way.
			return w.d.errorf("commit snapshot: sync dir: %w", err)
		}
	}
	return nil
}

// Abort discards the snapshot.
func (w *writer[F]) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	if err := w.d.fs.Remove(w.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return w.d.errorf("abort snapshot: %w", err)
	}
	return nil
}

// List implements ext.Store.Snapshots: committed snapshots, newest first.
func (d *Dir[F]) List() ([]ext.SnapshotInfo, error) {
	ents, err := d.fs.ReadDir(d.path)
	if err != nil {
		return nil, d.errorf("list snapshots: %w", err)
	}
	var out []ext.SnapshotInfo
	for _, e := range ents {
		z, ok := Parse(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // purged meanwhile
		}
		if err != nil {
			return nil, d.errorf("list snapshots: %w", err)
		}
		out = append(out, ext.SnapshotInfo{Zxid: z, Size: info.Size(), Name: e.Name()})
	}
	slices.SortFunc(out, func(a, b ext.SnapshotInfo) int { return cmp.Compare(b.Zxid, a.Zxid) })
	return out, nil
}

// Open implements ext.Store.OpenSnapshot.
func (d *Dir[F]) Open(zxid int64) (io.ReadCloser, error) {
	f, err := d.fs.OpenFile(filepath.Join(d.path, Name(zxid)), os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %#x", ext.ErrNoSnapshot, zxid)
	}
	if err != nil {
		return nil, d.errorf("open snapshot: %w", err)
	}
	return f, nil
}

// Has reports whether a committed snapshot at zxid exists (for
// ext.CheckAppend: only a snapshot may justify a zxid that skips ahead).
func (d *Dir[F]) Has(zxid int64) (bool, error) {
	r, err := d.Open(zxid)
	if errors.Is(err, ext.ErrNoSnapshot) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r.Close()
	return true, nil
}

// Remove deletes the committed snapshots whose zxid matches. With durable
// the removal survives a power loss before Remove returns (TruncateAfter
// needs that: a snapshot above the cut describes history that is gone).
func (d *Dir[F]) Remove(match func(zxid int64) bool, durable bool) error {
	snaps, err := d.List()
	if err != nil {
		return err
	}
	removed := false
	for _, sn := range snaps {
		if !match(sn.Zxid) {
			continue
		}
		if err := d.fs.Remove(filepath.Join(d.path, sn.Name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return d.errorf("remove snapshot: %w", err)
		}
		removed = true
	}
	if removed && durable {
		if err := d.fs.SyncDir(d.path); err != nil {
			return d.errorf("sync snapshot dir: %w", err)
		}
	}
	return nil
}

// RemoveTemps deletes snapshots a crash left half-written; call it before
// the store is used.
func (d *Dir[F]) RemoveTemps() error {
	ents, err := d.fs.ReadDir(d.path)
	if err != nil {
		return d.errorf("%w", err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), TmpPrefix) {
			if err := d.fs.Remove(filepath.Join(d.path, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return d.errorf("%w", err)
			}
		}
	}
	return nil
}
