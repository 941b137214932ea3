package file_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/file"
)

// scanAll runs a LogScanner over b and returns what it found.
func scanAll(t testing.TB, b []byte) []file.LogItem {
	t.Helper()
	s := file.NewLogScanner(bytes.NewReader(b), int64(len(b)))
	var out []file.LogItem
	for i := 0; ; i++ {
		if i > len(b)+2 {
			t.Fatal("scanner does not advance")
		}
		it, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		it.Data = nil
		out = append(out, it)
	}
}

// writtenLog appends entries through the store and returns the log file.
func writtenLog(t *testing.T, entries []ext.Entry) []byte {
	t.Helper()
	dir := t.TempDir()
	s := mustOpen(t, file.Options{DataDir: dir, PreAllocSizeKB: 64})
	if err := s.Append(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, err := os.ReadFile(logPath(dir, entries[0].Zxid))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLogScannerReportsDamageAndCarriesOn(t *testing.T) {
	entries := []ext.Entry{storetest.Entry(1, 10), storetest.Entry(2, 10), storetest.Entry(3, 10)}
	starts, end := recordOffsets(entries)
	clean := writtenLog(t, entries)

	items := scanAll(t, clean)
	if len(items) != 4 || items[3].Kind != file.LogEnd || !items[3].Padding || items[3].Offset != end {
		t.Fatalf("clean log: %+v", items)
	}
	for i, it := range items[:3] {
		if it.Kind != file.LogRecord || it.Zxid != int64(i+1) || it.Offset != starts[i] {
			t.Fatalf("record %d: %+v", i, it)
		}
	}
	if h, ok := file.NewLogScanner(bytes.NewReader(clean), int64(len(clean))).Header(); !ok || h.Version != 2 || h.DBID != 0 {
		t.Fatalf("header %+v ok=%v", h, ok)
	}

	// A flipped byte in the middle record: reported at its offset, and
	// the scan resumes at the record after it.
	mid := bytes.Clone(clean)
	mid[starts[1]+20] ^= 0x40
	items = scanAll(t, mid)
	if len(items) != 4 || items[1].Kind != file.LogBad || items[1].Offset != starts[1] ||
		items[1].Reason != "checksum mismatch" || items[1].Resume != starts[2] || items[2].Zxid != 3 {
		t.Fatalf("flipped byte: %+v", items)
	}

	// A torn tail: the last record is cut short and nothing follows.
	torn := clean[:starts[2]+15]
	items = scanAll(t, torn)
	if len(items) != 3 || items[2].Kind != file.LogBad || items[2].Offset != starts[2] || items[2].Resume != -1 {
		t.Fatalf("torn tail: %+v", items)
	}

	// A damaged header is reported once; the records still follow.
	hdr := bytes.Clone(clean)
	hdr[0] = 'X'
	s := file.NewLogScanner(bytes.NewReader(hdr), int64(len(hdr)))
	if _, ok := s.Header(); ok {
		t.Fatal("bad magic accepted")
	}
	items = scanAll(t, hdr)
	if len(items) != 5 || items[0].Kind != file.LogBad || items[0].Resume != starts[0] || items[3].Zxid != 3 {
		t.Fatalf("bad header: %+v", items)
	}

	if items := scanAll(t, nil); len(items) != 1 || items[0].Kind != file.LogBad || items[0].Resume != -1 {
		t.Fatalf("empty file: %+v", items)
	}
}

func TestParseNameAndDirs(t *testing.T) {
	if z, ok := file.ParseName("log.100000001", file.LogPrefix); !ok || z != 0x100000001 {
		t.Fatalf("log name: %#x %v", z, ok)
	}
	if _, ok := file.ParseName("snapshot.5.gz", file.SnapshotPrefix); ok {
		t.Fatal("compressed snapshot parsed")
	}
	snap, log := file.Dirs("/d", "")
	if snap != "/d/version-2" || log != "/d/version-2" {
		t.Fatalf("dirs %s %s", snap, log)
	}
}

// FuzzLogScanner feeds arbitrary bytes to the scanner: it must not panic,
// must advance, and must only return records it verified.
func FuzzLogScanner(f *testing.F) {
	img := []byte("ZKLG\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00")
	f.Add(img)
	f.Add(img[:10])
	f.Add(append(bytes.Clone(img), 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, b []byte) {
		items := scanAll(t, b)
		if len(items) == 0 {
			t.Fatal("no items")
		}
		last := int64(-1)
		for _, it := range items {
			if it.Offset < last {
				t.Fatalf("offsets go backwards: %+v", items)
			}
			last = it.Offset
		}
	})
}
