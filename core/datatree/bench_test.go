package datatree

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/internal/chunkio"
	"github.com/zabkit/zabkit/core/proto/jute"
)

// loadPath mirrors `zabkit bench load`: /bench/bNNNNN/nNNNNNNN, 1000
// children per bucket.
func loadPath(i int) string {
	return "/bench/b" + pad(i/1000, 5) + "/n" + pad(i, 7)
}

func pad(v, w int) string {
	s := strconv.Itoa(v)
	for len(s) < w {
		s = "0" + s
	}
	return s
}

// buildLoad creates n znodes of valueSize bytes the way the bench load
// does. Buckets are created first.
func buildLoad(tr *Tree, n, valueSize int) {
	value := bytes.Repeat([]byte{'v'}, valueSize)
	zxid := tr.LastZxid()
	hdr := func(typ int32) *jute.TxnHeader {
		zxid++
		return &jute.TxnHeader{ClientID: 1, Zxid: zxid, Time: 1_700_000_000_000, Type: typ}
	}
	tr.Apply(hdr(jute.OpCreate), &jute.CreateTxn{Path: "/bench", ACL: jute.OpenACLUnsafe, ParentCVersion: -1})
	for b := 0; b < (n+999)/1000; b++ {
		tr.Apply(hdr(jute.OpCreate), &jute.CreateTxn{Path: "/bench/b" + pad(b, 5), ACL: jute.OpenACLUnsafe, ParentCVersion: -1})
	}
	rec := &jute.CreateTxn{Data: value, ACL: jute.OpenACLUnsafe, ParentCVersion: -1}
	for i := 0; i < n; i++ {
		rec.Path = loadPath(i)
		tr.Apply(hdr(jute.OpCreate), rec)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemory1M reports the live heap per znode for 1M znodes of
// 100-byte values laid out like `zabkit bench load` (run with
// -bench Memory1M -benchtime 1x).
func BenchmarkMemory1M(b *testing.B) {
	for b.Loop() {
		before := heapInUse()
		tr := New()
		buildLoad(tr, 1_000_000, 100)
		after := heapInUse()
		b.ReportMetric(float64(after-before)/1e6, "bytes/znode")
		b.ReportMetric(float64(after-before)/(1<<20), "MiB")
		runtime.KeepAlive(tr)
	}
}

// TestMemoryPerZnode guards the memory design on 100k znodes (the per-node
// cost does not depend on the count), built by Apply and loaded from a
// snapshot. A 64-byte node plus a 112-byte name+data block plus its child
// table slots is about 195 bytes; the bound fails if a per-node allocation
// (even a 16-byte one) creeps in.
func TestMemoryPerZnode(t *testing.T) {
	const n = 100_000
	const budget = 210
	before := heapInUse()
	tr := New()
	buildLoad(tr, n, 100)
	after := heapInUse()
	per := float64(after-before) / n
	t.Logf("%.0f bytes per znode (100-byte values)", per)
	if per > budget {
		t.Fatalf("%.0f bytes per znode, budget %d", per, budget)
	}
	var buf bytes.Buffer
	if _, err := tr.WriteSnapshot(&buf, nil); err != nil {
		t.Fatal(err)
	}
	tr = nil
	raw := bytes.NewReader(buf.Bytes())
	before = heapInUse()
	loaded, _, err := ReadSnapshot(raw)
	if err != nil {
		t.Fatal(err)
	}
	after = heapInUse()
	per = float64(after-before) / n
	t.Logf("%.0f bytes per znode loaded from a snapshot", per)
	if per > budget {
		t.Fatalf("%.0f bytes per loaded znode, budget %d", per, budget)
	}
	runtime.KeepAlive(loaded)
	runtime.KeepAlive(&buf)
}

func BenchmarkApplyCreate(b *testing.B) {
	tr := New()
	tr.Apply(&jute.TxnHeader{Zxid: 1, Type: jute.OpCreate}, &jute.CreateTxn{Path: "/bench", ACL: jute.OpenACLUnsafe, ParentCVersion: -1})
	value := bytes.Repeat([]byte{'v'}, 100)
	rec := &jute.CreateTxn{Data: value, ACL: jute.OpenACLUnsafe, ParentCVersion: -1}
	hdr := &jute.TxnHeader{ClientID: 1, Time: 1, Type: jute.OpCreate, Zxid: 1}
	paths := make([]string, 1<<20)
	for i := range paths {
		paths[i] = "/bench/n" + pad(i, 7)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(paths) {
			b.StopTimer()
			tr = New()
			tr.Apply(&jute.TxnHeader{Zxid: 1, Type: jute.OpCreate}, &jute.CreateTxn{Path: "/bench", ACL: jute.OpenACLUnsafe, ParentCVersion: -1})
			i = 0
			b.StartTimer()
		}
		hdr.Zxid++
		rec.Path = paths[i]
		i++
		tr.Apply(hdr, rec)
	}
}

func BenchmarkApplySetData(b *testing.B) {
	tr := New()
	buildLoad(tr, 10_000, 100)
	value := bytes.Repeat([]byte{'w'}, 100)
	hdr := &jute.TxnHeader{ClientID: 1, Time: 1, Type: jute.OpSetData, Zxid: tr.LastZxid()}
	rec := &jute.SetDataTxn{Data: value}
	paths := make([]string, 10_000)
	for i := range paths {
		paths[i] = loadPath(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		hdr.Zxid++
		rec.Path = paths[i%len(paths)]
		rec.Version = int32(i)
		i++
		tr.Apply(hdr, rec)
	}
}

func BenchmarkGetData(b *testing.B) {
	tr := New()
	buildLoad(tr, 100_000, 100)
	paths := make([]string, 100_000)
	for i := range paths {
		paths[i] = loadPath(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := tr.GetData(paths[i%len(paths)], nil, nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGetDataParallel(b *testing.B) {
	tr := New()
	buildLoad(tr, 100_000, 100)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, _, err := tr.GetData(loadPath(i%100_000), nil, nil); err != nil {
				b.Fatal(err)
			}
			i += 7
		}
	})
}

func BenchmarkWriteSnapshot(b *testing.B) {
	tr := New()
	buildLoad(tr, 100_000, 100)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if _, err := tr.WriteSnapshot(&buf, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len())/1e5, "bytes/znode-on-disk")
}

func BenchmarkReadSnapshot(b *testing.B) {
	tr := New()
	buildLoad(tr, 100_000, 100)
	var buf bytes.Buffer
	tr.WriteSnapshot(&buf, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ReadSnapshot(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

// buildFlat creates n znodes of valueSize bytes under one parent,
// /zabkit-load/nNNNNNNNNNN, the layout the restart benchmark script loads.
func buildFlat(tr *Tree, n, valueSize int) {
	value := bytes.Repeat([]byte{'v'}, valueSize)
	zxid := tr.LastZxid()
	hdr := &jute.TxnHeader{ClientID: 1, Time: 1_700_000_000_000, Type: jute.OpCreate}
	zxid++
	hdr.Zxid = zxid
	tr.Apply(hdr, &jute.CreateTxn{Path: "/zabkit-load", ACL: jute.OpenACLUnsafe, ParentCVersion: -1})
	rec := &jute.CreateTxn{Data: value, ACL: jute.OpenACLUnsafe, ParentCVersion: -1}
	buf := []byte("/zabkit-load/n")
	for i := 0; i < n; i++ {
		zxid++
		hdr.Zxid = zxid
		rec.Path = string(append(buf, pad(i, 10)...))
		tr.Apply(hdr, rec)
	}
}

// flatSnapshot1M writes a snapshot of 1M flat znodes to a temp file and
// returns its path.
func flatSnapshot1M(b *testing.B) string {
	b.Helper()
	tr := New()
	buildFlat(tr, 1_000_000, 100)
	f, err := os.CreateTemp(b.TempDir(), "snap")
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	if _, err := tr.WriteSnapshot(bw, nil); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return f.Name()
}

// BenchmarkReadSnapshot1M loads a 1M-znode snapshot file (run with
// -bench ReadSnapshot1M -benchtime 3x).
func BenchmarkReadSnapshot1M(b *testing.B) {
	name := flatSnapshot1M(b)
	st, _ := os.Stat(name)
	b.SetBytes(st.Size())
	b.ResetTimer()
	for b.Loop() {
		f, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		tr, _, err := ReadSnapshot(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		runtime.KeepAlive(tr)
	}
}

// BenchmarkWriteSnapshot1M writes a 1M-znode tree to a file.
func BenchmarkWriteSnapshot1M(b *testing.B) {
	tr := New()
	buildFlat(tr, 1_000_000, 100)
	dir := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		f, err := os.Create(dir + "/snap")
		if err != nil {
			b.Fatal(err)
		}
		bw := bufio.NewWriterSize(f, 256<<10)
		if _, err := tr.WriteSnapshot(bw, nil); err != nil {
			b.Fatal(err)
		}
		if err := bw.Flush(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkMemoryFlat1M reports the live heap per znode for 1M flat
// znodes created by Apply, and for the same tree loaded from a snapshot.
func BenchmarkMemoryFlat1M(b *testing.B) {
	for b.Loop() {
		before := heapInUse()
		tr := New()
		buildFlat(tr, 1_000_000, 100)
		after := heapInUse()
		b.ReportMetric(float64(after-before)/1e6, "bytes/znode")
		var buf bytes.Buffer
		tr.WriteSnapshot(&buf, nil)
		tr = nil
		raw := bytes.NewReader(buf.Bytes())
		before = heapInUse()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		loaded, _, err := ReadSnapshot(raw)
		runtime.ReadMemStats(&ms1)
		if err != nil {
			b.Fatal(err)
		}
		after = heapInUse()
		runtime.KeepAlive(&buf)
		b.ReportMetric(float64(after-before)/1e6, "loaded-bytes/znode")
		b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/1e6, "load-alloc-bytes/znode")
		runtime.KeepAlive(loaded)
	}
}

// BenchmarkCreatePause1M creates 1M children of one parent and reports the
// slowest single Apply: a whole-table rehash under the write lock would
// show up here as tens of milliseconds.
func BenchmarkCreatePause1M(b *testing.B) {
	for b.Loop() {
		tr := New()
		tr.Apply(&jute.TxnHeader{Zxid: 1, Type: jute.OpCreate}, &jute.CreateTxn{Path: "/zabkit-load", ACL: jute.OpenACLUnsafe, ParentCVersion: -1})
		rec := &jute.CreateTxn{Data: bytes.Repeat([]byte{'v'}, 100), ACL: jute.OpenACLUnsafe, ParentCVersion: -1}
		hdr := &jute.TxnHeader{ClientID: 1, Time: 1, Type: jute.OpCreate, Zxid: 1}
		var worst time.Duration
		for i := 0; i < 1_000_000; i++ {
			hdr.Zxid++
			rec.Path = "/zabkit-load/n" + pad(i, 10)
			t0 := time.Now()
			tr.Apply(hdr, rec)
			worst = max(worst, time.Since(t0))
		}
		b.ReportMetric(float64(worst.Microseconds()), "worst-create-µs")
	}
}

// BenchmarkReadSyncSnapshot loads the SNAP payload of the tree
// BenchmarkReadSnapshot loads, fed as a transport delivers it: 64 KiB
// chunks into a chunkio.Reader from another goroutine.
func BenchmarkReadSyncSnapshot(b *testing.B) {
	tr := New()
	buildLoad(tr, 100_000, 100)
	var buf bytes.Buffer
	if err := tr.WriteSyncSnapshot(&buf, nil); err != nil {
		b.Fatal(err)
	}
	payload := buf.Bytes()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		r := chunkio.NewReader()
		go func() {
			for rest := payload; len(rest) > 0; {
				n := min(len(rest), 64<<10)
				r.Feed(rest[:n])
				rest = rest[n:]
			}
		}()
		if _, _, err := ReadSyncSnapshot(r); err != nil {
			b.Fatal(err)
		}
	}
}
