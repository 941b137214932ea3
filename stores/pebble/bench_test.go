package pebble_test

import (
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/pebble"
)

// The kit's benchmarks, as for store.file: BenchmarkRawFdatasync is
// BenchmarkAppend's floor on the same file system.

func benchOpener(dir string) (ext.Store, error) {
	return pebble.Open(pebble.Options{Dir: dir, ForceSync: true, Logger: quietLogger()})
}

func BenchmarkAppend(b *testing.B) { storetest.BenchmarkAppend(b, benchOpener) }

func BenchmarkRawFdatasync(b *testing.B) { storetest.BenchmarkRawFdatasync(b) }

// BenchmarkAppendNoSync is BenchmarkAppend without the WAL sync: the
// store's own cost per group commit (encoding, Pebble's commit path, the
// WAL write into the page cache and the flushes it leads to) without the
// disk's sync latency, which dominates BenchmarkAppend and varies most on
// a shared machine.
func BenchmarkAppendNoSync(b *testing.B) {
	storetest.BenchmarkAppend(b, func(dir string) (ext.Store, error) {
		return pebble.Open(pebble.Options{Dir: dir, Logger: quietLogger()})
	})
}

func BenchmarkReadLog(b *testing.B) { storetest.BenchmarkReadLog(b, benchOpener) }
