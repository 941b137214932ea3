package tcp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/zabkit/zabkit/core/ext/transporttest"
	"github.com/zabkit/zabkit/core/proto/jute"
)

// The spec's capture: the initiator's message for 127.0.0.1:33882 is 35
// bytes (long version, long sid, int length, 15 ASCII bytes).
func TestHandshakeCapturedSize(t *testing.T) {
	b := appendHandshake(nil, 2, "127.0.0.1:33882")
	if len(b) != 35 {
		t.Fatalf("handshake is %d bytes, want 35", len(b))
	}
	r := jute.NewReader(b)
	if v, sid, n := r.ReadLong(), r.ReadLong(), r.ReadInt(); v != -65536 || sid != 2 || n != 15 || string(r.Rest()) != "127.0.0.1:33882" {
		t.Fatalf("handshake fields: version %d sid %d n %d addr %q", v, sid, n, r.Rest())
	}
	sid, addr, err := readHandshake(bytes.NewReader(b))
	if err != nil || sid != 2 || addr != "127.0.0.1:33882" {
		t.Fatalf("readHandshake = %d %q %v", sid, addr, err)
	}
}

func longs(vs ...int64) []byte {
	w := jute.NewWriter(nil)
	for _, v := range vs {
		w.WriteLong(v)
	}
	return w.Bytes()
}

func TestReadHandshakeRules(t *testing.T) {
	v2 := append(longs(-65535, 7), 0, 0, 0, 3, 'a', ':', '1')
	for _, c := range []struct {
		name string
		in   []byte
		sid  int64
		ok   bool
	}{
		{"pre-3.5 bare sid", longs(5), 5, true},
		{"V2 address list", v2, 7, true},
		{"unknown version", longs(-3, 1), 0, false},
		{"zero address length", append(longs(-65536, 1), 0, 0, 0, 0), 0, false},
		{"address over 2048", append(longs(-65536, 1), 0, 0, 8, 1), 0, false},
		{"truncated address", append(longs(-65536, 1), 0, 0, 0, 9, 'x'), 0, false},
		{"truncated sid", longs(-65536)[:8], 0, false},
	} {
		sid, _, err := readHandshake(bytes.NewReader(c.in))
		if (err == nil) != c.ok || (c.ok && sid != c.sid) {
			t.Errorf("%s: sid %d err %v", c.name, sid, err)
		}
	}
}

func TestReadPacket(t *testing.T) {
	req := jute.Marshal(&jute.QuorumPacket{Type: 1, Zxid: -1, Data: []byte("body"),
		AuthInfo: []jute.Id{{Scheme: "digest", ID: "u:p"}, {Scheme: "ip", ID: "127.0.0.1"}}})
	ping := transporttest.Ping(9, 0)
	br := bufio.NewReader(bytes.NewReader(append(append([]byte(nil), req...), ping...)))
	for _, want := range [][]byte{req, ping} {
		got, _, err := readPacket(br, 100)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("readPacket = %x, %v; want %x", got, err, want)
		}
	}
	if _, _, err := readPacket(br, 100); !errors.Is(err, io.EOF) {
		t.Fatalf("at end: %v, want EOF", err)
	}

	bad := func(typ int32, dlen int32, tail ...byte) []byte {
		w := jute.NewWriter(nil)
		w.WriteInt(typ)
		w.WriteLong(0)
		w.WriteInt(dlen)
		w.WriteRaw(tail)
		return w.Bytes()
	}
	for name, in := range map[string][]byte{
		"negative data length": bad(5, -2),
		"data over the limit":  bad(5, 101),
		"negative id count":    bad(5, -1, 0xff, 0xff, 0xff, 0xfe),
		"oversize id string":   bad(5, -1, 0, 0, 0, 1, 0, 0, 1, 0),
	} {
		if _, _, err := readPacket(bufio.NewReader(bytes.NewReader(in)), 100); !errors.Is(err, errStream) {
			t.Errorf("%s: %v, want errStream", name, err)
		}
	}
	if _, _, err := readPacket(bufio.NewReader(bytes.NewReader(req[:len(req)-3])), 100); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: %v, want ErrUnexpectedEOF", err)
	}
}

