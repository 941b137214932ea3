// Package storetest is the conformance kit for ext.Store implementations:
// every store in zabkit, and every third-party store plugin, runs the same
// checks. Call Run from a test with a function that opens the store under
// test on a directory; Run calls it again on the same directory after Close
// to check that data survives a restart.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
)

// OpenFunc opens the store under test on dir. Opening the same dir again
// after Close must see the same data (a restart).
type OpenFunc func(t *testing.T, dir string) ext.Store

// Zxid builds a zxid from an epoch and a counter.
func Zxid(epoch, counter int64) int64 { return epoch<<32 | counter }

// Entry returns a log entry that is a real ZooKeeper txn (TxnHeader +
// SetDataTxn + TxnDigest) with the given zxid and a payload of n bytes, so
// stores that parse the header (store.file) accept it.
func Entry(zxid int64, n int) ext.Entry {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(zxid) + byte(i)
	}
	hdr := &jute.TxnHeader{ClientID: 0x1000, Cxid: int32(zxid), Zxid: zxid, Time: 1700000000000 + zxid, Type: jute.OpSetData}
	rec := &jute.SetDataTxn{Path: "/storetest", Data: payload, Version: int32(zxid & 0x7fffffff)}
	return ext.Entry{Zxid: zxid, Data: jute.EncodeTxn(nil, hdr, rec, &jute.TxnDigest{Version: 2, TreeDigest: zxid * 31})}
}

// Entries returns Entry(z, n) for each zxid.
func Entries(n int, zxids ...int64) []ext.Entry {
	out := make([]ext.Entry, len(zxids))
	for i, z := range zxids {
		out[i] = Entry(z, n)
	}
	return out
}

// Range returns zxids epoch<<32|from ... epoch<<32|to.
func Range(epoch, from, to int64) []int64 {
	var out []int64
	for c := from; c <= to; c++ {
		out = append(out, Zxid(epoch, c))
	}
	return out
}

// ReadAll returns every entry with zxid > after, copying the data.
func ReadAll(t testing.TB, s ext.Store, after int64) []ext.Entry {
	t.Helper()
	var out []ext.Entry
	err := s.ReadLog(context.Background(), after, func(e ext.Entry) error {
		out = append(out, ext.Entry{Zxid: e.Zxid, Data: bytes.Clone(e.Data)})
		return nil
	})
	if err != nil {
		t.Fatalf("ReadLog(%#x): %v", after, err)
	}
	return out
}

// MustAppend appends one batch or fails the test.
func MustAppend(t testing.TB, s ext.Store, entries ...ext.Entry) {
	t.Helper()
	if err := s.Append(context.Background(), entries); err != nil {
		t.Fatalf("Append(%#x..): %v", entries[0].Zxid, err)
	}
}

// CheckLog asserts that ReadLog(after) returns exactly want (zxids and
// bytes) in order.
func CheckLog(t testing.TB, s ext.Store, after int64, want []ext.Entry) {
	t.Helper()
	got := ReadAll(t, s, after)
	if len(got) != len(want) {
		t.Fatalf("ReadLog(%#x): got %d entries %s, want %d %s", after, len(got), zxids(got), len(want), zxids(want))
	}
	for i := range got {
		if got[i].Zxid != want[i].Zxid || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("ReadLog(%#x): entry %d is %#x (%d bytes), want %#x (%d bytes)", after, i, got[i].Zxid, len(got[i].Data), want[i].Zxid, len(want[i].Data))
		}
	}
}

func zxids(es []ext.Entry) string {
	if len(es) > 8 {
		return fmt.Sprintf("[%#x ... %#x]", es[0].Zxid, es[len(es)-1].Zxid)
	}
	var b bytes.Buffer
	for _, e := range es {
		fmt.Fprintf(&b, " %#x", e.Zxid)
	}
	return "[" + b.String() + " ]"
}

// after filters want to entries with zxid > z.
func after(want []ext.Entry, z int64) []ext.Entry {
	var out []ext.Entry
	for _, e := range want {
		if e.Zxid > z {
			out = append(out, e)
		}
	}
	return out
}

func upTo(want []ext.Entry, z int64) []ext.Entry {
	var out []ext.Entry
	for _, e := range want {
		if e.Zxid <= z {
			out = append(out, e)
		}
	}
	return out
}

