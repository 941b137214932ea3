package storetest

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
)

// The shared store benchmarks. A store's test package wraps each in a
// Benchmark function; BenchmarkAppend and BenchmarkRawFdatasync run the
// same batch sizes with the same bytes on the same file system, so one
// `go test -bench .` shows what a store's group commit costs over the bare
// write + fdatasync it cannot avoid.

// BenchEntryBytes is the data size of one benchmark entry: a small setData.
const BenchEntryBytes = 100

// benchRecordBytes is about what a store writes per entry: the data plus
// store.file's framing (8-byte checksum, 4-byte length, end marker).
const benchRecordBytes = BenchEntryBytes + 13

// BenchBatches are the batch sizes: one writer waiting on each commit, a
// busy pipeline, and a flood.
var BenchBatches = []int{1, 16, 256}

// zxidOffset is where TxnHeader (clientId int64, cxid int32, zxid int64)
// keeps the zxid; benchmarks patch it in place instead of re-encoding.
const zxidOffset = 12

// BenchEntries returns count entries of exactly BenchEntryBytes data bytes
// with zxids first, first+1, ...: a real TxnHeader (which store.file
// checks) padded with zeros.
func BenchEntries(first int64, count int) []ext.Entry {
	out := make([]ext.Entry, count)
	for i := range out {
		z := first + int64(i)
		data := make([]byte, BenchEntryBytes)
		copy(data, Entry(z, 0).Data)
		out[i] = ext.Entry{Zxid: z, Data: data}
	}
	return out
}

// setZxid renumbers a BenchEntries entry.
func setZxid(e *ext.Entry, z int64) {
	e.Zxid = z
	binary.BigEndian.PutUint64(e.Data[zxidOffset:], uint64(z))
}

func openBench(b *testing.B, open Opener) ext.Store {
	b.Helper()
	s, err := open(b.TempDir())
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkAppend measures Append of BenchBatches entries per call: ns/op
// is one group commit's latency, entries/s the throughput. open should
// give a durable store (one sync per Append).
func BenchmarkAppend(b *testing.B, open Opener) {
	if z := BenchEntries(7, 1)[0]; int64(binary.BigEndian.Uint64(z.Data[zxidOffset:])) != 7 {
		b.Fatal("storetest: TxnHeader zxid offset is wrong")
	}
	for _, batch := range BenchBatches {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openBench(b, open)
			ctx := context.Background()
			entries := BenchEntries(1, batch)
			b.SetBytes(int64(batch * benchRecordBytes))
			b.ReportAllocs()
			b.ResetTimer()
			z := int64(1)
			for range b.N {
				for i := range entries {
					setZxid(&entries[i], z)
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

// BenchmarkRawFdatasync is BenchmarkAppend's floor: per operation, the
// bytes of one batch written with pwrite at the end of a sparse
// pre-sized file (ZooKeeper's padding) and fdatasync'ed, in a directory of
// the same file system as b.TempDir.
func BenchmarkRawFdatasync(b *testing.B) {
	const size = 1 << 30
	for _, batch := range BenchBatches {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(size); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, batch*benchRecordBytes)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			off := int64(0)
			for range b.N {
				if _, err := f.WriteAt(buf, off); err != nil {
					b.Fatal(err)
				}
				if err := fdatasync(f); err != nil {
					b.Fatal(err)
				}
				if off += int64(len(buf)); off+int64(len(buf)) > size {
					off = 0
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkReadLog measures replay: reading 20000 entries from the start.
func BenchmarkReadLog(b *testing.B, open Opener) {
	s := openBench(b, open)
	const n = 20000
	for i := int64(0); i < n; i += 1000 {
		MustAppend(b, s, BenchEntries(i+1, 1000)...)
	}
	b.SetBytes(n * BenchEntryBytes)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		count := 0
		err := s.ReadLog(context.Background(), 0, func(ext.Entry) error { count++; return nil })
		if err != nil || count != n {
			b.Fatalf("read %d entries: %v", count, err)
		}
	}
}
