package pebble

import (
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// sparseWALFS changes how Pebble sizes its WAL files ahead of the writes.
// Pebble reserves WAL space with fallocate(FALLOC_FL_KEEP_SIZE): the blocks
// are reserved but the file size still grows with every write, so every
// WAL fdatasync must also commit the new size to the file system journal,
// which makes a synced commit cost noticeably more than a plain write +
// fdatasync. Here the file is extended with ftruncate instead, as
// ZooKeeper pads its txn logs: the size is set ahead of the writes, and an
// fdatasync records metadata only when a write reaches a new block.
//
// It is safe for recovery: Pebble's WAL reader takes zeros after the last
// record as the end of the log, exactly as for a fallocated or recycled
// file, and a torn tail is told from corruption by the WAL sync chunks of
// pebbleFormat, not by the file size.
type sparseWALFS struct{ vfs.FS }

// isWAL tells WAL files ("000123.log") from tables, manifests and options.
func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

func (fs sparseWALFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil || !isWAL(name) {
		return f, err
	}
	return sparseFile{f}, nil
}

func (fs sparseWALFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	if err != nil || !isWAL(newname) {
		return f, err
	}
	return sparseFile{f}, nil
}

// sparseFile is a WAL file whose preallocation sets its size.
type sparseFile struct{ vfs.File }

func (f sparseFile) Preallocate(offset, length int64) error {
	fd := f.Fd()
	if fd == vfs.InvalidFd {
		return f.File.Preallocate(offset, length)
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() >= offset+length {
		return nil // a recycled WAL is long enough already
	}
	return unix.Ftruncate(int(fd), offset+length)
}
