package pebble_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/pebble"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

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
