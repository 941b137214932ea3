package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/file"
)

// writeLog makes a data dir holding one log with the given entries, written
// as one batch per entry, and returns the log's path. A small
// pre-allocation keeps the file copies in these tests cheap.
func writeLog(t *testing.T, dir string, entries []ext.Entry) string {
	t.Helper()
	s := mustOpen(t, file.Options{DataDir: dir, ForceSync: false, PreAllocSizeKB: 16})
	for _, e := range entries {
		storetest.MustAppend(t, s, e)
	}
	s.Close()
	return logPath(dir, entries[0].Zxid)
}

// TestTornTailEveryOffset cuts the last entry at every byte offset, both by
// shortening the file and by zeroing the rest of the record inside the
// pre-allocated space (how a torn write looks after a crash), and by
// leaving garbage; Open must recover exactly the entries before it.
func TestTornTailEveryOffset(t *testing.T) {
	entries := []ext.Entry{storetest.Entry(1, 10), storetest.Entry(2, 40), storetest.Entry(3, 60)}
	src := writeLog(t, t.TempDir(), entries)
	starts, end := recordOffsets(entries)
	last := starts[2]
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"truncate", "zero", "garbage"} {
		for cut := last; cut < end; cut++ {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "version-2"), 0o755)
			p := logPath(dir, 1)
			b := append([]byte(nil), orig...)
			switch mode {
			case "truncate":
				b = b[:cut]
			case "zero":
				clear(b[cut:end])
			case "garbage":
				for i := cut; i < end; i++ {
					b[i] = byte(i*7 + 1)
				}
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := file.Open(file.Options{DataDir: dir, Logger: quietLogger()})
			if err != nil {
				t.Fatalf("%s at %d: Open: %v", mode, cut, err)
			}
			if s.LastZxid() != 2 {
				t.Fatalf("%s at %d: LastZxid = %d, want 2", mode, cut, s.LastZxid())
			}
			storetest.CheckLog(t, s, 0, entries[:2])
			// The torn bytes are physically gone (a zeroed tail is
			// padding and may stay).
			if size := fileSize(t, p); mode != "zero" && cut > last && size != last {
				t.Fatalf("%s at %d: file is %d bytes after recovery, want %d", mode, cut, size, last)
			}
			// The log continues, and a second recovery is clean.
			e3 := storetest.Entry(3, 5)
			storetest.MustAppend(t, s, e3)
			s.Close()
			s = mustOpen(t, file.Options{DataDir: dir})
			storetest.CheckLog(t, s, 0, []ext.Entry{entries[0], entries[1], e3})
			s.Close()
		}
	}
}

func TestCorruptionInTheMiddle(t *testing.T) {
	entries := storetest.Entries(30, 1, 2, 3, 4)
	starts, _ := recordOffsets(entries)
	cases := []struct {
		name string
		off  int64 // byte to damage
	}{
		{"data", starts[1] + 12 + 20},
		{"checksum", starts[1] + 5},
		{"marker", starts[2] - 1},
		{"length", starts[1] + 10},
		{"zeroed header", -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeLog(t, dir, entries)
			b, _ := os.ReadFile(p)
			if tc.off < 0 {
				clear(b[starts[1] : starts[1]+12]) // looks like padding
			} else {
				b[tc.off] ^= 0x40
			}
			os.WriteFile(p, b, 0o644)
			_, err := file.Open(file.Options{DataDir: dir, Logger: quietLogger()})
			var ce *file.CorruptError
			if !errors.Is(err, ext.ErrCorrupt) || !errors.As(err, &ce) {
				t.Fatalf("Open = %v, want a CorruptError", err)
			}
			if ce.File != p || ce.Offset != starts[1] {
				t.Fatalf("CorruptError names %s at %d, want %s at %d", ce.File, ce.Offset, p, starts[1])
			}
			if msg := err.Error(); !strings.Contains(msg, p) || !strings.Contains(msg, fmt.Sprint(starts[1])) {
				t.Fatalf("error %q does not name the file and offset", msg)
			}
			// The file is untouched by the failed Open.
			if after, _ := os.ReadFile(p); string(after) != string(b) {
				t.Fatal("a failed Open modified the log")
			}
			// RecoverCorrupt cuts the log at the damage.
			s := mustOpen(t, file.Options{DataDir: dir, RecoverCorrupt: true})
			storetest.CheckLog(t, s, 0, entries[:1])
			storetest.MustAppend(t, s, storetest.Entry(2, 9))
			s.Close()
			s = mustOpen(t, file.Options{DataDir: dir})
			storetest.CheckLog(t, s, 0, []ext.Entry{entries[0], storetest.Entry(2, 9)})
		})
	}
}

