package pebble

import (
	"io"

	"github.com/zabkit/zabkit/core/ext"
)

// Snapshots are files in Dir/snapshots, kept by stores/internal/snapdir
// as store.file keeps them; the store only guards them against use after
// Close.

// CreateSnapshot implements ext.Store.
func (s *Store) CreateSnapshot(zxid int64) (ext.SnapshotWriter, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	return s.snaps.Create(zxid)
}

// Snapshots implements ext.Store: committed snapshots, newest first.
func (s *Store) Snapshots() ([]ext.SnapshotInfo, error) { return s.snaps.List() }

// OpenSnapshot implements ext.Store.
func (s *Store) OpenSnapshot(zxid int64) (io.ReadCloser, error) { return s.snaps.Open(zxid) }
