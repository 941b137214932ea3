package e2e

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/internal/zkraw"
	"github.com/zabkit/zabkit/tests/internal/launch"
	"github.com/zabkit/zabkit/tests/internal/proxy"
)

var openACL = zk.WorldACL(zk.PermAll)

func TestGoCRUD(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		c, _ := goConnect(t, srv.Addr, 10*time.Second)
		p := root + "/n"
		got, err := c.Create(p, []byte("v0"), 0, openACL)
		if err != nil || got != p {
			t.Fatalf("create = %q, %v", got, err)
		}
		if _, err := c.Create(p, nil, 0, openACL); !errors.Is(err, zk.ErrNodeExists) {
			t.Fatalf("second create: %v, want ErrNodeExists", err)
		}
		data, st, err := c.Get(p)
		if err != nil || string(data) != "v0" || st.Version != 0 || st.DataLength != 2 || st.Czxid != st.Mzxid {
			t.Fatalf("get = %q %+v %v", data, st, err)
		}
		if _, err := c.Set(p, []byte("v1"), 5); !errors.Is(err, zk.ErrBadVersion) {
			t.Fatalf("set with wrong version: %v, want ErrBadVersion", err)
		}
		st2, err := c.Set(p, []byte("v1"), 0)
		if err != nil || st2.Version != 1 || st2.Mzxid <= st.Mzxid || st2.Czxid != st.Czxid {
			t.Fatalf("set = %+v, %v", st2, err)
		}
		if _, err := c.Set(p, []byte("v2"), -1); err != nil {
			t.Fatalf("set any version: %v", err)
		}
		for _, k := range []string{"c", "a", "b"} {
			if _, err := c.Create(p+"/"+k, nil, 0, openACL); err != nil {
				t.Fatal(err)
			}
		}
		kids, pst, err := c.Children(p)
		sort.Strings(kids)
		if err != nil || fmt.Sprint(kids) != "[a b c]" || pst.NumChildren != 3 || pst.Cversion != 3 {
			t.Fatalf("children = %v %+v %v", kids, pst, err)
		}
		if err := c.Delete(p, -1); !errors.Is(err, zk.ErrNotEmpty) {
			t.Fatalf("delete non-empty: %v, want ErrNotEmpty", err)
		}
		if err := c.Delete(p+"/a", 3); !errors.Is(err, zk.ErrBadVersion) {
			t.Fatalf("delete wrong version: %v, want ErrBadVersion", err)
		}
		if err := c.Delete(p+"/a", 0); err != nil {
			t.Fatal(err)
		}
		// cversion counts child deletes too, as clients see it.
		_, pst2, _ := c.Children(p)
		if pst2.Cversion != 4 || pst2.NumChildren != 2 || pst2.Pzxid <= pst.Pzxid {
			t.Fatalf("after child delete %+v (before %+v)", pst2, pst)
		}
		ok, _, err := c.Exists(p + "/a")
		if err != nil || ok {
			t.Fatalf("exists deleted = %v, %v", ok, err)
		}
		if _, _, err := c.Get(p + "/a"); !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("get deleted: %v, want ErrNoNode", err)
		}
		if _, err := c.Create(root+"/missing/child", nil, 0, openACL); !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("create under missing parent: %v, want ErrNoNode", err)
		}
		if _, err := c.Sync(p); err != nil {
			t.Fatalf("sync: %v", err)
		}
	})
}