// Run runs the conformance kit.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func() ext.Store)
	}{
		{"Empty", testEmpty},
		{"AppendIterate", testAppendIterate},
		{"ReadLogFromMiddle", testReadLogFromMiddle},
		{"ReadLogStopsOnError", testReadLogStops},
		{"ZxidOrder", testZxidOrder},
		{"TruncateAfter", testTruncateAfter},
		{"TruncateRemovesLaterSnapshots", testTruncateSnapshots},
		{"RollLog", testRollLog},
		{"PurgeBefore", testPurgeBefore},
		{"Snapshots", testSnapshots},
		{"Meta", testMeta},
		{"Reopen", testReopen},
		{"Closed", testClosed},
		{"ConcurrentReadAppend", testConcurrentReadAppend},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var cur ext.Store
			t.Cleanup(func() {
				if cur != nil {
					cur.Close()
				}
			})
			tc.fn(t, func() ext.Store {
				if cur != nil {
					cur.Close()
				}
				cur = open(t, dir)
				return cur
			})
		})
	}
}

func testEmpty(t *testing.T, open func() ext.Store) {
	s := open()
	if z := s.LastZxid(); z != 0 {
		t.Fatalf("LastZxid of empty store = %#x, want 0", z)
	}
	CheckLog(t, s, 0, nil)
	snaps, err := s.Snapshots()
	if err != nil || len(snaps) != 0 {
		t.Fatalf("Snapshots() = %v, %v; want none", snaps, err)
	}
	if _, err := s.OpenSnapshot(0); !errors.Is(err, ext.ErrNoSnapshot) {
		t.Fatalf("OpenSnapshot on empty store: %v, want ErrNoSnapshot", err)
	}
	m, err := s.LoadMeta()
	if err != nil {
		t.Fatal(err)
	}
	if m.CurrentEpoch != -1 || m.AcceptedEpoch != -1 || m.LastVote != nil || m.DBID != 0 {
		t.Fatalf("LoadMeta on empty store = %+v, want epochs -1 and nothing else", m)
	}
	if err := s.Append(context.Background(), nil); err != nil {
		t.Fatalf("empty Append: %v", err)
	}
	if err := s.TruncateAfter(0); err != nil {
		t.Fatalf("TruncateAfter on empty store: %v", err)
	}
	if err := s.PurgeBefore(100); err != nil {
		t.Fatalf("PurgeBefore on empty store: %v", err)
	}
}

func testAppendIterate(t *testing.T, open func() ext.Store) {
	s := open()
	var want []ext.Entry
	sizes := []int{1, 3, 100, 1, 17}
	c := int64(1)
	for bi, n := range sizes {
		batch := Entries(bi*300, Range(1, c, c+int64(n)-1)...)
		c += int64(n)
		MustAppend(t, s, batch...)
		want = append(want, batch...)
		if s.LastZxid() != batch[len(batch)-1].Zxid {
			t.Fatalf("LastZxid = %#x after appending up to %#x", s.LastZxid(), batch[len(batch)-1].Zxid)
		}
	}
	// A new epoch jumps the zxid.
	batch := Entries(10, Range(2, 1, 5)...)
	MustAppend(t, s, batch...)
	want = append(want, batch...)
	big := Entry(Zxid(2, 6), 300<<10)
	MustAppend(t, s, big)
	want = append(want, big)
	CheckLog(t, s, 0, want)
	if s.LastZxid() != Zxid(2, 6) {
		t.Fatalf("LastZxid = %#x, want %#x", s.LastZxid(), Zxid(2, 6))
	}
}

