package datatree

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/zabkit/zabkit/core/internal/chunkio"
	"github.com/zabkit/zabkit/core/proto/jute"
)

func writeSync(t testing.TB, tr *Tree, sessions map[int64]int32) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tr.WriteSyncSnapshot(&buf, sessions); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// signature is the encoded ustring that ends a SNAP payload.
func signature() []byte {
	w := jute.NewWriter(nil)
	w.WriteString(SyncSignature)
	return w.Bytes()
}

func TestSyncSnapshotRoundTrip(t *testing.T) {
	a := populate(t)
	sessions := map[int64]int32{0x1234: 30000, 0x99: 4000, -5: 1}
	b := writeSync(t, a.tree, sessions)
	if !bytes.HasSuffix(b, signature()) {
		t.Fatalf("payload does not end with the signature: %q", b[max(0, len(b)-20):])
	}
	got, gotSessions, err := ReadSyncSnapshot(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotSessions, sessions) {
		t.Fatalf("sessions %v", gotSessions)
	}
	checkLoaded(t, got, a)
	if !reflect.DeepEqual(got.Ephemerals(0x1234), []string{"/app/lock"}) {
		t.Fatal("ephemerals not rebuilt")
	}
	if st := got.Stats(); st.Containers != 1 || st.TTLNodes != 1 || st.EphemeralCount != 1 {
		t.Fatalf("indexes not rebuilt: %+v", st)
	}
	if acl, _, _ := got.GetACL("/nil"); len(acl) != 1 || acl[0].ID.Scheme != "digest" {
		t.Fatalf("/nil ACL %+v", acl)
	}
	if _, _, ok := got.SnapshotDigest(); ok {
		t.Fatal("a SNAP payload has no digest trailer, yet one is reported")
	}

	// The loaded tree keeps working: the same txns give the same state.
	got.SetLastZxid(a.zxid)
	a2 := &applier{t: t, tree: got, zxid: a.zxid, time: a.time}
	for _, ap := range []*applier{a, a2} {
		ap.mustCreate("/app/q/new", "n")
		ap.del("/app/q/0000000000")
		ap.apply(jute.OpCloseSession, 0x1234, &jute.CloseSessionTxn{})
	}
	checkLoaded(t, got, a)
}

// TestSyncPayloadIsSnapshotBody: the SNAP payload is the snapshot file
// body plus the signature (see payloadOfFile). TestSyncSnapshotFromChunks
// checks a big tree too.
func TestSyncPayloadIsSnapshotBody(t *testing.T) {
	for _, a := range []*applier{populate(t), newApplier(t)} {
		sessions := map[int64]int32{7: 5000, 3: 6000}
		if got, want := writeSync(t, a.tree, sessions), payloadOfFile(t, a.tree, sessions); !bytes.Equal(got, want) {
			t.Fatalf("payload (%d bytes) is not the snapshot body (%d bytes) plus the signature", len(got), len(want))
		}
	}
}

// payloadOfFile converts the tree's snapshot file into the SNAP payload
// it should send: without the 16-byte header and what follows the node
// terminator (first seal, digest trailer, second seal: 13+20+13 bytes),
// plus the signature.
func payloadOfFile(t *testing.T, tr *Tree, sessions map[int64]int32) []byte {
	file := writeSnap(t, tr, sessions)
	return append(bytes.Clone(file[16:len(file)-46]), signature()...)
}

// feedChunks feeds b to r in pieces of random sizes up to maxPiece.
func feedChunks(r *chunkio.Reader, b []byte, maxPiece int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed))
	for len(b) > 0 {
		n := min(len(b), 1+rng.IntN(maxPiece))
		r.Feed(b[:n])
		b = b[n:]
	}
}

