package file

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// FS is the file-system seam of the store. Everything the store does to the
// disk goes through it, so tests can inject torn writes, fsync errors, a full
// disk or stalls without touching the store's code. It is deliberately small:
// only the calls the store makes.
type FS interface {
	// OpenFile opens a file like os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	ReadDir(name string) ([]os.DirEntry, error)
	MkdirAll(name string, perm os.FileMode) error
	// SyncDir fsyncs a directory so that creations, renames and removals
	// of its entries survive a power loss.
	SyncDir(name string) error
}

// File is an open file. The store only uses positioned I/O (ReadAt,
// WriteAt) so a File carries no offset state the store relies on, except
// for Read/Write on freshly created temporary files.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Closer
	// Sync flushes data and metadata (fsync).
	Sync() error
	// Datasync flushes data and the metadata needed to read it back
	// (fdatasync). With a pre-allocated log the size does not change on
	// most appends, which is what makes it cheaper than Sync.
	Datasync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
}

// OSFS is the real file system.
type OSFS struct{}

type osFile struct{ *os.File }

func (f osFile) Datasync() error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}

// SeekData returns the offset of the first byte at or after off that is
// not in a hole, or io.EOF if only holes follow. Recovery uses it to skip
// the pre-allocated (sparse) tail of a log without reading it.
func (f osFile) SeekData(off int64) (int64, error) {
	n, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
	if err == unix.ENXIO {
		return 0, io.EOF
	}
	if err != nil {
		return 0, &os.PathError{Op: "seek data", Path: f.Name(), Err: err}
	}
	return n, nil
}

// dataSeeker is optionally implemented by a File that knows its holes.
type dataSeeker interface {
	SeekData(off int64) (int64, error)
}

// OpenFile implements FS.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Rename implements FS.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// ReadDir implements FS.
func (OSFS) ReadDir(name string) ([]os.DirEntry, error) { return os.ReadDir(name) }

// MkdirAll implements FS.
func (OSFS) MkdirAll(name string, perm os.FileMode) error { return os.MkdirAll(name, perm) }

// SyncDir implements FS.
func (OSFS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
