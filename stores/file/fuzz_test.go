package file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
)

// fuzzLog builds a log image with n small valid records.
func fuzzLog(n int) []byte {
	b := appendFileHeader(nil)
	for z := 1; z <= n; z++ {
		data := make([]byte, 40)
		binary.BigEndian.PutUint64(data[zxidOffset:], uint64(z))
		b = appendEntry(b, data)
	}
	return b
}

// FuzzEntryReader feeds arbitrary bytes to the log decoder and the
// resynchronising scanner: they must never panic, never return a record
// whose checksum does not verify, and never loop.
func FuzzEntryReader(f *testing.F) {
	f.Add(fuzzLog(3))
	f.Add(fuzzLog(1)[:30])
	f.Add(append(fuzzLog(2), make([]byte, 100)...))
	bad := fuzzLog(3)
	bad[40] ^= 1
	f.Add(bad)
	f.Add([]byte{})
	f.Add([]byte("ZKLG\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		start := int64(min(len(b), fileHeaderSize))
		er := newEntryReader(r, start, int64(len(b)), nil)
		for i := 0; ; i++ {
			if i > len(b) {
				t.Fatal("decoder does not advance")
			}
			_, data, st, _, err := er.next()
			if err != nil {
				t.Fatalf("read error on an in-memory image: %v", err)
			}
			if st != stopNone {
				break
			}
			if len(data) < 32 {
				t.Fatalf("returned a %d-byte record", len(data))
			}
			sum := binary.BigEndian.Uint64(b[er.rec:])
			if uint64(adler32.Checksum(data)) != sum {
				t.Fatal("returned a record whose checksum does not verify")
			}
		}
		if off, found, err := findValidEntry(r, 0, int64(len(b)), -1<<63); err != nil {
			t.Fatal(err)
		} else if found && (off < 0 || off >= int64(len(b))) {
			t.Fatalf("found a record at %d outside the image", off)
		}
	})
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta(ext.Meta{CurrentEpoch: 3, AcceptedEpoch: 4, LastVote: []byte("vote"), DBID: 9}))
	f.Add(encodeMeta(ext.Meta{CurrentEpoch: -1, AcceptedEpoch: -1}))
	f.Add([]byte("ZBKM"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			if !errors.Is(err, ext.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(encodeMeta(m), b) {
			t.Fatal("accepted bytes that do not re-encode identically")
		}
	})
}

func FuzzParseEpoch(f *testing.F) {
	for _, s := range []string{"0", "1", "-1", "9223372036854775807", "12\n", "", "x", "1 2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := parseEpoch(b)
		if err != nil && !errors.Is(err, ext.ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if err == nil {
			s := strings.TrimRight(string(b), "\r\n")
			s = strings.TrimLeft(s, "+-")
			if s == "" || strings.Trim(s, "0123456789") != "" {
				t.Fatalf("accepted %q, which is not a decimal long", b)
			}
		}
	})
}

func TestParseName(t *testing.T) {
	cases := []struct {
		name string
		z    int64
		ok   bool
	}{
		{"log.1", 1, true},
		{"log.100000001", 0x100000001, true},
		{"log.7fffffffffffffff", 1<<63 - 1, true},
		{"log.8000000000000000", 0, false},
		{"log.", 0, false},
		{"log.1.tmp", 0, false},
		{"log.-1", 0, false},
		{"log.+1", 0, false},
		{"log.xyz", 0, false},
		{"snapshot.1", 0, false},
	}
	for _, c := range cases {
		z, ok := parseName(c.name, logPrefix)
		if z != c.z || ok != c.ok {
			t.Errorf("parseName(%q) = %#x, %v; want %#x, %v", c.name, z, ok, c.z, c.ok)
		}
	}
	if hexName(snapPrefix, 0x100000004) != "snapshot.100000004" || hexName(logPrefix, 0) != "log.0" {
		t.Fatal("hexName does not match ZooKeeper's naming")
	}
}

func TestNextPrealloc(t *testing.T) {
	const step = 64 << 20
	cases := []struct{ pos, size, want int64 }{
		{16, 16, step + 16}, // a fresh log: exactly 64 MiB + 16 bytes
		{1000, step + 16, step + 16},
		{step + 16 - 4096, step + 16, 2*step + 16},
		{step + 16 - 4097, step + 16, step + 16},
		{3 * step, step, 4 * step}, // past the end: next step boundary
	}
	for _, c := range cases {
		if got := nextPrealloc(c.pos, c.size, step); got != c.want {
			t.Errorf("nextPrealloc(%d, %d) = %d, want %d", c.pos, c.size, got, c.want)
		}
	}
	if got := nextPrealloc(16, 16, 0); got != 16 {
		t.Errorf("pre-allocation off grew the file to %d", got)
	}
}