// TestSyncSnapshotFromChunks loads a payload spanning several loader
// chunks, with values on the slow path, fed as a transport would in
// chunks of random sizes, followed by a chunk of the next stream. The
// reader is never closed: the load must return on the signature and leave
// the next stream's chunk unread.
func TestSyncSnapshotFromChunks(t *testing.T) {
	a := bigTree(t)
	b := writeSync(t, a.tree, map[int64]int32{77: 3000})
	if len(b) < 4*loadChunk {
		t.Fatalf("payload only %d bytes; the test needs several chunks", len(b))
	}
	if !bytes.Equal(b, payloadOfFile(t, a.tree, map[int64]int32{77: 3000})) {
		t.Fatal("payload is not the snapshot body plus the signature")
	}
	for _, maxPiece := range []int{1000, 70_000, 3 << 20} {
		r := chunkio.NewReader()
		go func() {
			feedChunks(r, b, maxPiece, uint64(maxPiece))
			r.Feed([]byte("NEXT"))
		}()
		got, sessions, err := ReadSyncSnapshot(r)
		if err != nil {
			t.Fatalf("pieces up to %d: %v", maxPiece, err)
		}
		checkLoaded(t, got, a)
		if sessions[77] != 3000 || len(sessions) != 1 {
			t.Fatalf("sessions %v", sessions)
		}
		rest := make([]byte, 10)
		if n, err := r.Read(rest); err != nil || string(rest[:n]) != "NEXT" {
			t.Fatalf("pieces up to %d: after the payload the reader holds %q (%v), want the next chunk", maxPiece, rest[:n], err)
		}
	}
}

// watchedReader counts the bytes Read returned and the Reads in flight.
type watchedReader struct {
	r        io.Reader
	inFlight atomic.Int32
	total    atomic.Int64
}

func (w *watchedReader) Read(p []byte) (int, error) {
	w.inFlight.Add(1)
	defer w.inFlight.Add(-1)
	n, err := w.r.Read(p)
	w.total.Add(int64(n))
	return n, err
}

// TestSyncSnapshotNeverEOF reads a payload from a pipe whose writer never
// closes: ReadSyncSnapshot must return once the signature is in, with no
// Read in flight (a goroutine blocked in Read past the payload would never
// be released) and without having taken a byte more than the payload.
func TestSyncSnapshotNeverEOF(t *testing.T) {
	a := populate(t)
	b := writeSync(t, a.tree, map[int64]int32{0x1234: 30000})
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	wrote := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(9, 9))
		rest := b
		for len(rest) > 0 {
			n := min(len(rest), 1+rng.IntN(64))
			if _, err := pw.Write(rest[:n]); err != nil {
				wrote <- err
				return
			}
			rest = rest[n:]
		}
		wrote <- nil // and the pipe stays open
	}()
	wr := &watchedReader{r: pr}
	got, _, err := ReadSyncSnapshot(wr)
	if err != nil {
		t.Fatal(err)
	}
	if n := wr.inFlight.Load(); n != 0 {
		t.Fatalf("%d Reads still in flight after return", n)
	}
	if n := wr.total.Load(); n != int64(len(b)) {
		t.Fatalf("read %d bytes of a %d-byte payload", n, len(b))
	}
	if err := <-wrote; err != nil { // every Write was consumed
		t.Fatal(err)
	}
	checkLoaded(t, got, a)
}

// syncPayload hand-encodes a SNAP payload; body writes what follows the
// session count 0.
func syncPayload(body func(w *jute.Writer)) []byte {
	w := jute.NewWriter(nil)
	w.WriteInt(0)
	body(w)
	return w.Bytes()
}

// validTree writes an ACL section with key 1 and a root record.
func validTree(w *jute.Writer) {
	w.WriteInt(1)
	w.WriteLong(1)
	jute.WriteACLs(w, jute.OpenACLUnsafe)
	w.WriteString("")
	w.WriteBuffer(nil)
	w.WriteLong(1)
	(&jute.StatPersisted{}).Encode(w)
}

func nodeHead(w *jute.Writer, path string) {
	w.WriteString(path)
}

