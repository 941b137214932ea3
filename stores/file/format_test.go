package file_test

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"os"
	"path/filepath"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/file"
)

// TestLogFormat checks the bytes of a log file against spec 7.2.
func TestLogFormat(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, file.Options{DataDir: dir, ForceSync: true})
	e1, e2 := storetest.Entry(0x100000001, 10), storetest.Entry(0x100000002, 0)
	storetest.MustAppend(t, s, e1, e2)
	p := logPath(dir, 0x100000001)
	if got := fileSize(t, p); got != 64<<20+16 {
		t.Fatalf("fresh log is %d bytes, want %d (64 MiB + 16, as ZooKeeper pre-allocates)", got, 64<<20+16)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:16]) != "ZKLG\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("file header = %q", b[:16])
	}
	off := 16
	for _, e := range []ext.Entry{e1, e2} {
		sum := binary.BigEndian.Uint64(b[off:])
		n := int(binary.BigEndian.Uint32(b[off+8:]))
		data := b[off+12 : off+12+n]
		if n != len(e.Data) || string(data) != string(e.Data) {
			t.Fatalf("record at %d holds %d bytes, want the entry's %d", off, n, len(e.Data))
		}
		if sum != uint64(adler32.Checksum(e.Data)) {
			t.Fatalf("record at %d: checksum %#x, want Adler32 of the entry bytes only %#x", off, sum, adler32.Checksum(e.Data))
		}
		if b[off+12+n] != 'B' {
			t.Fatalf("record at %d: end marker %q", off, b[off+12+n])
		}
		off += 12 + n + 1
	}
	for i := off; i < len(b); i++ {
		if b[i] != 0 {
			t.Fatalf("non-zero byte at %d in the pre-allocated space", i)
		}
	}
	// Rolling names the next file after its first zxid.
	s.RollLog()
	storetest.MustAppend(t, s, storetest.Entry(0x100000003, 5))
	if _, err := os.Stat(logPath(dir, 0x100000003)); err != nil {
		t.Fatalf("rolled log not named log.100000003: %v", err)
	}
	// Restarting rolls too (ZooKeeper starts a new log on restart).
	s.Close()
	s = mustOpen(t, file.Options{DataDir: dir, ForceSync: true})
	storetest.MustAppend(t, s, storetest.Entry(0x200000001, 5))
	if _, err := os.Stat(logPath(dir, 0x200000001)); err != nil {
		t.Fatalf("no new log after reopen: %v", err)
	}
	if c := s.Capabilities(); !c.Durable || c.Format != "zookeeper-3.8" {
		t.Fatalf("Capabilities = %+v", c)
	}
}

// TestPreallocGrowth follows ZooKeeper's padding rule with a small step:
// the file grows by one step whenever the write position comes within
// 4 KiB of its end; zabkit also applies the rule at the end of the batch,
// so that a batch never changes the file size.
func TestPreallocGrowth(t *testing.T) {
	dir := t.TempDir()
	const step = 8 << 10
	s := mustOpen(t, file.Options{DataDir: dir, ForceSync: true, PreAllocSizeKB: 8})
	p := logPath(dir, 1)
	pos, size := int64(16), int64(16)
	for z := int64(1); z <= 200; z++ {
		e := storetest.Entry(z, 100)
		// ZooKeeper pads before writing, based on the current position.
		if pos+4096 >= size {
			if pos > size {
				size = (pos + step) - (pos+step)%step
			} else {
				size += step
			}
		}
		storetest.MustAppend(t, s, e)
		pos += int64(13 + len(e.Data))
		if pos+4096 >= size {
			size += step
		}
		if got := fileSize(t, p); got != max(size, pos) {
			t.Fatalf("after zxid %d (position %d) the log is %d bytes, want %d", z, pos, got, max(size, pos))
		}
	}
	// Turning pre-allocation off leaves the file exactly as long as its records.
	dir = t.TempDir()
	s = mustOpen(t, file.Options{DataDir: dir, PreAllocSizeKB: -1})
	storetest.MustAppend(t, s, storetest.Entries(10, 1, 2)...)
	_, end := recordOffsets(storetest.Entries(10, 1, 2))
	if got := fileSize(t, logPath(dir, 1)); got != end {
		t.Fatalf("unpadded log is %d bytes, want %d", got, end)
	}
}