// scan runs the scanner over in and returns the chunks and bytes consumed.
func scan(in []byte, chunk int) ([][]byte, int64, *bufio.Reader, error) {
	br := bufio.NewReaderSize(bytes.NewReader(in), 16)
	var chunks [][]byte
	n, err := scanSnapshot(br, 1<<20, chunk, func(b []byte) { chunks = append(chunks, b) })
	return chunks, n, br, err
}

func TestScanSnapshot(t *testing.T) {
	stream := transporttest.SnapStream(4, 200, 5000)
	next := transporttest.Packet(10, 1<<32, nil)
	in := append(append([]byte(nil), stream...), next...)
	for _, chunk := range []int{minBulkChunk, 1000, 64 << 10} {
		chunks, n, br, err := scan(in, chunk)
		if err != nil || n != int64(len(stream)) {
			t.Fatalf("chunk %d: consumed %d of %d: %v", chunk, n, len(stream), err)
		}
		for _, c := range chunks {
			if len(c) == 0 || len(c) > chunk {
				t.Fatalf("chunk %d: a chunk of %d bytes", chunk, len(c))
			}
		}
		if !bytes.Equal(bytes.Join(chunks, nil), stream) {
			t.Fatalf("chunk %d: chunks differ from the stream", chunk)
		}
		pkt, typ, err := readPacket(br, 100)
		if err != nil || typ != 10 || !bytes.Equal(pkt, next) {
			t.Fatalf("packet after the snapshot: type %d %v", typ, err)
		}
	}
}

func TestScanSnapshotRejects(t *testing.T) {
	good := transporttest.SnapStream(5, 3, 10)
	sig := len(good) - 14
	w := jute.NewWriter(nil)
	w.WriteInt(0)
	w.WriteInt(0)
	w.WriteInt(-1) // null path
	nullPath := w.Bytes()
	for name, in := range map[string][]byte{
		"negative session count": {0xff, 0xff, 0xff, 0xfe},
		"negative acl count":     {0, 0, 0, 0, 0x80, 0, 0, 0},
		"null path":              nullPath,
		"wrong signature":        append(append([]byte(nil), good[:sig]...), 0, 0, 0, 10, 'B', 'e', 'n', 'W', 'a', 's', 'T', 'h', 'e', 'r'),
	} {
		if _, _, _, err := scan(in, 1000); !errors.Is(err, errStream) {
			t.Errorf("%s: %v, want errStream", name, err)
		}
	}
	if _, _, _, err := scan(good[:len(good)-1], 1000); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: %v, want ErrUnexpectedEOF", err)
	}
}

// FuzzScanSnapshot: whatever the input, the scanner never passes on a
// byte it did not consume, never cuts a chunk larger than asked, and an
// accepted prefix is exactly a snapshot stream (its strict prefixes fail).
func FuzzScanSnapshot(f *testing.F) {
	f.Add(transporttest.SnapStream(1, 5, 40))
	f.Add(transporttest.SnapStream(2, 1, 3000))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, '/', 0, 0, 0, 10, 'B', 'e', 'n', 'W', 'a', 's', 'H', 'e', 'r', 'e'})
	f.Fuzz(func(t *testing.T, in []byte) {
		chunks, n, _, err := scan(in, minBulkChunk)
		got := bytes.Join(chunks, nil)
		if int64(len(got)) != n || n > int64(len(in)) || !bytes.Equal(got, in[:n]) {
			t.Fatalf("passed on %d bytes, consumed %d, input %d", len(got), n, len(in))
		}
		for _, c := range chunks {
			if len(c) > minBulkChunk {
				t.Fatalf("chunk of %d bytes", len(c))
			}
		}
		if err != nil {
			if !errors.Is(err, errStream) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if _, _, _, err := scan(in[:n-1], minBulkChunk); err == nil {
			t.Fatalf("a strict prefix of an accepted stream was accepted")
		}
	})
}
