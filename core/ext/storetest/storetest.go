// Package storetest is the conformance kit for ext.Store implementations:
// every store in zabkit, and every third-party store, runs the same checks
// from its own tests. docs/stores.md is the one page a store author reads:
// the contract, a complete example test file and what each check proves.
//
// In short, a store's test package calls:
//
//   - Run(t, open): the contract in one process (append, iterate, bounds,
//     ordering and gaps, truncate, purge, snapshots, metadata, restart,
//     concurrency);
//   - RunCrash(t, opener, CrashOptions{}) with CrashMain(opener) first in
//     TestMain: durability on return, proved by a child process that is
//     SIGKILLed at random points and whose acknowledged writes must all be
//     there when the store is reopened (skipped, with a log line, for a
//     store whose Capabilities().Durable is false);
//   - RunTornTail(t, open, tear) if the store can damage its own newest
//     write on disk: recovery keeps exactly an intact prefix.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
)

// OpenFunc opens the store under test on dir. Opening the same dir again
// after Close must see the same data (a restart).
type OpenFunc func(t *testing.T, dir string) ext.Store

// Opener opens the store under test on dir outside a test: the crash
// child has no *testing.T. It must be safe to call again on the same dir
// once the previous store is closed or its process is dead.
type Opener func(dir string) (ext.Store, error)

// OpenFunc adapts o to Run and RunTornTail, failing the test on error.
func (o Opener) OpenFunc() OpenFunc {
	return func(t *testing.T, dir string) ext.Store {
		t.Helper()
		s, err := o(dir)
		if err != nil {
			t.Fatalf("open %s: %v", dir, err)
		}
		return s
	}
}

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
// bytes) in order. With after <= 0 want is the whole log, so FirstZxid and
// LastZxid must name its ends.
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
	if after <= 0 {
		first, last := int64(0), int64(0)
		if len(want) > 0 {
			first, last = want[0].Zxid, want[len(want)-1].Zxid
		}
		if f, l := s.FirstZxid(), s.LastZxid(); f != first || l != last {
			t.Fatalf("FirstZxid, LastZxid = %#x, %#x; the log holds %#x..%#x", f, l, first, last)
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

// Run runs the in-process conformance checks, each as a subtest on a
// fresh directory. open is called again on the same directory after the
// previous store is closed, to check what survives a restart.
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
		{"ZxidGaps", testZxidGaps},
		{"FirstZxid", testFirstZxid},
		{"TruncateAfter", testTruncateAfter},
		{"TruncateRemovesLaterSnapshots", testTruncateSnapshots},
		{"RollLog", testRollLog},
		{"PurgeBefore", testPurgeBefore},
		{"Snapshots", testSnapshots},
		{"Meta", testMeta},
		{"MetaAtomic", testMetaAtomic},
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
