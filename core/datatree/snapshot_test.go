package datatree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// populate builds a tree with every kind of node and some churn.
func populate(t testing.TB) *applier {
	a := newApplier(t)
	a.mustCreate("/app", "config-bytes")
	a.mustCreate("/app/q", "")
	for i := 0; i < 5; i++ {
		a.create("/app/q/", fmt.Sprintf("item%d", i), jute.FlagPersistentSequential, 0)
	}
	a.del("/app/q/0000000001")
	a.create("/app/lock", "", jute.FlagEphemeral, 0x1234)
	a.apply(jute.OpCreateContainer, 0, &jute.CreateContainerTxn{Path: "/app/c", ACL: jute.OpenACLUnsafe, ParentCVersion: -1})
	a.apply(jute.OpCreateTTL, 0, &jute.CreateTTLTxn{Path: "/app/ttl", ACL: jute.OpenACLUnsafe, ParentCVersion: -1, TTL: 60000})
	a.apply(jute.OpCreate, 0, &jute.CreateTxn{Path: "/nil", Data: nil, ACL: []jute.ACL{{Perms: 1, ID: jute.Id{Scheme: "digest", ID: "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="}}}, ParentCVersion: -1})
	a.set("/app", "config-v2")
	a.apply(jute.OpSetACL, 0, &jute.SetACLTxn{Path: "/app/q", ACL: jute.ReadACLUnsafe, Version: 1})
	a.apply(jute.OpSetData, 0, &jute.SetDataTxn{Path: ConfigPath, Data: []byte("server.1=x\nversion=100000000"), Version: -1})
	return a
}

func writeSnap(t *testing.T, tr *Tree, sessions map[int64]int32) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := tr.WriteSnapshot(&buf, sessions); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	a := populate(t)
	sessions := map[int64]int32{0x1234: 30000, 0x99: 4000}
	b := writeSnap(t, a.tree, sessions)

	// Header and trailers are ZooKeeper's.
	if !bytes.HasPrefix(b, []byte{'Z', 'K', 'S', 'N', 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
		t.Fatalf("header %x", b[:16])
	}
	if !bytes.HasSuffix(b, []byte{0, 0, 0, 1, '/'}) {
		t.Fatal("missing final seal marker")
	}
	// The last seal covers everything before it.
	sumAt := len(b) - 5 - 8
	if got, want := binary.BigEndian.Uint64(b[sumAt:]), uint64(adler32.Checksum(b[:sumAt])); got != want {
		t.Fatalf("final checksum %x, want %x", got, want)
	}
	// The digest trailer: {zxid, 2, digest}.
	dig := b[sumAt-20 : sumAt]
	if z := int64(binary.BigEndian.Uint64(dig)); z != a.zxid {
		t.Fatalf("digest zxid %d, want %d", z, a.zxid)
	}
	if v := binary.BigEndian.Uint32(dig[8:]); v != 2 {
		t.Fatalf("digest version %d", v)
	}
	if d := int64(binary.BigEndian.Uint64(dig[12:])); d != a.tree.Digest() {
		t.Fatalf("digest %x, want %x", d, a.tree.Digest())
	}

	got, gotSessions, err := ReadSnapshot(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotSessions, sessions) {
		t.Fatalf("sessions %v", gotSessions)
	}
	if dump(got) != dump(a.tree) {
		t.Fatalf("tree differs:\n%s\n---\n%s", dump(a.tree), dump(got))
	}
	if got.Digest() != a.tree.Digest() {
		t.Fatal("digest differs")
	}
	if got.Stats() != a.tree.Stats() {
		t.Fatalf("stats %+v vs %+v", got.Stats(), a.tree.Stats())
	}
	if z, d, ok := got.SnapshotDigest(); !ok || z != a.zxid || d != a.tree.Digest() {
		t.Fatalf("SnapshotDigest = %d %x %v", z, d, ok)
	}
	if !reflect.DeepEqual(got.Ephemerals(0x1234), []string{"/app/lock"}) {
		t.Fatal("ephemerals not rebuilt")
	}
	if got.acls.size() != a.tree.acls.size() {
		t.Fatalf("ACL cache %d vs %d", got.acls.size(), a.tree.acls.size())
	}
	checkInvariants(t, got)

	// The loaded tree keeps working: replaying the next txns matches.
	got.SetLastZxid(a.zxid)
	if b2 := writeSnap(t, got, sessions); dump(mustRead(t, b2)) != dump(got) {
		t.Fatal("second round trip differs")
	}
	a2 := &applier{t: t, tree: got, zxid: a.zxid, time: a.time}
	for _, ap := range []*applier{a, a2} {
		ap.mustCreate("/app/q/new", "n")
		ap.del("/app/q/0000000000")
		ap.apply(jute.OpCloseSession, 0x1234, &jute.CloseSessionTxn{})
	}
	if dump(got) != dump(a.tree) || got.Digest() != a.tree.Digest() {
		t.Fatal("trees diverged after the same txns")
	}
}

