package e2e

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
	"github.com/zabkit/zabkit/internal/zkraw"
	"github.com/zabkit/zabkit/tests/internal/launch"
)

// Ops go-zookeeper v1.0.4 lacks, and exact wire facts, checked with zkraw.

func evString(evs []jute.WatcherEvent) string {
	s := ""
	for _, e := range evs {
		s += fmt.Sprintf("(%d %s)", e.Type, e.Path)
	}
	return s
}

func TestRawPersistentWatches(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)
		w := rawDial(t, srv.Addr, zkraw.Options{})
		c := rawDial(t, srv.AddrFor(1), zkraw.Options{})
		p := root + "/p"
		rec := root + "/r"
		for _, n := range []string{p, rec} {
			if _, err := c.Create(ctx, n, nil, zkraw.OpenACL, 0); err != nil {
				t.Fatal(err)
			}
		}
		// Else w's member could apply the creates after the watches are
		// set and report them too.
		rawCatchUp(t, srv, w, root)
		f, err := w.Call(ctx, jute.OpAddWatch, &jute.AddWatchRequest{Path: p, Mode: jute.AddWatchPersistent})
		if err != nil || f.Err() != 0 || len(f.Body) != 4 {
			t.Fatalf("addWatch reply %+v body %x %v (want a 4-byte body)", f, f.Body, err)
		}
		if err := w.AddWatch(ctx, rec, jute.AddWatchPersistentRecursive); err != nil {
			t.Fatal(err)
		}
		// Persistent: child create 4, setData 3, child delete 4, and it stays.
		steps := []func() error{
			func() error { _, err := c.Create(ctx, p+"/k", nil, zkraw.OpenACL, 0); return err },
			func() error { _, err := c.SetData(ctx, p, []byte("x"), -1); return err },
			func() error { _, err := c.SetData(ctx, p, []byte("y"), -1); return err },
			func() error { return c.Delete(ctx, p+"/k", -1) },
			// Recursive: created/changed/deleted on every descendant, never 4.
			func() error { _, err := c.Create(ctx, rec+"/a", nil, zkraw.OpenACL, 0); return err },
			func() error { _, err := c.Create(ctx, rec+"/a/b", nil, zkraw.OpenACL, 0); return err },
			func() error { _, err := c.SetData(ctx, rec+"/a/b", []byte("z"), -1); return err },
			func() error { return c.Delete(ctx, rec+"/a/b", -1) },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		rawCatchUp(t, srv, w, root)
		if _, err := w.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("(4 %s)(3 %s)(3 %s)(4 %s)(1 %s/a)(1 %s/a/b)(3 %s/a/b)(2 %s/a/b)", p, p, p, p, rec, rec, rec, rec)
		if got := evString(w.Events()); got != want {
			t.Fatalf("events\n got %s\nwant %s", got, want)
		}
		if err := w.RemoveWatches(ctx, p, jute.WatcherAny); err != nil {
			t.Fatalf("removeWatches: %v", err)
		}
		if err := w.RemoveWatches(ctx, p, jute.WatcherAny); !errors.Is(err, zkerr.NoWatcher) {
			t.Fatalf("second removeWatches: %v, want NOWATCHER", err)
		}
		if _, err := c.SetData(ctx, p, nil, -1); err != nil {
			t.Fatal(err)
		}
		rawCatchUp(t, srv, w, root)
		w.Ping(ctx)
		if ev := w.Events(); len(ev) != 0 {
			t.Fatalf("removed watch fired: %s", evString(ev))
		}
	})
}

func TestRawEphemeralsCountsWhoAmI(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)
		a := rawDial(t, srv.Addr, zkraw.Options{})
		b := rawDial(t, srv.AddrFor(1), zkraw.Options{})
		for _, n := range []string{"/x", "/x/y", "/x/y/z", "/w"} {
			if _, err := a.Create(ctx, root+n, nil, zkraw.OpenACL, 0); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range []string{"/x/e1", "/w/e2"} {
			if _, err := a.Create(ctx, root+n, nil, zkraw.OpenACL, jute.FlagEphemeral); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.Create(ctx, root+"/x/e3", nil, zkraw.OpenACL, jute.FlagEphemeral); err != nil {
			t.Fatal(err)
		}
		rawCatchUp(t, srv, a, root)
		n, err := a.GetAllChildrenNumber(ctx, root)
		if err != nil || n != 7 {
			t.Fatalf("getAllChildrenNumber = %d, %v; want 7", n, err)
		}
		if _, err := a.GetAllChildrenNumber(ctx, root+"/none"); !errors.Is(err, zkerr.NoNode) {
			t.Fatalf("getAllChildrenNumber missing: %v", err)
		}
		mine, err := a.GetEphemerals(ctx, root)
		sort.Strings(mine)
		if err != nil || fmt.Sprint(mine) != fmt.Sprintf("[%s/w/e2 %s/x/e1]", root, root) {
			t.Fatalf("getEphemerals(root) = %v, %v", mine, err)
		}
		// A plain string prefix, not a path: root+"/x/e" matches e1 only.
		mine, err = a.GetEphemerals(ctx, root+"/x/e")
		if err != nil || fmt.Sprint(mine) != fmt.Sprintf("[%s/x/e1]", root) {
			t.Fatalf("getEphemerals(prefix) = %v, %v", mine, err)
		}
		all, err := b.GetEphemerals(ctx, "/")
		if err != nil || fmt.Sprint(all) != fmt.Sprintf("[%s/x/e3]", root) {
			t.Fatalf("getEphemerals(/) of b = %v, %v", all, err)
		}
		who, err := a.WhoAmI(ctx)
		if err != nil || len(who) != 1 || who[0].AuthScheme != "ip" || who[0].User != "127.0.0.1" {
			t.Fatalf("whoAmI = %+v, %v", who, err)
		}
		if err := a.AddAuth(ctx, "digest", []byte("carol:pw")); err != nil {
			t.Fatal(err)
		}
		who, _ = a.WhoAmI(ctx)
		// Apache ZooKeeper lists digest before ip; the order carries no
		// meaning, so only the set is asserted.
		sort.Slice(who, func(i, j int) bool { return who[i].AuthScheme < who[j].AuthScheme })
		if len(who) != 2 || who[0].AuthScheme != "digest" || who[0].User != "carol" || who[1].AuthScheme != "ip" {
			t.Fatalf("whoAmI after auth = %+v", who)
		}
	})
}

