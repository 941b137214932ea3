package file

import (
	"io"

	"github.com/zabkit/zabkit/core/ext"
)

// Snapshots are ZooKeeper's snapshot.<hex> files in DataDir/version-2,
// kept by stores/internal/snapdir (shared with store.pebble) through the
// store's FS seam, so fault tests reach them too.

// CreateSnapshot implements ext.Store. Writes are buffered; the bytes are
// opaque to the store.
func (s *Store) CreateSnapshot(zxid int64) (ext.SnapshotWriter, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ext.ErrClosed
	}
	return s.snaps.Create(zxid)
}

// Snapshots implements ext.Store: committed snapshots, newest first.
// Compressed ZooKeeper snapshots (snapshot.<hex>.gz/.snappy) are not
// listed: the data tree reads only the plain format.
func (s *Store) Snapshots() ([]ext.SnapshotInfo, error) { return s.snaps.List() }

// OpenSnapshot implements ext.Store.
func (s *Store) OpenSnapshot(zxid int64) (io.ReadCloser, error) { return s.snaps.Open(zxid) }
