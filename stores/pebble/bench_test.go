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

func BenchmarkReadLog(b *testing.B) { storetest.BenchmarkReadLog(b, benchOpener) }