// TestSyncSnapshotRejectsCorruption feeds malformed payloads through a
// reader that never reaches EOF: each must fail with ErrCorrupt from what
// it holds, without waiting for more.
func TestSyncSnapshotRejectsCorruption(t *testing.T) {
	stat := func(w *jute.Writer) { w.WriteLong(1); (&jute.StatPersisted{}).Encode(w) }
	cases := map[string][]byte{
		"negative session count": {0xff, 0xff, 0xff, 0xfe},
		"negative ACL count":     syncPayload(func(w *jute.Writer) { w.WriteInt(-3) }),
		"negative ACL list": syncPayload(func(w *jute.Writer) {
			w.WriteInt(1)
			w.WriteLong(1)
			w.WriteInt(-2)
		}),
		"ACL string beyond maxbuffer": syncPayload(func(w *jute.Writer) {
			w.WriteInt(1)
			w.WriteLong(1)
			w.WriteInt(1)
			w.WriteInt(31)
			w.WriteInt(0x7fffffff)
		}),
		"path beyond maxbuffer": syncPayload(func(w *jute.Writer) {
			validTree(w)
			w.WriteInt(3 << 20)
		}),
		"negative path length": syncPayload(func(w *jute.Writer) {
			validTree(w)
			w.WriteInt(-7)
		}),
		"data beyond maxbuffer": syncPayload(func(w *jute.Writer) {
			validTree(w)
			nodeHead(w, "/a")
			w.WriteInt(0x7fffffff)
		}),
		"orphan": syncPayload(func(w *jute.Writer) {
			validTree(w)
			nodeHead(w, "/a/b")
			w.WriteBuffer(nil)
			stat(w)
		}),
		"no root": syncPayload(func(w *jute.Writer) {
			w.WriteInt(0)
			w.WriteString("/")
			w.WriteString(SyncSignature)
		}),
		"wrong signature": syncPayload(func(w *jute.Writer) {
			validTree(w)
			w.WriteString("/")
			w.WriteString("BenWasThere")
		}),
		"misspelt signature": syncPayload(func(w *jute.Writer) {
			validTree(w)
			w.WriteString("/")
			w.WriteString("BenWasHerf")
		}),
		"null signature": syncPayload(func(w *jute.Writer) {
			validTree(w)
			w.WriteString("/")
			w.WriteInt(-1)
		}),
		"huge signature": syncPayload(func(w *jute.Writer) {
			validTree(w)
			w.WriteString("/")
			w.WriteInt(1 << 30)
		}),
	}
	for name, b := range cases {
		r := chunkio.NewReader()
		r.Feed(b)
		if _, _, err := ReadSyncSnapshot(r); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
	// The same tree with the right signature loads.
	ok := syncPayload(func(w *jute.Writer) {
		validTree(w)
		w.WriteString("/")
		w.WriteString(SyncSignature)
	})
	if _, _, err := ReadSyncSnapshot(bytes.NewReader(ok)); err != nil {
		t.Fatalf("minimal payload: %v", err)
	}
}

// TestSyncSnapshotTruncated: the stream ending anywhere before the end of
// the signature is ErrCorrupt; a failing read is that failure.
func TestSyncSnapshotTruncated(t *testing.T) {
	b := writeSync(t, populate(t).tree, map[int64]int32{1: 2})
	for n := 0; n < len(b); n += 1 + n/50 {
		if _, _, err := ReadSyncSnapshot(bytes.NewReader(b[:n])); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d: %v", n, len(b), err)
		}
	}
	if _, _, err := ReadSyncSnapshot(bytes.NewReader(b[:len(b)-1])); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("missing the last byte: %v", err)
	}
	// A closed chunk reader is the same end of stream; an aborted one
	// reports why.
	boom := errors.New("link down")
	r := chunkio.NewReader()
	r.Feed(b[:len(b)/2])
	r.Close()
	if _, _, err := ReadSyncSnapshot(r); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("closed mid-payload: %v", err)
	}
	r = chunkio.NewReader()
	r.Feed(b[:len(b)/2])
	go r.CloseWithError(boom)
	if _, _, err := ReadSyncSnapshot(r); !errors.Is(err, boom) {
		t.Fatalf("aborted mid-payload: %v", err)
	}
}

