// Package faultfs is a file.FS over the real file system that injects
// disk faults on demand: fsync and fdatasync errors, torn writes (part of a
// write lands, then an error such as ENOSPC), failing renames and
// truncates, and an fdatasync that hangs until released. It is for tests
// of what the store, and a node on top of it, do on an uncertain disk; the
// faults can be switched while the store is in use.
package faultfs

import (
	"os"
	"path/filepath"
	"sync"

	"github.com/zabkit/zabkit/stores/file"
)

// Faults are the faults injected; the zero value injects none.
type Faults struct {
	// DatasyncErr fails File.Datasync (the txn log's group-commit sync).
	DatasyncErr error
	// SyncErr fails File.Sync (snapshots, metadata, truncation).
	SyncErr error
	// SyncDirErr fails FS.SyncDir.
	SyncDirErr error
	// TruncateErr fails File.Truncate.
	TruncateErr error
	// WriteErr fails writes: WriteAt first writes WritePartial bytes (a
	// torn write), Write writes nothing.
	WriteErr     error
	WritePartial int
	// RenameErr fails a Rename whose target's base name is RenameTarget.
	RenameErr    error
	RenameTarget string
}

// FS is the fault-injecting file system. Its zero value injects nothing.
type FS struct {
	file.OSFS

	mu     sync.Mutex
	faults Faults
	stall  chan struct{} // non-nil: Datasync blocks until it is closed
	stuck  chan struct{} // gets a value each time a Datasync starts blocking
}

// Set changes the injected faults.
func (f *FS) Set(change func(*Faults)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.faults)
}

// Faults returns the faults injected now.
func (f *FS) Faults() Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.faults
}

// Stall makes every Datasync from now on block until Release, like a disk
// that stopped answering. The returned channel receives a value each time
// a Datasync starts blocking, so a test can wait for the hang instead of
// sleeping.
func (f *FS) Stall() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stall == nil {
		f.stall = make(chan struct{})
		f.stuck = make(chan struct{}, 16)
	}
	return f.stuck
}

// Release lets every blocked Datasync go on (to the real fdatasync, or to
// DatasyncErr) and ends the stall.
func (f *FS) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stall != nil {
		close(f.stall)
		f.stall = nil
	}
}

func (f *FS) stalled() (release, stuck chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stall, f.stuck
}

// OpenFile implements file.FS.
func (f *FS) OpenFile(name string, flag int, perm os.FileMode) (file.File, error) {
	inner, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: inner, fs: f}, nil
}

// Rename implements file.FS.
func (f *FS) Rename(oldpath, newpath string) error {
	if st := f.Faults(); st.RenameErr != nil && filepath.Base(newpath) == st.RenameTarget {
		return st.RenameErr
	}
	return f.OSFS.Rename(oldpath, newpath)
}

// SyncDir implements file.FS.
func (f *FS) SyncDir(name string) error {
	if err := f.Faults().SyncDirErr; err != nil {
		return err
	}
	return f.OSFS.SyncDir(name)
}

type faultFile struct {
	file.File
	fs *FS
}

func (f *faultFile) Datasync() error {
	if release, stuck := f.fs.stalled(); release != nil {
		select {
		case stuck <- struct{}{}:
		default:
		}
		<-release
	}
	if err := f.fs.Faults().DatasyncErr; err != nil {
		return err
	}
	return f.File.Datasync()
}

func (f *faultFile) Sync() error {
	if err := f.fs.Faults().SyncErr; err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(n int64) error {
	if err := f.fs.Faults().TruncateErr; err != nil {
		return err
	}
	return f.File.Truncate(n)
}

func (f *faultFile) WriteAt(b []byte, off int64) (int, error) {
	st := f.fs.Faults()
	if st.WriteErr == nil {
		return f.File.WriteAt(b, off)
	}
	n := min(st.WritePartial, len(b))
	if n > 0 {
		if n, err := f.File.WriteAt(b[:n], off); err != nil {
			return n, err
		}
	}
	return n, st.WriteErr
}

func (f *faultFile) Write(b []byte) (int, error) {
	if err := f.fs.Faults().WriteErr; err != nil {
		return 0, err
	}
	return f.File.Write(b)
}