func TestGoCreateModes(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		c, _ := goConnect(t, srv.Addr, 10*time.Second)
		other, _ := goConnect(t, srv.AddrFor(1), 10*time.Second)

		// Ephemeral: visible to others, gone when its session closes.
		eph := root + "/eph"
		if _, err := other.Create(eph, nil, zk.FlagEphemeral, openACL); err != nil {
			t.Fatal(err)
		}
		goCatchUp(t, srv, c, eph)
		_, st, err := c.Exists(eph)
		if err != nil || st.EphemeralOwner != other.SessionID() {
			t.Fatalf("ephemeral owner %x, session %x, %v", st.EphemeralOwner, other.SessionID(), err)
		}
		if _, err := other.Create(eph+"/kid", nil, 0, openACL); !errors.Is(err, zk.ErrNoChildrenForEphemerals) {
			t.Fatalf("child of ephemeral: %v", err)
		}
		ok, _, ch, err := c.ExistsW(eph)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		other.Close()
		if e := waitEvent(t, ch); e.Type != zk.EventNodeDeleted || e.Path != eph {
			t.Fatalf("event %+v", e)
		}

		// Sequential: %010d suffix from the parent's count of creations.
		seqParent := root + "/seq"
		if _, err := c.Create(seqParent, nil, 0, openACL); err != nil {
			t.Fatal(err)
		}
		var names []string
		for i := 0; i < 3; i++ {
			p, err := c.Create(seqParent+"/s-", nil, zk.FlagSequence, openACL)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, p)
		}
		if err := c.Delete(names[2], -1); err != nil {
			t.Fatal(err)
		}
		p, err := c.Create(seqParent+"/s-", nil, zk.FlagEphemeralSequential, openACL)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, p)
		want := []string{"s-0000000000", "s-0000000001", "s-0000000002", "s-0000000003"}
		for i, n := range names {
			if n != seqParent+"/"+want[i] {
				t.Fatalf("sequential names %v, want suffixes %v", names, want)
			}
		}

		// Container: reaped once its last child is gone.
		ctr := root + "/ctr"
		if _, err := c.CreateContainer(ctr, nil, zk.FlagContainer, openACL); err != nil {
			t.Fatal(err)
		}
		_, cst, err := c.Exists(ctr)
		if err != nil || cst.EphemeralOwner != 0 {
			t.Fatalf("container stat %+v %v (owner must read 0)", cst, err)
		}
		if _, err := c.Create(ctr+"/k", nil, 0, openACL); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctr+"/k", -1); err != nil {
			t.Fatal(err)
		}
		_, _, gone, err := c.ExistsW(ctr)
		if err != nil {
			t.Fatal(err)
		}
		if e := waitEvent(t, gone); e.Type != zk.EventNodeDeleted || e.Path != ctr {
			t.Fatalf("container event %+v", e)
		}

		// A container that never had a child stays (no maxNeverUsedIntervalMs).
		idle := root + "/idle-ctr"
		if _, err := c.CreateContainer(idle, nil, zk.FlagContainer, openACL); err != nil {
			t.Fatal(err)
		}

		// TTL: an empty TTL node is reaped once its ttl has passed.
		ttl := root + "/ttl"
		if _, err := c.CreateTTL(ttl, nil, zk.FlagTTL, openACL, 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		_, tst, err := c.Exists(ttl)
		if err != nil || tst.EphemeralOwner != 0 {
			t.Fatalf("ttl stat %+v %v (owner must read 0)", tst, err)
		}
		_, _, ttlGone, err := c.ExistsW(ttl)
		if err != nil {
			t.Fatal(err)
		}
		if e := waitEvent(t, ttlGone); e.Type != zk.EventNodeDeleted {
			t.Fatalf("ttl event %+v", e)
		}
		seqTTL, err := c.CreateTTL(root+"/ttlseq-", nil, zk.FlagPersistentSequentialWithTTL, openACL, time.Hour)
		if err != nil || !regexp.MustCompile(`/ttlseq-\d{10}$`).MatchString(seqTTL) {
			t.Fatalf("sequential ttl = %q, %v", seqTTL, err)
		}
		if ok, _, err := c.Exists(idle); err != nil || !ok {
			t.Fatalf("never-used container was reaped: %v %v", ok, err)
		}
		if ok, _, err := c.Exists(seqTTL); err != nil || !ok {
			t.Fatalf("hour-long ttl node was reaped: %v %v", ok, err)
		}
	})
}

func TestGoMulti(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		c, _ := goConnect(t, srv.Addr, 10*time.Second)
		a, b := root+"/a", root+"/b"
		res, err := c.Multi(
			&zk.CreateRequest{Path: a, Data: []byte("1"), Acl: openACL},
			&zk.CreateRequest{Path: b, Acl: openACL},
			&zk.SetDataRequest{Path: a, Data: []byte("2"), Version: 0},
			&zk.CheckVersionRequest{Path: a, Version: 1},
		)
		if err != nil || len(res) != 4 {
			t.Fatalf("multi = %+v, %v", res, err)
		}
		if res[0].String != a || res[1].String != b || res[2].Stat == nil || res[2].Stat.Version != 1 {
			t.Fatalf("results %+v", res)
		}
		// A failing op aborts all of it: b is not deleted.
		res, err = c.Multi(
			&zk.DeleteRequest{Path: b, Version: -1},
			&zk.SetDataRequest{Path: a, Data: []byte("3"), Version: 7},
			&zk.CreateRequest{Path: root + "/c", Acl: openACL},
		)
		if !errors.Is(err, zk.ErrBadVersion) {
			t.Fatalf("failing multi err = %v, want ErrBadVersion", err)
		}
		if len(res) != 3 || res[0].Error != nil || !errors.Is(res[1].Error, zk.ErrBadVersion) || res[2].Error == nil {
			t.Fatalf("failing multi results %+v", res)
		}
		for _, p := range []string{a, b} {
			if ok, _, _ := c.Exists(p); !ok {
				t.Fatalf("%s vanished after an aborted multi", p)
			}
		}
		if ok, _, _ := c.Exists(root + "/c"); ok {
			t.Fatal("aborted multi created /c")
		}
		data, st, _ := c.Get(a)
		if string(data) != "2" || st.Version != 1 {
			t.Fatalf("a = %q %+v after aborted multi", data, st)
		}
	})
}