func testReadLogFromMiddle(t *testing.T, open func() ext.Store) {
	s := open()
	var want []ext.Entry
	for _, zs := range [][]int64{Range(1, 1, 10), Range(1, 11, 20), Range(3, 1, 10)} {
		b := Entries(50, zs...)
		MustAppend(t, s, b...)
		want = append(want, b...)
		if err := s.RollLog(); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []int64{0, Zxid(1, 1), Zxid(1, 5), Zxid(1, 10), Zxid(1, 11), Zxid(1, 19), Zxid(1, 20),
		Zxid(2, 0), Zxid(2, 7), Zxid(3, 0), Zxid(3, 1), Zxid(3, 9), Zxid(3, 10), Zxid(9, 0), 1<<63 - 1} {
		CheckLog(t, s, a, after(want, a))
	}
}

func testReadLogStops(t *testing.T, open func() ext.Store) {
	s := open()
	MustAppend(t, s, Entries(10, Range(1, 1, 600)...)...)
	stop := errors.New("stop here")
	n := 0
	err := s.ReadLog(context.Background(), 0, func(e ext.Entry) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("ReadLog returned %v after %d calls; want the callback's error after 3", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = s.ReadLog(ctx, 0, func(ext.Entry) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadLog with a cancelled context returned %v", err)
	}
}

func testZxidOrder(t *testing.T, open func() ext.Store) {
	s := open()
	first := Entries(20, Range(1, 1, 5)...)
	MustAppend(t, s, first...)
	bad := [][]ext.Entry{
		Entries(20, Zxid(1, 5)),                         // equal to last
		Entries(20, Zxid(1, 3)),                         // below last
		Entries(20, Zxid(1, 6), Zxid(1, 8), Zxid(1, 7)), // out of order inside the batch
		Entries(20, Zxid(1, 6), Zxid(1, 6)),             // duplicate inside the batch
		Entries(20, Zxid(1, 7), Zxid(1, 2)),
	}
	for _, b := range bad {
		err := s.Append(context.Background(), b)
		if !errors.Is(err, ext.ErrZxidOrder) {
			t.Fatalf("Append(%s) = %v, want ErrZxidOrder", zxids(b), err)
		}
		if s.LastZxid() != Zxid(1, 5) {
			t.Fatalf("LastZxid moved to %#x after a refused Append", s.LastZxid())
		}
		CheckLog(t, s, 0, first)
	}
	// The store is still usable.
	next := Entries(20, Zxid(1, 6))
	MustAppend(t, s, next...)
	CheckLog(t, s, 0, append(first, next...))
	// And nothing of the refused batches shows up after a restart.
	s = open()
	CheckLog(t, s, 0, append(first, next...))
}

func testTruncateAfter(t *testing.T, open func() ext.Store) {
	s := open()
	var want []ext.Entry
	for _, zs := range [][]int64{Range(1, 1, 10), Range(1, 11, 20), Range(2, 1, 10)} {
		b := Entries(40, zs...)
		MustAppend(t, s, b...)
		want = append(want, b...)
		if err := s.RollLog(); err != nil {
			t.Fatal(err)
		}
	}
	// Beyond the end: nothing changes.
	if err := s.TruncateAfter(Zxid(5, 0)); err != nil {
		t.Fatal(err)
	}
	CheckLog(t, s, 0, want)
	// In the middle of the last segment.
	cut := func(z int64) {
		t.Helper()
		if err := s.TruncateAfter(z); err != nil {
			t.Fatalf("TruncateAfter(%#x): %v", z, err)
		}
		want = upTo(want, z)
		wantLast := int64(0)
		if len(want) > 0 {
			wantLast = want[len(want)-1].Zxid
		}
		if s.LastZxid() != wantLast {
			t.Fatalf("LastZxid after TruncateAfter(%#x) = %#x, want %#x", z, s.LastZxid(), wantLast)
		}
		CheckLog(t, s, 0, want)
	}
	cut(Zxid(2, 5))
	// At a segment boundary, then between epochs (not an existing zxid).
	cut(Zxid(1, 20))
	cut(Zxid(1, 15) + 1<<31)
	cut(Zxid(1, 12))
	// Appending after a truncation reuses the truncated zxids.
	b := Entries(77, Range(1, 13, 14)...)
	MustAppend(t, s, b...)
	want = append(want, b...)
	b = Entries(78, Range(4, 1, 3)...)
	MustAppend(t, s, b...)
	want = append(want, b...)
	CheckLog(t, s, 0, want)
	// The truncation is durable.
	s = open()
	CheckLog(t, s, 0, want)
	if s.LastZxid() != Zxid(4, 3) {
		t.Fatalf("LastZxid after reopen = %#x", s.LastZxid())
	}
	cut(Zxid(1, 13))
	s = open()
	CheckLog(t, s, 0, want)
	// Down to nothing.
	cut(0)
	s = open()
	CheckLog(t, s, 0, nil)
	if s.LastZxid() != 0 {
		t.Fatalf("LastZxid after truncating everything = %#x", s.LastZxid())
	}
	b = Entries(5, Range(5, 1, 2)...)
	MustAppend(t, s, b...)
	CheckLog(t, s, 0, b)
}

func writeSnapshot(t testing.TB, s ext.Store, zxid int64, body []byte) {
	t.Helper()
	w, err := s.CreateSnapshot(zxid)
	if err != nil {
		t.Fatalf("CreateSnapshot(%#x): %v", zxid, err)
	}
	for len(body) > 0 { // several writes, as a serialiser would
		n := min(len(body), 1000)
		if _, err := w.Write(body[:n]); err != nil {
			t.Fatal(err)
		}
		body = body[n:]
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit snapshot %#x: %v", zxid, err)
	}
}

func snapZxids(t testing.TB, s ext.Store) []int64 {
	t.Helper()
	snaps, err := s.Snapshots()
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, sn := range snaps {
		out = append(out, sn.Zxid)
	}
	return out
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testTruncateSnapshots(t *testing.T, open func() ext.Store) {
	s := open()
	MustAppend(t, s, Entries(10, Range(1, 1, 10)...)...)
	writeSnapshot(t, s, Zxid(1, 3), []byte("three"))
	writeSnapshot(t, s, Zxid(1, 8), []byte("eight"))
	if err := s.TruncateAfter(Zxid(1, 5)); err != nil {
		t.Fatal(err)
	}
	if got := snapZxids(t, s); !equalInts(got, []int64{Zxid(1, 3)}) {
		t.Fatalf("snapshots after TruncateAfter(1/5) = %x, want only 1/3: a snapshot above the cut restores history that is gone", got)
	}
}

func testRollLog(t *testing.T, open func() ext.Store) {
	s := open()
	var want []ext.Entry
	if err := s.RollLog(); err != nil { // roll with nothing written
		t.Fatal(err)
	}
	for i := int64(0); i < 5; i++ {
		b := Entries(30, Range(1, i*3+1, i*3+3)...)
		MustAppend(t, s, b...)
		want = append(want, b...)
		for range i % 3 { // sometimes twice in a row
			if err := s.RollLog(); err != nil {
				t.Fatal(err)
			}
		}
	}
	CheckLog(t, s, 0, want)
	CheckLog(t, s, Zxid(1, 7), after(want, Zxid(1, 7)))
	s = open()
	CheckLog(t, s, 0, want)
}

func testPurgeBefore(t *testing.T, open func() ext.Store) {
	s := open()
	var want []ext.Entry
	for _, zs := range [][]int64{Range(1, 1, 10), Range(1, 11, 20), Range(1, 21, 30)} {
		b := Entries(40, zs...)
		MustAppend(t, s, b...)
		want = append(want, b...)
		writeSnapshot(t, s, zs[len(zs)-1], []byte(fmt.Sprint(zs[len(zs)-1])))
		if err := s.RollLog(); err != nil {
			t.Fatal(err)
		}
	}
	MustAppend(t, s, Entries(40, Zxid(1, 31))...)
	want = append(want, Entry(Zxid(1, 31), 40))
	// Keep the snapshot at 1/20 and what replaying after it needs.
	if err := s.PurgeBefore(Zxid(1, 20)); err != nil {
		t.Fatal(err)
	}
	if got := snapZxids(t, s); !equalInts(got, []int64{Zxid(1, 30), Zxid(1, 20)}) {
		t.Fatalf("snapshots after PurgeBefore(1/20) = %x, want 1/30, 1/20", got)
	}
	CheckLog(t, s, Zxid(1, 20), after(want, Zxid(1, 20)))
	got := ReadAll(t, s, 0)
	if len(got) == 0 || got[0].Zxid <= Zxid(1, 10) {
		t.Fatalf("after PurgeBefore(1/20) the log still starts at %s; the first segment is not needed", zxids(got[:1]))
	}
	if s.LastZxid() != Zxid(1, 31) {
		t.Fatalf("LastZxid after purge = %#x", s.LastZxid())
	}
	// Purging everything up to the last zxid still keeps what a snapshot
	// at it needs (nothing) and the log stays appendable.
	if err := s.PurgeBefore(Zxid(1, 31)); err != nil {
		t.Fatal(err)
	}
	MustAppend(t, s, Entries(40, Zxid(1, 32))...)
	want = append(want, Entry(Zxid(1, 32), 40))
	CheckLog(t, s, Zxid(1, 31), after(want, Zxid(1, 31)))
	s = open()
	CheckLog(t, s, Zxid(1, 31), after(want, Zxid(1, 31)))
	if got := snapZxids(t, s); !equalInts(got, nil) {
		t.Fatalf("snapshots after PurgeBefore(1/31) = %x, want none", got)
	}
}

func readSnapshot(t testing.TB, s ext.Store, zxid int64) []byte {
	t.Helper()
	r, err := s.OpenSnapshot(zxid)
	if err != nil {
		t.Fatalf("OpenSnapshot(%#x): %v", zxid, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testSnapshots(t *testing.T, open func() ext.Store) {
	s := open()
	bodies := map[int64][]byte{}
	for i, z := range []int64{0, Zxid(1, 4), Zxid(2, 0x10), Zxid(1, 9)} {
		body := bytes.Repeat([]byte{byte('a' + i)}, 5000*(i+1))
		bodies[z] = body
		writeSnapshot(t, s, z, body)
	}
	// Aborted and unfinished snapshots are never listed.
	w, err := s.CreateSnapshot(Zxid(3, 1))
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("half"))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	unfinished, err := s.CreateSnapshot(Zxid(3, 2))
	if err != nil {
		t.Fatal(err)
	}
	unfinished.Write([]byte("never committed"))

	check := func(s ext.Store) {
		t.Helper()
		snaps, err := s.Snapshots()
		if err != nil {
			t.Fatal(err)
		}
		wantOrder := []int64{Zxid(2, 0x10), Zxid(1, 9), Zxid(1, 4), 0}
		if len(snaps) != len(wantOrder) {
			t.Fatalf("Snapshots() = %+v, want zxids %x", snaps, wantOrder)
		}
		for i, sn := range snaps {
			if sn.Zxid != wantOrder[i] || sn.Size != int64(len(bodies[sn.Zxid])) || sn.Name == "" {
				t.Fatalf("Snapshots()[%d] = %+v, want zxid %#x size %d and a name", i, sn, wantOrder[i], len(bodies[wantOrder[i]]))
			}
			if got := readSnapshot(t, s, sn.Zxid); !bytes.Equal(got, bodies[sn.Zxid]) {
				t.Fatalf("snapshot %#x reads back %d bytes, want %d", sn.Zxid, len(got), len(bodies[sn.Zxid]))
			}
		}
		if _, err := s.OpenSnapshot(Zxid(3, 1)); !errors.Is(err, ext.ErrNoSnapshot) {
			t.Fatalf("OpenSnapshot of an aborted snapshot: %v, want ErrNoSnapshot", err)
		}
		if _, err := s.OpenSnapshot(Zxid(3, 2)); !errors.Is(err, ext.ErrNoSnapshot) {
			t.Fatalf("OpenSnapshot of an uncommitted snapshot: %v, want ErrNoSnapshot", err)
		}
	}
	check(s)
	// Replacing a snapshot at the same zxid is allowed.
	bodies[0] = []byte("replaced")
	writeSnapshot(t, s, 0, bodies[0])
	check(s)
	unfinished.Abort()
	s = open()
	check(s)
}

func testMeta(t *testing.T, open func() ext.Store) {
	s := open()
	vote := []byte{1, 2, 3, 4, 5}
	m := ext.Meta{CurrentEpoch: 3, AcceptedEpoch: 4, LastVote: vote, DBID: 77}
	if err := s.SaveMeta(m); err != nil {
		t.Fatal(err)
	}
	vote[0] = 99 // the store must have copied it
	got, err := s.LoadMeta()
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentEpoch != 3 || got.AcceptedEpoch != 4 || got.DBID != 77 || !bytes.Equal(got.LastVote, []byte{1, 2, 3, 4, 5}) {
		t.Fatalf("LoadMeta = %+v", got)
	}
	got.LastVote[1] = 42 // nor may the caller's copy alias the store's
	m2 := ext.Meta{CurrentEpoch: 4, AcceptedEpoch: 5, LastVote: []byte("vote-2"), DBID: 77}
	if err := s.SaveMeta(m2); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err = s.LoadMeta()
		if err != nil {
			t.Fatal(err)
		}
		if got.CurrentEpoch != 4 || got.AcceptedEpoch != 5 || got.DBID != 77 || string(got.LastVote) != "vote-2" {
			t.Fatalf("LoadMeta = %+v, want %+v", got, m2)
		}
		s = open() // and it survives a restart
	}
	// A vote can be cleared.
	if err := s.SaveMeta(ext.Meta{CurrentEpoch: 4, AcceptedEpoch: 5}); err != nil {
		t.Fatal(err)
	}
	s = open()
	if got, err = s.LoadMeta(); err != nil || len(got.LastVote) != 0 || got.CurrentEpoch != 4 {
		t.Fatalf("LoadMeta after clearing the vote = %+v, %v", got, err)
	}
}

func testReopen(t *testing.T, open func() ext.Store) {
	s := open()
	var want []ext.Entry
	for i := int64(0); i < 4; i++ {
		b := Entries(int(i)*50, Range(1, i*5+1, i*5+5)...)
		MustAppend(t, s, b...)
		want = append(want, b...)
		s = open()
		CheckLog(t, s, 0, want)
		if s.LastZxid() != b[len(b)-1].Zxid {
			t.Fatalf("LastZxid after reopen = %#x, want %#x", s.LastZxid(), b[len(b)-1].Zxid)
		}
		// The order check uses the recovered LastZxid.
		if err := s.Append(context.Background(), Entries(1, b[len(b)-1].Zxid)); !errors.Is(err, ext.ErrZxidOrder) {
			t.Fatalf("re-appending the last zxid after reopen: %v, want ErrZxidOrder", err)
		}
	}
}

func testClosed(t *testing.T, open func() ext.Store) {
	s := open()
	MustAppend(t, s, Entries(1, 1)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), Entries(1, 2)); !errors.Is(err, ext.ErrClosed) {
		t.Fatalf("Append after Close: %v, want ErrClosed", err)
	}
	if err := s.ReadLog(context.Background(), 0, func(ext.Entry) error { return nil }); !errors.Is(err, ext.ErrClosed) {
		t.Fatalf("ReadLog after Close: %v, want ErrClosed", err)
	}
	if err := s.TruncateAfter(0); !errors.Is(err, ext.ErrClosed) {
		t.Fatalf("TruncateAfter after Close: %v, want ErrClosed", err)
	}
	if err := s.SaveMeta(ext.Meta{}); !errors.Is(err, ext.ErrClosed) {
		t.Fatalf("SaveMeta after Close: %v, want ErrClosed", err)
	}
}

// testConcurrentReadAppend reads while appending; with -race it checks the
// store's locking, and it checks that a reader sees a consistent prefix.
func testConcurrentReadAppend(t *testing.T, open func() ext.Store) {
	s := open()
	MustAppend(t, s, Entries(64, Range(0, 1, 10)...)...)
	var wg sync.WaitGroup
	done := make(chan struct{})
	errc := make(chan error, 4)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				prev := int64(-1)
				err := s.ReadLog(context.Background(), 0, func(e ext.Entry) error {
					want := Entry(e.Zxid, 64)
					// Purging may remove a prefix, but what a reader
					// sees is contiguous and intact.
					if (prev >= 0 && e.Zxid != prev+1) || !bytes.Equal(e.Data, want.Data) {
						return fmt.Errorf("reader saw %#x after %#x (or wrong bytes)", e.Zxid, prev)
					}
					prev = e.Zxid
					return nil
				})
				if err == nil && prev < 10 {
					err = fmt.Errorf("reader saw only up to %#x", prev)
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for i := int64(11); i <= 400; i += 10 {
		MustAppend(t, s, Entries(64, Range(0, i, i+9)...)...)
		if i%100 == 1 {
			if err := s.RollLog(); err != nil {
				t.Fatal(err)
			}
		}
		if i%50 == 1 {
			if err := s.PurgeBefore(i - 20); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	CheckLog(t, s, 390, Entries(64, Range(0, 391, 400)...))
}
