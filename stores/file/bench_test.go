package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/file"
	"golang.org/x/sys/unix"
)

// entryBytes is the size of one benchmark entry's data.
const entryBytes = 100

// benchEntries makes count entries of exactly entryBytes data bytes (a
// TxnHeader, a short path and padding) starting at zxid first.
func benchEntries(first int64, count int) []ext.Entry {
	out := make([]ext.Entry, count)
	for i := range out {
		e := storetest.Entry(first+int64(i), 0)
		data := make([]byte, entryBytes)
		copy(data, e.Data) // keeps the TxnHeader and its zxid
		out[i] = ext.Entry{Zxid: e.Zxid, Data: data}
	}
	return out
}

// BenchmarkAppend measures one group commit (write + fdatasync) per
// operation; ns/op is the commit latency, entries/s the throughput.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := mustOpen(b, file.Options{DataDir: b.TempDir(), ForceSync: true})
			ctx := context.Background()
			entries := benchEntries(1, batch)
			b.SetBytes(int64(batch * (entryBytes + 13)))
			b.ReportAllocs()
			b.ResetTimer()
			z := int64(1)
			for range b.N {
				for i := range entries {
					entries[i].Zxid = z
					// Patch the header's zxid in place.
					for k := range 8 {
						entries[i].Data[12+k] = byte(uint64(z) >> (56 - 8*k))
					}
					z++
				}
				if err := s.Append(ctx, entries); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkRawFdatasync is the floor for BenchmarkAppend: the same number
// of bytes written with pwrite into a pre-allocated file and fdatasync'ed,
// on the same file system.
func BenchmarkRawFdatasync(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, batch*(entryBytes+13))
			if err := f.Truncate(1 << 30); err != nil { // sparse, like ZooKeeper's padding
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			off := int64(0)
			for range b.N {
				if _, err := f.WriteAt(buf, off); err != nil {
					b.Fatal(err)
				}
				if err := unix.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
				off += int64(len(buf))
				if off+int64(len(buf)) > 1<<30 {
					off = 0
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkReadLog measures replay speed.
func BenchmarkReadLog(b *testing.B) {
	dir := b.TempDir()
	s := mustOpen(b, file.Options{DataDir: dir})
	const n = 20000
	for i := int64(0); i < n; i += 1000 {
		storetest.MustAppend(b, s, benchEntries(i+1, 1000)...)
	}
	b.SetBytes(n * (entryBytes + 13))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		count := 0
		s.ReadLog(context.Background(), 0, func(ext.Entry) error { count++; return nil })
		if count != n {
			b.Fatalf("read %d entries", count)
		}
	}
}
