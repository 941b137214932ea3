package pebble_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/pebble"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestMain lets this test binary serve as the kit's crash child.
func TestMain(m *testing.M) {
	storetest.CrashMain(crashOpen)
	upgradeChildMain()
	os.Exit(m.Run())
}

func mustOpen(tb testing.TB, opts pebble.Options) *pebble.Store {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s, err := pebble.Open(opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	for _, sync := range []bool{true, false} {
		name := "ForceSync"
		if !sync {
			name = "NoSync"
		}
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, dir string) ext.Store {
				return mustOpen(t, pebble.Options{Dir: dir, ForceSync: sync})
			})
		})
	}
}

// A separate WAL directory and a tiny memtable exercise the other layout
// and Pebble's flush path (entries move from the WAL into tables).
func TestConformanceSeparateWALSmallMemtable(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string) ext.Store {
		return mustOpen(t, pebble.Options{Dir: filepath.Join(dir, "store"), WALDir: filepath.Join(dir, "wal"),
			MemTableSize: 64 << 10, ForceSync: true})
	})
}

// crashOpen is the store the crash child writes and RunCrash reopens:
// durable, with a small memtable so that kills also land while Pebble
// rotates its WAL (new, sized ahead, or recycled) and flushes tables.
func crashOpen(dir string) (ext.Store, error) {
	return pebble.Open(pebble.Options{Dir: dir, ForceSync: true, MemTableSize: 64 << 10, Logger: quietLogger()})
}

// TestKill9Durability SIGKILLs a writer at random points, several times on
// the same directory: every acknowledged write must be there afterwards.
func TestKill9Durability(t *testing.T) {
	storetest.RunCrash(t, crashOpen, storetest.CrashOptions{})
}
