package file_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/stores/file"
)

func mustOpen(t testing.TB, opts file.Options) *file.Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s, err := file.Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// logPath is where the store keeps the log named after first.
func logPath(dir string, first int64) string {
	return filepath.Join(dir, "version-2", "log."+hex(first))
}

func hex(z int64) string { return fmtHex(uint64(z)) }

func fmtHex(v uint64) string {
	const digits = "0123456789abcdef"
	if v == 0 {
		return "0"
	}
	var b []byte
	for v > 0 {
		b = append([]byte{digits[v&15]}, b...)
		v >>= 4
	}
	return string(b)
}

// recordOffsets returns the start offset of each entry and the end of the
// last, for entries written into one fresh log file.
func recordOffsets(entries []ext.Entry) (starts []int64, end int64) {
	off := int64(16)
	for _, e := range entries {
		starts = append(starts, off)
		off += 8 + 4 + int64(len(e.Data)) + 1
	}
	return starts, off
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
