package file_test

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/file"
	"github.com/zabkit/zabkit/stores/file/faultfs"
)

// assertRefusing checks that every log write is refused with ErrUncertain.
func assertRefusing(t *testing.T, s *file.Store) {
	t.Helper()
	z := s.LastZxid() + 100
	if err := s.Append(context.Background(), storetest.Entries(10, z)); !errors.Is(err, file.ErrUncertain) {
		t.Fatalf("Append after a failure = %v, want ErrUncertain", err)
	}
	if err := s.TruncateAfter(0); !errors.Is(err, file.ErrUncertain) {
		t.Fatalf("TruncateAfter after a failure = %v, want ErrUncertain", err)
	}
	if err := s.RollLog(); !errors.Is(err, file.ErrUncertain) {
		t.Fatalf("RollLog after a failure = %v, want ErrUncertain", err)
	}
}

func openFault(t *testing.T, dir string, ffs *faultfs.FS) *file.Store {
	t.Helper()
	return mustOpen(t, file.Options{DataDir: dir, ForceSync: true, PreAllocSizeKB: 16, FS: ffs})
}

func TestFdatasyncErrorRefusesAppends(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		dir := t.TempDir()
		ffs := &faultfs.FS{}
		s := openFault(t, dir, ffs)
		a := storetest.Entries(50, 1, 2, 3)
		storetest.MustAppend(t, s, a...)
		if fresh {
			s.RollLog() // the failing batch starts a new file
		}
		ffs.Set(func(f *faultfs.Faults) { f.DatasyncErr = syscall.EIO })
		err := s.Append(context.Background(), storetest.Entries(50, 4, 5))
		if !errors.Is(err, file.ErrUncertain) || !errors.Is(err, syscall.EIO) {
			t.Fatalf("Append with failing fdatasync = %v, want ErrUncertain wrapping EIO", err)
		}
		if s.LastZxid() != 3 {
			t.Fatalf("LastZxid after a failed Append = %d, want 3", s.LastZxid())
		}
		ffs.Set(func(f *faultfs.Faults) { f.DatasyncErr = nil }) // the disk "recovers"
		assertRefusing(t, s)
		// What was acknowledged is readable; the failed batch is not.
		storetest.CheckLog(t, s, 0, a)
		s.Close()
		// Reopening decides from the disk. The unsynced batch reached
		// the page cache, so it may be there: a prefix of a + b.
		s = mustOpen(t, file.Options{DataDir: dir, ForceSync: true})
		got := storetest.ReadAll(t, s, 0)
		if len(got) < 3 || len(got) > 5 {
			t.Fatalf("after reopen: %d entries", len(got))
		}
		storetest.CheckLog(t, s, 0, storetest.Entries(50, []int64{1, 2, 3, 4, 5}[:len(got)]...))
		storetest.MustAppend(t, s, storetest.Entries(50, 6)...)
	}
}

func TestDirSyncErrorOnNewLog(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultfs.FS{}
	s := openFault(t, dir, ffs)
	ffs.Set(func(f *faultfs.Faults) { f.SyncDirErr = syscall.EIO })
	if err := s.Append(context.Background(), storetest.Entries(10, 1)); !errors.Is(err, file.ErrUncertain) {
		t.Fatalf("Append whose new log could not be recorded in its directory = %v, want ErrUncertain", err)
	}
	ffs.Set(func(f *faultfs.Faults) { f.SyncDirErr = nil })
	assertRefusing(t, s)
}

// A full disk tears the write: the store refuses further writes and a
// reopen drops the torn record.
func TestENOSPCTornWrite(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultfs.FS{}
	s := openFault(t, dir, ffs)
	a := storetest.Entries(50, 1, 2, 3)
	storetest.MustAppend(t, s, a...)
	ffs.Set(func(f *faultfs.Faults) { f.WriteErr, f.WritePartial = syscall.ENOSPC, 30 })
	err := s.Append(context.Background(), storetest.Entries(50, 4, 5))
	if !errors.Is(err, file.ErrUncertain) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk = %v, want ErrUncertain wrapping ENOSPC", err)
	}
	ffs.Set(func(f *faultfs.Faults) { f.WriteErr = nil })
	assertRefusing(t, s)
	s.Close()
	s = mustOpen(t, file.Options{DataDir: dir, ForceSync: true})
	storetest.CheckLog(t, s, 0, a)
	storetest.MustAppend(t, s, storetest.Entries(50, 4)...)
}