// TestEpochFiles checks ZooKeeper's epoch files: decimal, no newline, and
// the rule that the larger of zabkit.meta and the file wins (a Java server
// may have advanced the files).
func TestEpochFiles(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, file.Options{DataDir: dir})
	if err := s.SaveMeta(ext.Meta{CurrentEpoch: 12, AcceptedEpoch: 13, DBID: 4, LastVote: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	v2 := filepath.Join(dir, "version-2")
	for name, want := range map[string]string{"currentEpoch": "12", "acceptedEpoch": "13"} {
		b, err := os.ReadFile(filepath.Join(v2, name))
		if err != nil || string(b) != want {
			t.Fatalf("%s holds %q (%v), want %q", name, b, err, want)
		}
	}
	// A Java ZooKeeper ran and moved the epochs on.
	os.WriteFile(filepath.Join(v2, "acceptedEpoch"), []byte("20"), 0o644)
	os.WriteFile(filepath.Join(v2, "currentEpoch"), []byte("19"), 0o644)
	m, err := s.LoadMeta()
	if err != nil || m.CurrentEpoch != 19 || m.AcceptedEpoch != 20 || m.DBID != 4 || string(m.LastVote) != "v" {
		t.Fatalf("LoadMeta = %+v, %v", m, err)
	}
	// Only the epoch files (a plain ZooKeeper data dir): still read.
	os.Remove(filepath.Join(v2, "zabkit.meta"))
	m, err = s.LoadMeta()
	if err != nil || m.CurrentEpoch != 19 || m.AcceptedEpoch != 20 || m.DBID != 0 || m.LastVote != nil {
		t.Fatalf("LoadMeta without zabkit.meta = %+v, %v", m, err)
	}
	// A crash between writing zabkit.meta and the epoch files: the
	// higher (newer) value in zabkit.meta wins.
	s.SaveMeta(ext.Meta{CurrentEpoch: 30, AcceptedEpoch: 30})
	os.WriteFile(filepath.Join(v2, "currentEpoch"), []byte("19"), 0o644)
	if m, _ = s.LoadMeta(); m.CurrentEpoch != 30 {
		t.Fatalf("LoadMeta after a torn SaveMeta = %+v", m)
	}
	// Garbage in an epoch file is corruption, not "unknown".
	os.WriteFile(filepath.Join(v2, "currentEpoch"), []byte("x1"), 0o644)
	if _, err := s.LoadMeta(); err == nil {
		t.Fatal("LoadMeta accepted a garbage epoch file")
	}
}

// TestPurgeKeepsLogForSnapshot applies ZooKeeper's rule to files: the
// newest log starting at or before the purge zxid stays.
func TestPurgeKeepsLogForSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, file.Options{DataDir: dir, PreAllocSizeKB: 16})
	for _, zs := range [][]int64{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}} {
		storetest.MustAppend(t, s, storetest.Entries(10, zs...)...)
		s.RollLog()
	}
	if err := s.PurgeBefore(5); err != nil {
		t.Fatal(err)
	}
	for first, want := range map[int64]bool{1: false, 4: true, 7: true} {
		_, err := os.Stat(logPath(dir, first))
		if (err == nil) != want {
			t.Fatalf("log.%x exists=%v after PurgeBefore(5), want %v", first, err == nil, want)
		}
	}
	storetest.CheckLog(t, s, 3, storetest.Entries(10, 4, 5, 6, 7, 8, 9))
	snap, logs := s.Usage()
	if snap != 0 || logs != fileSize(t, logPath(dir, 4))+fileSize(t, logPath(dir, 7)) {
		t.Fatalf("Usage = %d, %d", snap, logs)
	}
}

func TestAppendRejectsBadEntries(t *testing.T) {
	s := mustOpen(t, file.Options{DataDir: t.TempDir()})
	good := storetest.Entry(2, 10)
	bad := []ext.Entry{
		{Zxid: 2, Data: good.Data[:31]},              // shorter than a TxnHeader
		{Zxid: 2, Data: storetest.Entry(3, 10).Data}, // header says 3
		{Zxid: 2, Data: make([]byte, 40)},            // header says 0
	}
	for _, e := range bad {
		if err := s.Append(context.Background(), []ext.Entry{storetest.Entry(1, 1), e}); !errors.Is(err, file.ErrBadEntry) {
			t.Fatalf("Append(%d bytes for zxid %d) = %v, want ErrBadEntry", len(e.Data), e.Zxid, err)
		}
	}
	storetest.CheckLog(t, s, 0, nil)
	storetest.MustAppend(t, s, storetest.Entry(1, 1), good)
}
