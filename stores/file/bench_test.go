package file_test

import (
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/file"
)

// The benchmarks are the kit's, so store.file and store.pebble are
// measured alike; BenchmarkRawFdatasync is BenchmarkAppend's floor.

func benchOpener(dir string) (ext.Store, error) {
	return file.Open(file.Options{DataDir: dir, ForceSync: true, Logger: quietLogger()})
}

func BenchmarkAppend(b *testing.B) { storetest.BenchmarkAppend(b, benchOpener) }

func BenchmarkRawFdatasync(b *testing.B) { storetest.BenchmarkRawFdatasync(b) }

func BenchmarkReadLog(b *testing.B) { storetest.BenchmarkReadLog(b, benchOpener) }