// TestRawWriteZxids checks what the reply headers say: every write takes
// one zxid, failed ones included, and reads report the last one.
func TestRawWriteZxids(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)
		c := rawDial(t, srv.Addr, zkraw.Options{})
		mk := func(p string) *jute.CreateRequest {
			return &jute.CreateRequest{Path: p, ACL: zkraw.OpenACL}
		}
		f1, err := c.Call(ctx, jute.OpCreate, mk(root+"/z"))
		if err != nil || f1.Err() != 0 {
			t.Fatal(f1, err)
		}
		f2, _ := c.Call(ctx, jute.OpCreate, mk(root+"/z"))
		if f2.Err() != zkerr.NodeExists || f2.Header.Zxid != f1.Header.Zxid+1 || len(f2.Body) != 0 {
			t.Fatalf("failed create: err %v zxid %x (after %x) body %d", f2.Err(), f2.Header.Zxid, f1.Header.Zxid, len(f2.Body))
		}
		f3, _ := c.Call(ctx, jute.OpGetData, &jute.PathWatchRequest{Path: root + "/z"})
		if f3.Err() != 0 || f3.Header.Zxid != f2.Header.Zxid {
			t.Fatalf("read zxid %x, want last %x", f3.Header.Zxid, f2.Header.Zxid)
		}
		// A failing multi: header err 0, results 0 / code / -2, one zxid.
		f4, _ := c.Call(ctx, jute.OpMulti, &jute.MultiRequest{Ops: []jute.MultiOp{
			{Type: jute.OpCreate, Record: mk(root + "/m")},
			{Type: jute.OpDelete, Record: &jute.PathVersionRequest{Path: root + "/nope", Version: -1}},
			{Type: jute.OpSetData, Record: &jute.SetDataRequest{Path: root + "/z", Version: -1}},
		}})
		var mr jute.MultiResponse
		if err := f4.Decode(&mr); err != nil {
			t.Fatal(err)
		}
		codes := ""
		for _, r := range mr.Results {
			codes += fmt.Sprintf("(%d %d)", r.Type, r.Err)
		}
		if f4.Err() != 0 || f4.Header.Zxid != f3.Header.Zxid+1 || codes != "(-1 0)(-1 -101)(-1 -2)" {
			t.Fatalf("failed multi: err %v zxid %x results %s", f4.Err(), f4.Header.Zxid, codes)
		}
		// An empty multi is a write too.
		f5, _ := c.Call(ctx, jute.OpMulti, &jute.MultiRequest{})
		if f5.Err() != 0 || f5.Header.Zxid != f4.Header.Zxid+1 || fmt.Sprintf("%x", f5.Body) != "ffffffff01ffffffff" {
			t.Fatalf("empty multi: err %v zxid %x body %x", f5.Err(), f5.Header.Zxid, f5.Body)
		}
		// multiRead is not atomic: each op stands alone.
		f6, _ := c.Call(ctx, jute.OpMultiRead, &jute.MultiRequest{Ops: []jute.MultiOp{
			{Type: jute.OpGetData, Record: &jute.PathWatchRequest{Path: root + "/z"}},
			{Type: jute.OpGetChildren, Record: &jute.PathWatchRequest{Path: root + "/nope"}},
			{Type: jute.OpGetChildren, Record: &jute.PathWatchRequest{Path: root}},
		}})
		mr = jute.MultiResponse{}
		if err := f6.Decode(&mr); err != nil {
			t.Fatal(err)
		}
		codes = ""
		for _, r := range mr.Results {
			codes += fmt.Sprintf("(%d %d)", r.Type, r.Err)
		}
		if f6.Header.Zxid != f5.Header.Zxid || codes != "(4 0)(-1 -101)(8 0)" {
			t.Fatalf("multiRead: zxid %x results %s", f6.Header.Zxid, codes)
		}
		// So do sync replies (on an ensemble member too, where the sync
		// went by the leader).
		fs, err := c.Call(ctx, jute.OpSync, &jute.PathRecord{Path: root})
		if err != nil || fs.Err() != 0 || fs.Header.Zxid != f5.Header.Zxid {
			t.Fatalf("sync: %+v %v, want zxid %x", fs, err, f5.Header.Zxid)
		}
		// Ping replies carry the last zxid.
		fp, err := c.Ping(ctx)
		if err != nil || fp.Header.Zxid != f5.Header.Zxid || fp.Header.Xid != jute.XidPing {
			t.Fatalf("ping %+v %v", fp, err)
		}
		// Timeout negotiation clamps to [2, 20] ticks.
		short := rawDial(t, srv.Addr, zkraw.Options{Timeout: 100 * time.Millisecond})
		long := rawDial(t, srv.Addr, zkraw.Options{Timeout: 1000 * time.Second})
		if short.Response().TimeOut != 4000 || long.Response().TimeOut != 40000 {
			t.Fatalf("negotiated %d / %d, want 4000 / 40000", short.Response().TimeOut, long.Response().TimeOut)
		}
		short.CloseSession(ctx)
		long.CloseSession(ctx)
	})
}