// TestSyncSnapshotLimit: values are bounded by maxBuffer plus
// max(maxBuffer, 1024), as ZooKeeper bounds them.
func TestSyncSnapshotLimit(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/big", strings.Repeat("v", 3000))
	b := writeSync(t, a.tree, nil)
	if _, _, err := ReadSyncSnapshotLimit(bytes.NewReader(b), 1000); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("3000-byte value with maxbuffer 1000: %v", err)
	}
	got, _, err := ReadSyncSnapshotLimit(bytes.NewReader(b), 2000)
	if err != nil {
		t.Fatalf("3000-byte value with maxbuffer 2000 (limit 4000): %v", err)
	}
	checkLoaded(t, got, a)
}

func FuzzReadSyncSnapshot(f *testing.F) {
	f.Add(writeSync(f, populate(f).tree, map[int64]int32{5: 6}))
	f.Add(writeSync(f, New(), nil))
	f.Add(syncPayload(func(w *jute.Writer) {
		validTree(w)
		w.WriteString("/")
		w.WriteString(SyncSignature)
	}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, _, err := ReadSyncSnapshot(bytes.NewReader(b))
		// However the stream is cut into Reads, the outcome is the same.
		tr1, _, err1 := ReadSyncSnapshot(iotest.OneByteReader(bytes.NewReader(b)))
		if (err == nil) != (err1 == nil) {
			t.Fatalf("whole reads: %v; one-byte reads: %v", err, err1)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || !errors.Is(err1, ErrCorrupt) {
				t.Fatalf("errors %v / %v do not wrap ErrCorrupt", err, err1)
			}
			return
		}
		if dump(tr) != dump(tr1) || tr.Digest() != tr1.Digest() {
			t.Fatal("one-byte reads load another tree")
		}
		// Whatever parses is consistent and round-trips.
		checkInvariants(t, tr)
		tr.mu.Lock()
		if tr.digest != tr.recomputeDigest() {
			t.Fatal("digest is not the recomputed one")
		}
		tr.mu.Unlock()
		again, _, err := ReadSyncSnapshot(bytes.NewReader(writeSync(t, tr, nil)))
		if err != nil {
			t.Fatalf("re-read of a parsed payload failed: %v", err)
		}
		if dump(again) != dump(tr) {
			t.Fatal("re-read differs")
		}
	})
}

// TestReplaceWith swaps a loaded SNAP payload into a tree that has nodes,
// ephemerals and watches of its own.
func TestReplaceWith(t *testing.T) {
	old := newApplier(t)
	old.mustCreate("/x", "old")
	old.create("/x/e", "", jute.FlagEphemeral, 9)
	for range 50 {
		old.mustCreate("/filler", "f")
		old.del("/filler")
	}
	w := &recorder{id: 1}
	old.tree.GetData("/x", nil, w)
	old.tree.GetChildren("/", nil, w)
	old.tree.AddWatch("/", jute.AddWatchPersistentRecursive, w)
	target := old.tree

	a := populate(t)
	src, _, err := ReadSyncSnapshot(bytes.NewReader(writeSync(t, a.tree, nil)))
	if err != nil {
		t.Fatal(err)
	}
	src.SetLastZxid(a.zxid)
	target.ReplaceWith(src)
	checkLoaded(t, target, a)
	if target.Ephemerals(9) != nil || !reflect.DeepEqual(target.Ephemerals(0x1234), []string{"/app/lock"}) {
		t.Fatal("ephemerals not replaced")
	}
	if st := target.Stats(); st.WatchCount != 0 || target.WatchSummary().Total != 0 {
		t.Fatalf("watches kept: %+v", st)
	}
	if dump(src) != dump(New()) || src.Digest() != New().Digest() {
		t.Fatal("the source is not left empty")
	}

	// The replaced tree evolves like the one it was copied from, and the
	// old watches are gone.
	b := &applier{t: t, tree: target, zxid: a.zxid, time: a.time}
	for _, ap := range []*applier{a, b} {
		ap.mustCreate("/x", "new")
		ap.set("/app", "v3")
		ap.del("/app/q/0000000002")
		ap.apply(jute.OpCloseSession, 0x1234, &jute.CloseSessionTxn{})
	}
	checkLoaded(t, target, a)
	if evs := w.take(); evs != nil {
		t.Fatalf("watches of the replaced tree fired: %v", evs)
	}
	target.RemoveWatcher(w)
}

