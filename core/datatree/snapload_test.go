package datatree

import (
	"bytes"
	"errors"
	"fmt"
	"hash/adler32"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// TestLoadAcrossChunks round-trips a tree bigger than several loader
// chunks, with nodes at several depths, records straddling chunk
// boundaries, and values big enough for the slow path (larger than the
// in-place limit) at chunk edges.
func TestLoadAcrossChunks(t *testing.T) {
	a := bigTree(t)
	b := writeSnap(t, a.tree, map[int64]int32{77: 3000})
	if len(b) < 4*loadChunk {
		t.Fatalf("snapshot only %d bytes; the test needs several chunks", len(b))
	}
	checkLoaded(t, mustRead(t, b), a)
}

// bigTree builds a tree whose snapshot spans several loader chunks, with
// an ephemeral of session 77.
func bigTree(t *testing.T) *applier {
	a := newApplier(t)
	val := strings.Repeat("x", 300)
	for i := 0; i < 40; i++ {
		a.mustCreate(fmt.Sprintf("/d%02d", i), "")
		for j := 0; j < 300; j++ {
			p := fmt.Sprintf("/d%02d/n%04d", i, j)
			a.mustCreate(p, val[:j%300])
			if j%100 == 7 {
				a.mustCreate(p+"/deep", "d")
				a.mustCreate(p+"/deep/er", "e")
			}
		}
		if i%13 == 5 {
			a.mustCreate(fmt.Sprintf("/d%02d/big", i), strings.Repeat("B", loadBigField+1+i))
		}
	}
	a.create("/d00/eph", "e", jute.FlagEphemeral, 77)
	return a
}

// snapFile hand-encodes a snapshot whose node section is recs, in order.
type snapRec struct {
	path string
	data []byte
}

func snapFile(recs []snapRec) []byte {
	w := jute.NewWriter(nil)
	hdr := jute.FileHeader{Magic: jute.SnapshotMagic, Version: snapVersion, DBID: snapDBID}
	hdr.Encode(w)
	w.WriteInt(0) // sessions
	w.WriteInt(1) // ACLs
	w.WriteLong(1)
	jute.WriteACLs(w, jute.OpenACLUnsafe)
	for i, r := range recs {
		w.WriteString(r.path)
		w.WriteBuffer(r.data)
		w.WriteLong(1)
		z := int64(i + 1)
		(&jute.StatPersisted{Czxid: z, Mzxid: z, Pzxid: z, Ctime: 5, Mtime: 5}).Encode(w)
	}
	w.WriteString("/")
	sum := adler32.Checksum(w.Bytes())
	w.WriteLong(int64(sum))
	w.WriteString("/")
	return w.Bytes()
}

// TestLoadOutOfPreOrder: a node whose parent's subtree ended earlier still
// loads (the builder falls back to path lookups), as the old reader
// allowed.
func TestLoadOutOfPreOrder(t *testing.T) {
	recs := []snapRec{
		{"", nil}, {"/a", []byte("a")}, {"/a/x", []byte("x")}, {"/b", nil},
		{"/b/y", []byte("y")}, {"/a/z", []byte("z")}, {"/a/z/q", []byte("q")}, {"/b/w", nil}, {"/c", nil},
	}
	tr, _, err := ReadSnapshot(bytes.NewReader(snapFile(recs)))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[1:] {
		d, _, err := tr.GetData(r.path, nil, nil)
		if err != nil || !bytes.Equal(d, r.data) {
			t.Fatalf("%s: %q %v", r.path, d, err)
		}
	}
	if n, _ := tr.AllChildrenNumber("/", nil); n != int32(len(recs)-1) {
		t.Fatalf("%d nodes", n)
	}
	checkInvariants(t, tr)
}

func TestLoadRejectsBadPaths(t *testing.T) {
	for name, recs := range map[string][]snapRec{
		"dup sibling":       {{"", nil}, {"/a", nil}, {"/a/x", nil}, {"/a/x", nil}},
		"dup after subtree": {{"", nil}, {"/a", nil}, {"/a/x", nil}, {"/a/x/y", nil}, {"/b", nil}, {"/a/x", nil}},
		"orphan":            {{"", nil}, {"/a", nil}, {"/b/x", nil}},
		"before root":       {{"/a", nil}, {"", nil}},
		"two roots":         {{"", nil}, {"", nil}},
		"empty component":   {{"", nil}, {"/a", nil}, {"/a//x", nil}},
		"double slash":      {{"", nil}, {"//a", nil}},
		"trailing slash":    {{"", nil}, {"/a/", nil}},
		"relative":          {{"", nil}, {"a", nil}},
		"no root":           {},
	} {
		_, _, err := ReadSnapshot(bytes.NewReader(snapFile(recs)))
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}