// A failed truncate leaves the log in an unknown state (ZOOKEEPER-3701):
// the store must stop, not carry on as if it had worked.
func TestTruncateErrorRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultfs.FS{}
	s := openFault(t, dir, ffs)
	storetest.MustAppend(t, s, storetest.Entries(50, 1, 2, 3, 4)...)
	ffs.Set(func(f *faultfs.Faults) { f.TruncateErr = syscall.EIO })
	if err := s.TruncateAfter(2); !errors.Is(err, file.ErrUncertain) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("TruncateAfter with failing truncate = %v, want ErrUncertain wrapping EIO", err)
	}
	ffs.Set(func(f *faultfs.Faults) { f.TruncateErr = nil })
	assertRefusing(t, s)
	s.Close()
	s = mustOpen(t, file.Options{DataDir: dir})
	if err := s.TruncateAfter(2); err != nil {
		t.Fatal(err)
	}
	storetest.CheckLog(t, s, 0, storetest.Entries(50, 1, 2))
}

func TestSnapshotCommitFsyncError(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultfs.FS{}
	s := openFault(t, dir, ffs)
	w, err := s.CreateSnapshot(7)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("snapshot bytes"))
	ffs.Set(func(f *faultfs.Faults) { f.SyncErr = syscall.EIO })
	if err := w.Commit(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Commit with failing fsync = %v, want EIO", err)
	}
	ffs.Set(func(f *faultfs.Faults) { f.SyncErr = nil })
	if snaps, _ := s.Snapshots(); len(snaps) != 0 {
		t.Fatalf("a snapshot whose commit failed is listed: %+v", snaps)
	}
	if _, err := s.OpenSnapshot(7); !errors.Is(err, ext.ErrNoSnapshot) {
		t.Fatalf("OpenSnapshot of a failed commit = %v", err)
	}
	ents, _ := os.ReadDir(dir + "/version-2")
	for _, e := range ents {
		if e.Name() != "zabkit.meta" && e.Name() != "acceptedEpoch" && e.Name() != "currentEpoch" {
			t.Fatalf("leftover file %s after a failed snapshot commit", e.Name())
		}
	}
	// Snapshots are independent of the log: appends still work.
	storetest.MustAppend(t, s, storetest.Entries(5, 1)...)
}

func TestSaveMetaFsyncError(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultfs.FS{}
	s := openFault(t, dir, ffs)
	if err := s.SaveMeta(ext.Meta{CurrentEpoch: 1, AcceptedEpoch: 1, DBID: 5}); err != nil {
		t.Fatal(err)
	}
	ffs.Set(func(f *faultfs.Faults) { f.SyncErr = syscall.EIO })
	if err := s.SaveMeta(ext.Meta{CurrentEpoch: 2, AcceptedEpoch: 2, DBID: 5}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("SaveMeta with failing fsync = %v, want EIO", err)
	}
	ffs.Set(func(f *faultfs.Faults) { f.SyncErr = nil })
	m, err := s.LoadMeta()
	if err != nil || m.CurrentEpoch != 1 || m.AcceptedEpoch != 1 {
		t.Fatalf("LoadMeta after a failed SaveMeta = %+v, %v; want the old epochs", m, err)
	}
}

// SaveMeta writes zabkit.meta (all fields) first; if the epoch files then
// fail to update, LoadMeta still returns the new metadata as a whole.
func TestSaveMetaAtomicAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultfs.FS{}
	s := openFault(t, dir, ffs)
	if err := s.SaveMeta(ext.Meta{CurrentEpoch: 1, AcceptedEpoch: 1, LastVote: []byte("old"), DBID: 5}); err != nil {
		t.Fatal(err)
	}
	ffs.Set(func(f *faultfs.Faults) { f.RenameErr, f.RenameTarget = syscall.EIO, "currentEpoch" })
	if err := s.SaveMeta(ext.Meta{CurrentEpoch: 2, AcceptedEpoch: 3, LastVote: []byte("new"), DBID: 5}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("SaveMeta = %v, want EIO", err)
	}
	ffs.Set(func(f *faultfs.Faults) { f.RenameErr = nil })
	s.Close()
	s = mustOpen(t, file.Options{DataDir: dir})
	m, err := s.LoadMeta()
	if err != nil || m.CurrentEpoch != 2 || m.AcceptedEpoch != 3 || string(m.LastVote) != "new" {
		t.Fatalf("LoadMeta = %+v, %v; want the whole new metadata", m, err)
	}
	// Renaming zabkit.meta itself failing leaves the whole old metadata.
	ffs.Set(func(f *faultfs.Faults) { f.RenameErr, f.RenameTarget = syscall.EIO, "zabkit.meta" })
	s2 := openFault(t, dir, ffs)
	if err := s2.SaveMeta(ext.Meta{CurrentEpoch: 4, AcceptedEpoch: 4, LastVote: []byte("newer")}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("SaveMeta = %v, want EIO", err)
	}
	if m, _ := s2.LoadMeta(); m.CurrentEpoch != 2 || m.AcceptedEpoch != 3 || string(m.LastVote) != "new" {
		t.Fatalf("LoadMeta after a failed SaveMeta = %+v; want the previous metadata", m)
	}
}