func mustRead(t *testing.T, b []byte) *Tree {
	t.Helper()
	tr, _, err := ReadSnapshot(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestEmptyTreeSnapshot(t *testing.T) {
	b := writeSnap(t, New(), nil)
	// An empty server writes the digest trailer {0, 2, 0}.
	sumAt := len(b) - 13
	if !bytes.Equal(b[sumAt-20:sumAt], append(make([]byte, 8), 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0)) {
		t.Fatalf("digest trailer %x", b[sumAt-20:sumAt])
	}
	tr := mustRead(t, b)
	if dump(tr) != dump(New()) || tr.Stats().NodeCount != 5 {
		t.Fatal("empty tree round trip")
	}
	info, _ := tr.Node(ConfigPath)
	if !reflect.DeepEqual(info.ACL, jute.ReadACLUnsafe) {
		t.Fatal("config ACL lost")
	}
}

func TestSnapshotCorruptionDetected(t *testing.T) {
	b := writeSnap(t, populate(t).tree, map[int64]int32{1: 2})
	// Flip each byte of the node section in turn (skipping the trailers):
	// every flip must be rejected, by a checksum or a structural check.
	for i := 16; i < len(b)-60; i += 7 {
		c := bytes.Clone(b)
		c[i] ^= 0x20
		if _, _, err := ReadSnapshot(bytes.NewReader(c)); err == nil {
			t.Fatalf("flip at %d accepted", i)
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flip at %d: %v does not wrap ErrCorrupt", i, err)
		}
	}
	// A data byte flip is caught by the first checksum specifically.
	idx := bytes.Index(b, []byte("config-v2"))
	c := bytes.Clone(b)
	c[idx] = 'C'
	_, _, err := ReadSnapshot(bytes.NewReader(c))
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("data flip: %v", err)
	}
	// A flip in the digest trailer is caught by the second checksum.
	c = bytes.Clone(b)
	c[len(b)-20] ^= 1
	if _, _, err := ReadSnapshot(bytes.NewReader(c)); !errors.Is(err, ErrChecksum) {
		t.Fatalf("digest flip: %v", err)
	}
	// Truncation anywhere is an error.
	for _, n := range []int{0, 3, 16, 40, len(b) / 2, len(b) - 1} {
		if _, _, err := ReadSnapshot(bytes.NewReader(b[:n])); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	// Without the digest trailer the snapshot is still valid (older servers).
	old := b[:len(b)-33]
	tr, _, err := ReadSnapshot(bytes.NewReader(old))
	if err != nil {
		t.Fatalf("snapshot without digest: %v", err)
	}
	if _, _, ok := tr.SnapshotDigest(); ok {
		t.Fatal("digest reported for a snapshot without one")
	}
}

func TestFuzzySnapshotUnderWrites(t *testing.T) {
	a := newApplier(t)
	for i := 0; i < 3000; i++ {
		a.mustCreate(fmt.Sprintf("/n%04d", i), "v")
	}
	// Log of txns applied after the snapshot starts.
	type logged struct {
		hdr jute.TxnHeader
		rec jute.Record
	}
	var log []logged
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			p := fmt.Sprintf("/n%04d", r.IntN(3000))
			mu.Lock()
			var rec jute.Record
			typ := jute.OpSetData
			switch i % 4 {
			case 0:
				rec = &jute.SetDataTxn{Path: p, Data: []byte(fmt.Sprint(i)), Version: int32(i)}
			case 1:
				typ = jute.OpDelete
				rec = &jute.PathRecord{Path: p}
			case 2:
				typ = jute.OpCreate
				// As prep does: the parent's next stored cversion.
				root, _ := a.tree.Node("/")
				rec = &jute.CreateTxn{Path: p, Data: []byte("re"), ACL: []jute.ACL{{Perms: 31, ID: jute.Id{Scheme: "ip", ID: fmt.Sprint(i)}}}, ParentCVersion: root.Stat.Cversion + 1}
			case 3:
				typ = jute.OpSetACL
				rec = &jute.SetACLTxn{Path: p, ACL: []jute.ACL{{Perms: 1, ID: jute.Id{Scheme: "ip", ID: fmt.Sprint(i)}}}, Version: int32(i)}
			}
			h := a.hdr(typ, 0)
			a.tree.Apply(h, rec)
			log = append(log, logged{*h, rec})
			mu.Unlock()
		}
	}()
	var buf bytes.Buffer
	start, err := a.tree.WriteSnapshot(&buf, nil)
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	got := mustRead(t, buf.Bytes())
	// Replay every txn after the snapshot's zxid: the result equals the live tree.
	replayed := 0
	for _, l := range log {
		if l.hdr.Zxid > start {
			h := l.hdr
			got.Apply(&h, l.rec)
			replayed++
		}
	}
	if dump(got) != dump(a.tree) {
		t.Fatalf("replay over fuzzy snapshot (start %d, %d txns replayed) diverged", start, replayed)
	}
	if got.Digest() != a.tree.Digest() {
		t.Fatal("digest diverged")
	}
	checkInvariants(t, got)
}

