package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
)

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
	// Zxid 0 is "nothing logged": no entry can have it.
	if err := s.Append(context.Background(), Entries(1, 0)); !errors.Is(err, ext.ErrZxidOrder) {
		t.Fatalf("Append of zxid 0 = %v, want ErrZxidOrder", err)
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
	want := appendSegments(t, s, 50, Range(1, 1, 10), Range(1, 11, 20), Range(3, 1, 10))
	for _, a := range []int64{-1, 0, Zxid(1, 1), Zxid(1, 5), Zxid(1, 10), Zxid(1, 11), Zxid(1, 19), Zxid(1, 20),
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
	want := appendSegments(t, s, 40, Range(1, 1, 10), Range(1, 11, 20), Range(2, 1, 10))
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

// appendSegments appends each list of zxids as one batch of entries of
// size bytes, rolling the log after each, and returns what it appended.
func appendSegments(t testing.TB, s ext.Store, size int, segments ...[]int64) []ext.Entry {
	t.Helper()
	var all []ext.Entry
	for _, zs := range segments {
		b := Entries(size, zs...)
		MustAppend(t, s, b...)
		all = append(all, b...)
		if err := s.RollLog(); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

func testTruncateSnapshots(t *testing.T, open func() ext.Store) {
	s := open()
	MustAppend(t, s, Entries(10, Range(1, 1, 10)...)...)
	writeSnapshot(t, s, Zxid(1, 3), []byte("three"))
	writeSnapshot(t, s, Zxid(1, 8), []byte("eight"))
	if err := s.TruncateAfter(Zxid(1, 5)); err != nil {
		t.Fatal(err)
	}
	if got := snapZxids(t, s); !slices.Equal(got, []int64{Zxid(1, 3)}) {
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
	if got := snapZxids(t, s); !slices.Equal(got, []int64{Zxid(1, 30), Zxid(1, 20)}) {
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
	if got := snapZxids(t, s); !slices.Equal(got, nil) {
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
	// Aborted and unfinished snapshots are never listed, and an aborted
	// one leaves no bytes behind.
	before, _ := s.Usage()
	w, err := s.CreateSnapshot(Zxid(3, 1))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte("half"), 5000))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if now, _ := s.Usage(); now != before {
		t.Fatalf("snapshot bytes went from %d to %d through an aborted snapshot", before, now)
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
	// Snapshots and metadata are written beside the log stage, as the
	// pipeline's background snapshot and a ZAB peer's epoch updates do.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := int64(1); ; k++ {
			select {
			case <-done:
				return
			default:
			}
			if err := snapshotAndMeta(s, k); err != nil {
				errc <- err
				return
			}
		}
	}()
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

// snapshotAndMeta is one round of the concurrent test's side goroutine.
func snapshotAndMeta(s ext.Store, k int64) error {
	first := s.FirstZxid()
	last := s.LastZxid()
	if first > last || (first == 0) != (last == 0) {
		return fmt.Errorf("FirstZxid %#x read before LastZxid %#x", first, last)
	}
	w, err := s.CreateSnapshot(last)
	if err != nil {
		return err
	}
	if _, err := w.Write(bytes.Repeat([]byte{byte(k)}, 20000)); err != nil {
		w.Abort()
		return err
	}
	if err := w.Commit(); err != nil {
		return err
	}
	snaps, err := s.Snapshots()
	if err != nil {
		return err
	}
	for i := 1; i < len(snaps); i++ {
		if snaps[i].Zxid >= snaps[i-1].Zxid {
			return fmt.Errorf("Snapshots() not newest first: %+v", snaps)
		}
	}
	if err := s.SaveMeta(metaFor(k)); err != nil {
		return err
	}
	m, err := s.LoadMeta()
	if err != nil {
		return err
	}
	if got, err := metaIndex(m); err != nil || got != k {
		return fmt.Errorf("LoadMeta after SaveMeta(value %d) = %+v (%v)", k, m, err)
	}
	s.Usage()
	return nil
}

// testZxidGaps checks the continuity rule of ext.Store.Append: within an
// epoch every zxid is the previous one + 1, a new epoch starts at counter
// 1, and only a committed snapshot at z-1 lets z follow anything else.
func testZxidGaps(t *testing.T, open func() ext.Store) {
	s := open()
	// An empty log continues from zxid 0: epoch 0 goes on at counter 1.
	if err := s.Append(context.Background(), Entries(20, Zxid(0, 2))); !errors.Is(err, ext.ErrZxidGap) {
		t.Fatalf("Append(0/2) to an empty log = %v, want ErrZxidGap", err)
	}
	want := Entries(20, Range(1, 1, 3)...)
	MustAppend(t, s, want...)
	refuse := func(b []ext.Entry) {
		t.Helper()
		err := s.Append(context.Background(), b)
		if !errors.Is(err, ext.ErrZxidGap) || !errors.Is(err, ext.ErrZxidOrder) {
			t.Fatalf("Append(%s) after %#x = %v, want ErrZxidGap (which is also ErrZxidOrder)", zxids(b), s.LastZxid(), err)
		}
		CheckLog(t, s, 0, want)
	}
	refuse(Entries(20, Zxid(1, 5)))             // skips 1/4
	refuse(Entries(20, Zxid(1, 4), Zxid(1, 6))) // a hole inside the batch: 1/4 is not written either
	refuse(Entries(20, Zxid(2, 2)))             // a new epoch that does not start at counter 1
	refuse(Entries(20, Zxid(2, 1), Zxid(3, 2)))

	// How the previous epoch ended is not the store's business.
	b := Entries(20, Zxid(2, 1), Zxid(2, 2), Zxid(5, 1))
	MustAppend(t, s, b...)
	want = append(want, b...)

	// A snapshot at z-1 (a learner synced by SNAP) lets z follow, within
	// an epoch or across one; a snapshot elsewhere does not.
	writeSnapshot(t, s, Zxid(5, 9), []byte("snap"))
	refuse(Entries(20, Zxid(5, 11)))
	writeSnapshot(t, s, Zxid(8, 4), []byte("snap"))
	b = Entries(20, Zxid(5, 10), Zxid(5, 11))
	MustAppend(t, s, b...)
	want = append(want, b...)
	b = Entries(20, Zxid(8, 5))
	MustAppend(t, s, b...)
	want = append(want, b...)
	CheckLog(t, s, 0, want)

	// After a restart the rule starts from the recovered end.
	s = open()
	CheckLog(t, s, 0, want)
	refuse(Entries(20, Zxid(8, 7)))
	b = Entries(20, Zxid(8, 6))
	MustAppend(t, s, b...)
	want = append(want, b...)
	CheckLog(t, s, 0, want)
	// And from the end a truncation leaves.
	if err := s.TruncateAfter(Zxid(2, 1)); err != nil {
		t.Fatal(err)
	}
	want = upTo(want, Zxid(2, 1))
	refuse(Entries(20, Zxid(2, 3)))
	b = Entries(20, Zxid(2, 2))
	MustAppend(t, s, b...)
	CheckLog(t, s, 0, append(want, b...))
}

// testFirstZxid checks FirstZxid through appends, purges, truncation and
// restarts, and that ReadLog below a purged prefix delivers what is left.
func testFirstZxid(t *testing.T, open func() ext.Store) {
	s := open()
	if f := s.FirstZxid(); f != 0 {
		t.Fatalf("FirstZxid of an empty store = %#x, want 0", f)
	}
	want := appendSegments(t, s, 30, Range(1, 1, 10), Range(1, 11, 20), Range(2, 1, 10))
	CheckLog(t, s, 0, want) // FirstZxid is 1/1
	writeSnapshot(t, s, Zxid(1, 15), []byte("15"))
	if err := s.PurgeBefore(Zxid(1, 15)); err != nil {
		t.Fatal(err)
	}
	got := ReadAll(t, s, 0)
	if len(got) == 0 {
		t.Fatal("PurgeBefore(1/15) emptied the log")
	}
	first := got[0].Zxid
	if first-1 > Zxid(1, 15) {
		t.Fatalf("after PurgeBefore(1/15) the log starts at %#x: entries after the snapshot are gone", first)
	}
	CheckLog(t, s, 0, after(want, first-1))
	// Reading from below the retained prefix is not an error; FirstZxid
	// is how a caller tells that entries are missing.
	CheckLog(t, s, -1, after(want, first-1))
	s = open()
	CheckLog(t, s, 0, after(want, first-1))
	// Truncating inside the retained range keeps the start ...
	if err := s.TruncateAfter(Zxid(1, 18)); err != nil {
		t.Fatal(err)
	}
	want = upTo(after(want, first-1), Zxid(1, 18))
	CheckLog(t, s, 0, want)
	// ... and truncating below it empties the log.
	if err := s.TruncateAfter(first - 1); err != nil {
		t.Fatal(err)
	}
	CheckLog(t, s, 0, nil)
	s = open()
	CheckLog(t, s, 0, nil)
}

// metaFor is the k-th metadata value of a sequence whose fields all
// derive from k, so a reader can tell a torn mix from a value written.
// Epochs never decrease, as in a real node.
func metaFor(k int64) ext.Meta {
	return ext.Meta{
		CurrentEpoch:  k,
		AcceptedEpoch: k + 1,
		LastVote:      bytes.Repeat([]byte{byte(k), byte(k >> 8)}, 1+int(k%97)),
		DBID:          7*k + 3,
	}
}

// metaIndex returns k if m is metaFor(k), 0 if m is the empty metadata,
// and an error for anything else.
func metaIndex(m ext.Meta) (int64, error) {
	if m.CurrentEpoch == -1 && m.AcceptedEpoch == -1 && len(m.LastVote) == 0 && m.DBID == 0 {
		return 0, nil
	}
	w := metaFor(m.CurrentEpoch)
	if m.CurrentEpoch < 1 || m.AcceptedEpoch != w.AcceptedEpoch || m.DBID != w.DBID || !bytes.Equal(m.LastVote, w.LastVote) {
		return 0, fmt.Errorf("LoadMeta = %+v: not a value that was saved (fields from different writes?)", m)
	}
	return m.CurrentEpoch, nil
}

// testMetaAtomic saves a sequence of metadata values while other
// goroutines load it: each load is exactly one saved value, and a reader
// never goes back to an older one.
func testMetaAtomic(t *testing.T, open func() ext.Store) {
	s := open()
	const n = 25
	done := make(chan struct{})
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := int64(0)
			for {
				m, err := s.LoadMeta()
				if err == nil {
					var k int64
					if k, err = metaIndex(m); err == nil && k < seen {
						err = fmt.Errorf("LoadMeta went back from value %d to %d", seen, k)
					}
					seen = max(seen, k)
				}
				if err != nil {
					errc <- err
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		}()
	}
	for k := int64(1); k <= n; k++ {
		if err := s.SaveMeta(metaFor(k)); err != nil {
			t.Fatal(err)
		}
		m, err := s.LoadMeta()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := metaIndex(m); err != nil || got != k {
			t.Fatalf("LoadMeta right after SaveMeta(value %d) = %+v (%v)", k, m, err)
		}
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	s = open()
	if m, err := s.LoadMeta(); err != nil {
		t.Fatal(err)
	} else if k, err := metaIndex(m); err != nil || k != n {
		t.Fatalf("LoadMeta after a restart = %+v (%v), want value %d", m, err, n)
	}
}