// TestReplaceWithMovesEveryField guards ReplaceWith against a Tree field
// added later and not moved: extend moveFrom, then this list.
func TestReplaceWithMovesEveryField(t *testing.T) {
	handled := map[string]bool{
		// moved by moveFrom
		"root": true, "acls": true, "nodes": true, "dataSize": true, "digest": true, "lastZxid": true,
		"ephemerals": true, "containers": true, "ttls": true,
		"snapDigestZxid": true, "snapDigest": true, "hasSnapDigest": true,
		// not content
		"mu": true, "hashBuf": true, "dataW": true, "childW": true,
	}
	ty := reflect.TypeOf(Tree{})
	for i := range ty.NumField() {
		if name := ty.Field(i).Name; !handled[name] {
			t.Errorf("Tree.%s: does ReplaceWith move it?", name)
		}
	}
}

// TestReplaceWithConcurrentUse replaces a tree while clients read, watch
// and disconnect (run under -race).
func TestReplaceWithConcurrentUse(t *testing.T) {
	a := populate(t)
	payload := writeSync(t, a.tree, nil)
	target := New()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &recorder{id: int64(i)}
			for {
				select {
				case <-stop:
					return
				default:
				}
				target.GetData("/app", nil, w)
				target.Exists("/nope", nil, w)
				target.Stats()
				target.WatchSummary()
				target.WatchesByPath()
				target.Digest()
				target.RemoveWatcher(w)
			}
		}()
	}
	for range 20 {
		src, _, err := ReadSyncSnapshot(bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		src.SetLastZxid(a.zxid)
		target.ReplaceWith(src)
	}
	close(stop)
	wg.Wait()
	if dump(target) != dump(a.tree) || target.LastZxid() != a.zxid {
		t.Fatal("final state differs")
	}
}

// A node naming an ACL key its snapshot's ACL section lacks (a fuzzy
// ZooKeeper snapshot taken while a setACL added the list) loads, as
// ZooKeeper loads it, but quarantined: nobody without super may touch it
// until the replayed setACL repairs it.
func TestUnknownACLKeyLoadsQuarantined(t *testing.T) {
	w := jute.NewWriter(nil)
	w.WriteInt(0) // sessions
	w.WriteInt(1) // ACL lists
	w.WriteLong(1)
	jute.WriteACLs(w, jute.OpenACLUnsafe)
	node := func(path string, key int64) {
		w.WriteString(path)
		w.WriteBuffer(nil)
		w.WriteLong(key)
		(&jute.StatPersisted{Czxid: 1, Mzxid: 1, Pzxid: 1}).Encode(w)
	}
	node("", -1)
	node("/zookeeper", -1)
	node("/x", 7) // key 7 is not in the ACL section
	w.WriteString("/")
	w.WriteString("BenWasHere")
	tree, _, err := ReadSyncSnapshot(bytes.NewReader(w.Bytes()))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	acl, _, err := tree.GetACL("/x")
	if err != nil {
		t.Fatal(err)
	}
	if len(acl) != 1 || acl[0].Perms != 0 || acl[0].ID != jute.WorldAnyone {
		t.Fatalf("ACL of /x = %v, want world:anyone with no permissions", acl)
	}
	// The replayed setACL repairs it.
	tree.Apply(&jute.TxnHeader{Zxid: 2, Type: jute.OpSetACL}, &jute.SetACLTxn{Path: "/x", ACL: jute.OpenACLUnsafe, Version: 1})
	if acl, _, _ := tree.GetACL("/x"); len(acl) != 1 || acl[0].Perms != jute.PermAll {
		t.Fatalf("after setACL: %v", acl)
	}
}