// Damage in an older log file (not the last) is corruption even at its
// end: later files prove the writer moved on.
func TestCorruptionInOlderFile(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, file.Options{DataDir: dir, PreAllocSizeKB: 16})
	storetest.MustAppend(t, s, storetest.Entries(30, 1, 2, 3)...)
	s.RollLog()
	storetest.MustAppend(t, s, storetest.Entries(30, 4, 5)...)
	s.Close()
	p := logPath(dir, 1)
	b, _ := os.ReadFile(p)
	starts, _ := recordOffsets(storetest.Entries(30, 1, 2, 3))
	b[starts[1]+40] ^= 1
	os.WriteFile(p, b, 0o644)
	_, err := file.Open(file.Options{DataDir: dir, Logger: quietLogger()})
	var ce *file.CorruptError
	if !errors.As(err, &ce) || ce.File != p || ce.Offset != starts[1] {
		t.Fatalf("Open = %v, want CorruptError in %s at %d", err, p, starts[1])
	}
	s = mustOpen(t, file.Options{DataDir: dir, RecoverCorrupt: true})
	storetest.CheckLog(t, s, 0, storetest.Entries(30, 1))
	if _, err := os.Stat(logPath(dir, 4)); !os.IsNotExist(err) {
		t.Fatalf("log.4 survived a cut before it: %v", err)
	}
}

// A last log whose header was torn (a crash right after creating it) holds
// nothing and is removed; the previous file provides LastZxid.
func TestTornHeader(t *testing.T) {
	for _, n := range []int{0, 5, 15, 16} {
		dir := t.TempDir()
		s := mustOpen(t, file.Options{DataDir: dir, PreAllocSizeKB: 16})
		storetest.MustAppend(t, s, storetest.Entries(30, 1, 2)...)
		s.Close()
		p := logPath(dir, 3)
		hdr := []byte("ZKLG\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00")
		os.WriteFile(p, hdr[:n], 0o644)
		s = mustOpen(t, file.Options{DataDir: dir})
		if s.LastZxid() != 2 {
			t.Fatalf("header cut at %d: LastZxid = %d", n, s.LastZxid())
		}
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("header cut at %d: empty log not removed", n)
		}
		storetest.MustAppend(t, s, storetest.Entries(30, 3)...)
		storetest.CheckLog(t, s, 0, storetest.Entries(30, 1, 2, 3))
	}
	// A bad header followed by valid records is corruption, not a tear.
	dir := t.TempDir()
	p := writeLog(t, dir, storetest.Entries(30, 1, 2))
	b, _ := os.ReadFile(p)
	b[1] = 'X'
	os.WriteFile(p, b, 0o644)
	if _, err := file.Open(file.Options{DataDir: dir, Logger: quietLogger()}); !errors.Is(err, ext.ErrCorrupt) {
		t.Fatalf("Open with a damaged header over valid records = %v, want ErrCorrupt", err)
	}
}

// Recovery reads the logs from the newest snapshot on; damage in an older
// log is reported when a ReadLog reaches it.
func TestCorruptionBeforeSnapshotFoundByReadLog(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, file.Options{DataDir: dir, PreAllocSizeKB: 16})
	storetest.MustAppend(t, s, storetest.Entries(30, 1, 2, 3)...)
	s.RollLog()
	storetest.MustAppend(t, s, storetest.Entries(30, 4, 5)...)
	w, _ := s.CreateSnapshot(4)
	w.Write([]byte("snap"))
	w.Commit()
	s.Close()
	p := logPath(dir, 1)
	b, _ := os.ReadFile(p)
	b[16+20] ^= 1
	os.WriteFile(p, b, 0o644)
	s = mustOpen(t, file.Options{DataDir: dir})
	storetest.CheckLog(t, s, 4, storetest.Entries(30, 5))
	err := s.ReadLog(context.Background(), 0, func(ext.Entry) error { return nil })
	var ce *file.CorruptError
	if !errors.As(err, &ce) || ce.File != p || ce.Offset != 16 {
		t.Fatalf("ReadLog(0) = %v, want CorruptError in %s at 16", err, p)
	}
}