// TestDigestIncremental applies random txns and checks the incremental
// digest and counters against a full recomputation.
func TestDigestIncremental(t *testing.T) {
	a := newApplier(t)
	r := rand.New(rand.NewPCG(7, 7))
	paths := []string{"/a", "/b", "/a/x", "/a/y", "/b/z", "/a/x/deep"}
	for i := 0; i < 2000; i++ {
		p := paths[r.IntN(len(paths))]
		switch r.IntN(5) {
		case 0, 1:
			a.create(p, fmt.Sprint(i), int32(r.IntN(2)), int64(r.IntN(3)))
		case 2:
			a.del(p)
		case 3:
			a.set(p, fmt.Sprint(i))
		case 4:
			a.apply(jute.OpCloseSession, int64(r.IntN(3)), &jute.CloseSessionTxn{})
		}
	}
	checkInvariants(t, a.tree)
	if a.tree.Digest() == 0 {
		t.Fatal("digest is zero")
	}
}

func TestKnownDigest(t *testing.T) {
	// The digest of ZooKeeper's initial tree: root (path "") and /zookeeper
	// with all-zero stats and empty data; /zookeeper/... is excluded.
	var want uint64
	zero := make([]byte, 60)
	want += uint64(crc(nil, zero))
	want += uint64(crc([]byte("/zookeeper"), zero))
	if got := New().Digest(); uint64(got) != want {
		t.Fatalf("initial digest %x, want %x", got, want)
	}
}

func crc(path, rest []byte) uint32 {
	return crc32.ChecksumIEEE(append(append([]byte{}, path...), rest...))
}

func FuzzReadSnapshot(f *testing.F) {
	a := populate(f)
	var buf bytes.Buffer
	a.tree.WriteSnapshot(&buf, map[int64]int32{5: 6})
	f.Add(buf.Bytes())
	buf.Reset()
	New().WriteSnapshot(&buf, nil)
	f.Add(buf.Bytes())
	f.Add([]byte("ZKSN\x00\x00\x00\x02"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, _, err := ReadSnapshot(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// Whatever parses must be internally consistent and writable.
		checkInvariants(t, tr)
		var out bytes.Buffer
		if _, err := tr.WriteSnapshot(&out, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ReadSnapshot(&out); err != nil {
			t.Fatalf("re-read of a parsed snapshot failed: %v", err)
		}
	})
}
