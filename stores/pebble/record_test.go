package pebble

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
)

// readRecord decodes a whole record.
func readRecord(key, value []byte) ([]ext.Entry, record, error) {
	r, err := openRecord(key, value)
	if err != nil {
		return nil, r, err
	}
	hdr := r
	var out []ext.Entry
	for {
		e, more, err := r.next()
		if err != nil || !more {
			return out, hdr, err
		}
		out = append(out, e)
	}
}

// sampleEntries crosses an epoch and a snapshot gap, and has an empty and
// a large entry.
func sampleEntries() []ext.Entry {
	return []ext.Entry{
		{Zxid: 1<<32 | 7, Data: []byte("a")},
		{Zxid: 1<<32 | 8, Data: nil},
		{Zxid: 2<<32 | 1, Data: bytes.Repeat([]byte{0xab}, 300)},
		{Zxid: 2<<32 | 500, Data: []byte("after a snapshot")},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	in := sampleEntries()
	n, size := nextRecord(in)
	v := appendRecord([]byte("prefix"), in)[len("prefix"):]
	if n != len(in) || size != len(v) {
		t.Fatalf("nextRecord = %d entries, %d bytes; appendRecord wrote %d entries in %d", n, size, len(in), len(v))
	}
	out, hdr, err := readRecord(appendLogKey(nil, in[0].Zxid), v)
	if err != nil {
		t.Fatal(err)
	}
	if hdr.first != in[0].Zxid || hdr.last != in[3].Zxid || len(out) != len(in) {
		t.Fatalf("header %#x..%#x, %d entries", hdr.first, hdr.last, len(out))
	}
	for i := range in {
		if out[i].Zxid != in[i].Zxid || !bytes.Equal(out[i].Data, in[i].Data) {
			t.Fatalf("entry %d = %#x %q, want %#x %q", i, out[i].Zxid, out[i].Data, in[i].Zxid, in[i].Data)
		}
	}
}

// A group commit over maxRecordBytes is split: every record but the last
// is full, none exceeds the cap unless one entry alone does.
func TestRecordSplit(t *testing.T) {
	var in []ext.Entry
	for z := int64(1); z <= 300; z++ {
		in = append(in, ext.Entry{Zxid: z, Data: make([]byte, 10_000)})
	}
	in = append(in, ext.Entry{Zxid: 301, Data: make([]byte, 3*maxRecordBytes)})
	var sizes, counts []int
	for rest := in; len(rest) > 0; {
		n, size := nextRecord(rest)
		sizes, counts = append(sizes, size), append(counts, n)
		rest = rest[n:]
	}
	if len(counts) != 4 || counts[0] != 104 || counts[3] != 1 || sizes[3] < 3*maxRecordBytes {
		t.Fatalf("records of %v entries, %v bytes", counts, sizes)
	}
	for _, s := range sizes[:3] {
		if s > maxRecordBytes+20 {
			t.Fatalf("a record of %d bytes", s)
		}
	}
}

// Every damaged record is ErrCorrupt, whether the header or an entry is
// wrong, and wherever the value is cut short.
func TestRecordCorrupt(t *testing.T) {
	in := sampleEntries()
	key := appendLogKey(nil, in[0].Zxid)
	good := appendRecord(nil, in)
	span := uint64(in[3].Zxid - in[0].Zxid)
	body := good[uvarintLen(4)+uvarintLen(span):]
	withHeader := func(count, span uint64) []byte {
		return append(binary.AppendUvarint(binary.AppendUvarint(nil, count), span), body...)
	}
	bad := map[string][]byte{
		"empty":          {},
		"no entries":     {0, 0},
		"trailing bytes": append(bytes.Clone(good), 0),
		"count too high": withHeader(5, span),
		"count too low":  withHeader(3, span),
		"last too high":  withHeader(4, span+1),
		"last too low":   withHeader(4, span-1),
		"repeated zxid":  appendRecord(nil, []ext.Entry{in[0], in[0]}),
	}
	for cut := range good {
		bad[fmt.Sprintf("cut at %d", cut)] = good[:cut]
	}
	for name, v := range bad {
		if _, _, err := readRecord(key, v); !errors.Is(err, ext.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if _, _, err := readRecord([]byte("log/123"), good); !errors.Is(err, ext.ErrCorrupt) {
		t.Errorf("short key: %v, want ErrCorrupt", err)
	}
}

// FuzzRecord: decoding any value terminates without panicking, and what
// it accepts is a valid record: increasing zxids from the key's to the
// header's last, exactly as many as the header counts.
func FuzzRecord(f *testing.F) {
	f.Add(int64(1<<32|7), appendRecord(nil, sampleEntries()))
	f.Add(int64(1), appendRecord(nil, []ext.Entry{{Zxid: 1}}))
	f.Add(int64(1), []byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, first int64, v []byte) {
		out, hdr, err := readRecord(appendLogKey(nil, first), v)
		if err != nil {
			if !errors.Is(err, ext.ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if len(out) == 0 || out[0].Zxid != first || out[len(out)-1].Zxid != hdr.last {
			t.Fatalf("accepted %d entries from %#x, header %#x..%#x", len(out), first, hdr.first, hdr.last)
		}
		for i := 1; i < len(out); i++ {
			if out[i].Zxid <= out[i-1].Zxid {
				t.Fatalf("accepted zxid %#x after %#x", out[i].Zxid, out[i-1].Zxid)
			}
		}
	})
}
