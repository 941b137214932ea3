package pebble_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/pebble"
)

// TestFailedWALSyncIsNotAcknowledged injects a failing WAL sync: the
// Append must fail (Pebble would end the process instead), every later
// log write must be refused, and a reopened store must hold a gap-free log
// with everything acknowledged before the fault.
func TestFailedWALSyncIsNotAcknowledged(t *testing.T) {
	dir := t.TempDir()
	var armed atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !armed.Load() || !strings.HasSuffix(op.Path, ".log") {
			return nil
		}
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			return errorfs.ErrInjected
		}
		return nil
	}))
	s := mustOpen(t, pebble.Options{Dir: dir, ForceSync: true, FS: fs})
	acked := storetest.Entries(50, storetest.Range(1, 1, 10)...)
	storetest.MustAppend(t, s, acked...)

	armed.Store(true)
	err := s.Append(context.Background(), storetest.Entries(50, storetest.Range(1, 11, 20)...))
	if !errors.Is(err, pebble.ErrUncertain) {
		t.Fatalf("Append with a failing WAL sync returned %v, want ErrUncertain", err)
	}
	t.Logf("failed Append: %v", err)
	armed.Store(false)
	if err := s.Append(context.Background(), storetest.Entries(50, storetest.Zxid(1, 21))); !errors.Is(err, pebble.ErrUncertain) {
		t.Fatalf("Append after a failed commit returned %v, want ErrUncertain until reopened", err)
	}
	if err := s.TruncateAfter(storetest.Zxid(1, 5)); !errors.Is(err, pebble.ErrUncertain) {
		t.Fatalf("TruncateAfter after a failed commit returned %v, want ErrUncertain", err)
	}
	s.Close() // may report the WAL failure again; the store is reopened either way

	s = mustOpen(t, pebble.Options{Dir: dir, ForceSync: true})
	defer s.Close()
	got := storetest.ReadAll(t, s, 0)
	if len(got) < len(acked) {
		t.Fatalf("after reopening, the log has %d entries; %d were acknowledged", len(got), len(acked))
	}
	for i, e := range got {
		if want := storetest.Entry(storetest.Zxid(1, int64(i+1)), 50); e.Zxid != want.Zxid || string(e.Data) != string(want.Data) {
			t.Fatalf("entry %d after reopening is %#x, want %#x with its bytes", i, e.Zxid, want.Zxid)
		}
	}
	next := s.LastZxid() + 1
	storetest.MustAppend(t, s, storetest.Entry(next, 50))
	storetest.CheckLog(t, s, next-1, []ext.Entry{storetest.Entry(next, 50)})
}