// TestRawAuthEchoesXid: the server echoes whatever xid an auth request
// carries. The Java client uses -4, but go-zookeeper sends auth with an
// ordinary xid and waits for a reply with that xid.
func TestRawAuthEchoesXid(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)
		c := rawDial(t, srv.Addr, zkraw.Options{})
		for _, xid := range []int32{jute.XidAuth, 7} {
			f, err := c.CallXid(ctx, xid, jute.OpAuth, &jute.AuthPacket{Scheme: "digest", Auth: []byte("dan:pw")})
			if err != nil {
				t.Fatalf("auth with xid %d: %v", xid, err)
			}
			if f.Header != (jute.ReplyHeader{Xid: xid, Zxid: 0, Err: 0}) || len(f.Body) != 0 {
				t.Fatalf("auth with xid %d answered %+v body %x", xid, f.Header, f.Body)
			}
		}
	})
}

// TestRawOneWatchModePerPath pins ZooKeeper 3.8's watch table: one mode per
// (connection, path). A one-shot watch set on a path that already has a
// persistent-recursive watch replaces it, so after the one-shot fires the
// path is not watched at all (ZOOKEEPER-4466 changed this only in 3.9).
func TestRawOneWatchModePerPath(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)
		w := rawDial(t, srv.Addr, zkraw.Options{})
		c := rawDial(t, srv.AddrFor(1), zkraw.Options{})
		p := root + "/p"
		if _, err := c.Create(ctx, p, nil, zkraw.OpenACL, 0); err != nil {
			t.Fatal(err)
		}
		rawCatchUp(t, srv, w, p)
		if err := w.AddWatch(ctx, p, jute.AddWatchPersistentRecursive); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Exists(ctx, p, true); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SetData(ctx, p, []byte("1"), -1); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Create(ctx, p+"/kid", nil, zkraw.OpenACL, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SetData(ctx, p, []byte("2"), -1); err != nil {
			t.Fatal(err)
		}
		rawCatchUp(t, srv, w, p)
		w.Ping(ctx)
		if got, want := evString(w.Events()), fmt.Sprintf("(3 %s)", p); got != want {
			t.Fatalf("events %s, want only %s", got, want)
		}
	})
}

// TestRawCheckWatchesSeesAnyConnection pins a 3.8 quirk: checkWatches
// answers OK when any connection watches the path, while removeWatches
// only removes (and reports) the caller's own watches. Any connection to
// the same server, that is: each ensemble member keeps its own watch
// table, so both clients stay on one member.
func TestRawCheckWatchesSeesAnyConnection(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)
		w := rawDial(t, srv.Addr, zkraw.Options{})
		o := rawDial(t, srv.Addr, zkraw.Options{})
		p := root + "/b"
		check := func(c *zkraw.Conn, op int32) zkerr.Code {
			f, err := c.Call(ctx, op, &jute.WatchTypeRequest{Path: p, Type: jute.WatcherAny})
			if err != nil {
				t.Fatal(err)
			}
			return f.Err()
		}
		if got := check(w, jute.OpCheckWatches); got != zkerr.NoWatcher {
			t.Fatalf("checkWatches with no watch anywhere: %v", got)
		}
		if _, err := o.Exists(ctx, p, true); !errors.Is(err, zkerr.NoNode) {
			t.Fatal(err)
		}
		if got := check(w, jute.OpCheckWatches); got != zkerr.OK {
			t.Fatalf("checkWatches while another connection watches: %v, want OK", got)
		}
		if got := check(w, jute.OpRemoveWatches); got != zkerr.NoWatcher {
			t.Fatalf("removeWatches of another connection's watch: %v, want NOWATCHER", got)
		}
		if got := check(o, jute.OpRemoveWatches); got != zkerr.OK {
			t.Fatalf("removeWatches of own watch: %v", got)
		}
	})
}