func TestGoWatches(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		c, _ := goConnect(t, srv.Addr, 10*time.Second)
		w, _ := goConnect(t, srv.AddrFor(1), 10*time.Second)
		p := root + "/w"

		ok, _, existsCh, err := w.ExistsW(p)
		if err != nil || ok {
			t.Fatal(ok, err)
		}
		_, _, childCh, err := w.ChildrenW(root)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Create(p, []byte("a"), 0, openACL); err != nil {
			t.Fatal(err)
		}
		if e := waitEvent(t, existsCh); e.Type != zk.EventNodeCreated || e.Path != p {
			t.Fatalf("exists watch %+v", e)
		}
		if e := waitEvent(t, childCh); e.Type != zk.EventNodeChildrenChanged || e.Path != root {
			t.Fatalf("child watch %+v", e)
		}
		_, _, dataCh, err := w.GetW(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Set(p, []byte("b"), -1); err != nil {
			t.Fatal(err)
		}
		if e := waitEvent(t, dataCh); e.Type != zk.EventNodeDataChanged || e.Path != p {
			t.Fatalf("data watch %+v", e)
		}
		// One-shot: a second change fires nothing on the spent watch, and a
		// fresh watch sees only the delete.
		if _, err := c.Set(p, []byte("c"), -1); err != nil {
			t.Fatal(err)
		}
		goCatchUp(t, srv, w, p)
		_, _, dataCh2, err := w.GetW(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(p, -1); err != nil {
			t.Fatal(err)
		}
		if e := waitEvent(t, dataCh2); e.Type != zk.EventNodeDeleted {
			t.Fatalf("data watch on delete %+v", e)
		}
		select {
		case e, ok := <-dataCh:
			if ok {
				t.Fatalf("spent one-shot watch fired again: %+v", e)
			}
		default:
		}
	})
}

func TestGoACLs(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		owner, _ := goConnect(t, srv.Addr, 10*time.Second)
		anon, _ := goConnect(t, srv.AddrFor(1), 10*time.Second)
		if err := owner.AddAuth("digest", []byte("alice:pw")); err != nil {
			t.Fatal(err)
		}
		p := root + "/secret"
		if _, err := owner.Create(p, []byte("s"), 0, zk.DigestACL(zk.PermAll, "alice", "pw")); err != nil {
			t.Fatal(err)
		}
		goCatchUp(t, srv, anon, p)
		if _, _, err := anon.Get(p); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("anonymous get: %v, want ErrNoAuth", err)
		}
		if _, err := anon.Set(p, nil, -1); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("anonymous set: %v, want ErrNoAuth", err)
		}
		if _, err := anon.Create(p+"/k", nil, 0, openACL); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("anonymous create child: %v, want ErrNoAuth", err)
		}
		if _, _, err := owner.Get(p); err != nil {
			t.Fatalf("owner get: %v", err)
		}
		acl, _, err := owner.GetACL(p)
		if err != nil || len(acl) != 1 || acl[0].Scheme != "digest" || acl[0].ID != zkraw.DigestID("alice", "pw") {
			t.Fatalf("getACL = %+v, %v", acl, err)
		}
		// "auth" expands to the creator's authenticated ids.
		q := root + "/creator"
		if _, err := owner.Create(q, nil, 0, zk.AuthACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		acl, _, _ = owner.GetACL(q)
		if len(acl) != 1 || acl[0].ID != zkraw.DigestID("alice", "pw") {
			t.Fatalf("auth ACL expanded to %+v", acl)
		}
		if _, err := anon.Create(root+"/x", nil, 0, zk.AuthACL(zk.PermAll)); !errors.Is(err, zk.ErrInvalidACL) {
			t.Fatalf("auth ACL without auth: %v, want ErrInvalidACL", err)
		}
		// Read-only world ACL: reads work, writes do not.
		r := root + "/ro"
		if _, err := owner.Create(r, []byte("r"), 0, zk.WorldACL(zk.PermRead)); err != nil {
			t.Fatal(err)
		}
		goCatchUp(t, srv, anon, r)
		if _, _, err := anon.Get(r); err != nil {
			t.Fatal(err)
		}
		if _, err := anon.Set(r, nil, -1); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("set on read-only: %v", err)
		}
		// ip scheme: the loopback address matches, another does not.
		ip := root + "/ip"
		if _, err := owner.Create(ip, []byte("i"), 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.1"}}); err != nil {
			t.Fatal(err)
		}
		goCatchUp(t, srv, anon, ip)
		if _, _, err := anon.Get(ip); err != nil {
			t.Fatalf("get with matching ip ACL: %v", err)
		}
		ip2 := root + "/ip2"
		if _, err := owner.Create(ip2, nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "ip", ID: "10.1.2.0/24"}}); err != nil {
			t.Fatal(err)
		}
		goCatchUp(t, srv, anon, ip2)
		if _, _, err := anon.Get(ip2); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("get with foreign ip ACL: %v", err)
		}
		// setACL needs ADMIN and checks aversion.
		if _, err := owner.SetACL(r, openACL, -1); !errors.Is(err, zk.ErrNoAuth) {
			t.Fatalf("setACL without ADMIN: %v, want ErrNoAuth", err)
		}
		if _, err := owner.SetACL(q, openACL, 3); !errors.Is(err, zk.ErrBadVersion) {
			t.Fatalf("setACL wrong aversion: %v", err)
		}
		st, err := owner.SetACL(ip, openACL, 0)
		if err != nil || st.Aversion != 1 {
			t.Fatalf("setACL = %+v %v", st, err)
		}
		// Super digest can do anything.
		su, _ := goConnect(t, srv.AddrFor(2), 10*time.Second)
		if err := su.AddAuth("digest", []byte(superUser+":"+superPass)); err != nil {
			t.Fatal(err)
		}
		if _, err := su.Set(p, []byte("by super"), -1); err != nil {
			t.Fatalf("super set: %v", err)
		}
		if err := su.Delete(p, -1); err != nil {
			t.Fatalf("super delete: %v", err)
		}
		if _, err := su.SetACL(ip2, openACL, -1); err != nil {
			t.Fatalf("super setACL without ADMIN entry: %v", err)
		}
		goCatchUp(t, srv, anon, ip2)
		if _, _, err := anon.Get(ip2); err != nil {
			t.Fatalf("get after super opened the ACL: %v", err)
		}
	})
}

// TestGoSessionSurvivesConnectionDrop cuts the TCP connection under a live
// session: the client re-attaches with the same session id and its
// ephemeral is still there.
func TestGoSessionSurvivesConnectionDrop(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		px, err := proxy.Start(srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer px.Close()
		c, ev := goConnect(t, px.Addr, 10*time.Second)
		sid := c.SessionID()
		eph := root + "/eph"
		if _, err := c.Create(eph, nil, zk.FlagEphemeral, openACL); err != nil {
			t.Fatal(err)
		}
		px.DropAll()
		waitState(t, ev, zk.StateDisconnected)
		waitState(t, ev, zk.StateHasSession)
		if c.SessionID() != sid {
			t.Fatalf("session changed %x -> %x", sid, c.SessionID())
		}
		_, st, err := c.Exists(eph)
		if err != nil || st == nil || st.EphemeralOwner != sid {
			t.Fatalf("ephemeral after reconnect %+v %v", st, err)
		}
	})
}

// TestGoSessionExpiry keeps a client away longer than its session timeout:
// its ephemeral is deleted (a watcher sees it) and the client, once back,
// is told its session expired.
func TestGoSessionExpiry(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		px, err := proxy.Start(srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer px.Close()
		c, ev := goConnect(t, px.Addr, 4*time.Second)
		watcher, _ := goConnect(t, srv.AddrFor(1), 10*time.Second)
		eph := root + "/eph"
		if _, err := c.Create(eph, nil, zk.FlagEphemeral, openACL); err != nil {
			t.Fatal(err)
		}
		goCatchUp(t, srv, watcher, eph)
		ok, _, ch, err := watcher.ExistsW(eph)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		px.SetBlocked(true)
		px.DropAll()
		if e := waitEvent(t, ch); e.Type != zk.EventNodeDeleted || e.Path != eph {
			t.Fatalf("watcher event %+v", e)
		}
		px.SetBlocked(false)
		waitState(t, ev, zk.StateExpired)
	})
}
