package datatree

import (
	"errors"
	"reflect"
	"sort"
	"testing"
	"unsafe"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

func TestNodeStructSizes(t *testing.T) {
	if s := unsafe.Sizeof(node{}); s > 64 {
		t.Fatalf("node is %d bytes; keep it within the 64-byte size class", s)
	}
	if s := unsafe.Sizeof(nodeExt{}); s > 32 {
		t.Fatalf("nodeExt is %d bytes; keep it within the 32-byte size class", s)
	}
}

func TestNewTree(t *testing.T) {
	tr := New()
	st := tr.Stats()
	if st.NodeCount != 5 {
		t.Fatalf("NodeCount = %d, want 5 like ZooKeeper", st.NodeCount)
	}
	// ZooKeeper: "" 0 + "/" 1 + /zookeeper 10 + /zookeeper/quota 16 + /zookeeper/config 17.
	if st.ApproxDataSize != 44 {
		t.Fatalf("ApproxDataSize = %d, want 44", st.ApproxDataSize)
	}
	info, ok := tr.Node(ConfigPath)
	if !ok || !reflect.DeepEqual(info.ACL, jute.ReadACLUnsafe) || info.Stat.Aversion != -1 {
		t.Fatalf("config node: %+v %v", info, ok)
	}
	for _, p := range []string{"/", ZookeeperPath, QuotaPath} {
		info, ok := tr.Node(p)
		if !ok || !reflect.DeepEqual(info.ACL, jute.OpenACLUnsafe) || info.Stat != (jute.Stat{NumChildren: info.Stat.NumChildren}) {
			t.Fatalf("%s: %+v", p, info)
		}
	}
	kids, _, _ := tr.GetChildren("/zookeeper", nil, nil)
	sort.Strings(kids)
	if !reflect.DeepEqual(kids, []string{"config", "quota"}) {
		t.Fatalf("/zookeeper children %v", kids)
	}
	if n, _ := tr.AllChildrenNumber("/", nil); n != 3 {
		t.Fatalf("AllChildrenNumber(/) = %d, want 3", n)
	}
	checkInvariants(t, tr)
}

func TestLookupNonCanonical(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/a", "")
	a.mustCreate("/a/b", "")
	for _, p := range []string{"a", "/a/", "//a", "/a//b", "/a/b/", "/x"} {
		if _, ok := a.tree.Node(p); ok {
			t.Errorf("%q resolved", p)
		}
		if _, _, err := a.tree.GetData(p, nil, nil); !errors.Is(err, zkerr.NoNode) {
			t.Errorf("GetData(%q) = %v", p, err)
		}
	}
	if _, ok := a.tree.Node(""); !ok {
		t.Error(`"" should alias root as in ZooKeeper`)
	}
}

func TestCreateAndCversion(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/q", "")
	for i := 0; i < 4; i++ {
		if r := a.create("/q/", "x", jute.FlagPersistentSequential, 0); r.Err != 0 {
			t.Fatal(r.Err)
		}
	}
	st := a.stat("/q")
	if st.Cversion != 4 || st.NumChildren != 4 {
		t.Fatalf("after 4 creates: cversion %d children %d", st.Cversion, st.NumChildren)
	}
	createZxid := st.Pzxid
	r := a.del("/q/0000000000")
	if r.Err != 0 {
		t.Fatal(r.Err)
	}
	st = a.stat("/q")
	info, _ := a.tree.Node("/q")
	if st.Cversion != 5 || info.Stat.Cversion != 4 {
		t.Fatalf("after delete: client cversion %d (want 5), stored %d (want 4)", st.Cversion, info.Stat.Cversion)
	}
	if st.Pzxid != a.zxid || st.Pzxid == createZxid {
		t.Fatalf("delete must set pzxid to its zxid: %d", st.Pzxid)
	}
	r = a.create("/q/", "x", jute.FlagPersistentSequential, 0)
	if r.Path != "/q/0000000004" {
		t.Fatalf("next sequential = %s, want /q/0000000004", r.Path)
	}
	// create2 returns the new node's stat.
	if r.Stat.Czxid != a.zxid || r.Stat.Mzxid != a.zxid || r.Stat.Pzxid != a.zxid || r.Stat.DataLength != 1 || r.Stat.Ctime != a.time {
		t.Fatalf("create2 stat %+v", r.Stat)
	}
	checkInvariants(t, a.tree)
}

func TestParentCVersionMinusOne(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/p", "")
	r := a.apply(jute.OpCreate, 0, &jute.CreateTxn{Path: "/p/c", ACL: jute.OpenACLUnsafe, ParentCVersion: -1})
	if r.Err != 0 || r.Stat != (jute.Stat{}) {
		t.Fatalf("create (op 1) result %+v", r)
	}
	if info, _ := a.tree.Node("/p"); info.Stat.Cversion != 1 || info.Stat.Pzxid != a.zxid {
		t.Fatalf("parent stat %+v", info.Stat)
	}
}

func TestApplyErrors(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/a", "v")
	a.mustCreate("/a/b", "")
	before := dump(a.tree)
	digest := a.tree.Digest()
	for _, tc := range []struct {
		name string
		typ  int32
		rec  jute.Record
		want zkerr.Code
	}{
		{"create no parent", jute.OpCreate, &jute.CreateTxn{Path: "/x/y", ParentCVersion: -1}, zkerr.NoNode},
		{"create root", jute.OpCreate, &jute.CreateTxn{Path: "/", ParentCVersion: -1}, zkerr.NodeExists},
		{"create bad path", jute.OpCreate, &jute.CreateTxn{Path: "/a/", ParentCVersion: -1}, zkerr.BadArguments},
		{"delete not empty", jute.OpDelete, &jute.PathRecord{Path: "/a"}, zkerr.NotEmpty},
		{"delete no parent", jute.OpDelete, &jute.PathRecord{Path: "/x/y"}, zkerr.NoNode},
		{"setData missing", jute.OpSetData, &jute.SetDataTxn{Path: "/nope", Version: 1}, zkerr.NoNode},
		{"setACL missing", jute.OpSetACL, &jute.SetACLTxn{Path: "/nope", Version: 1}, zkerr.NoNode},
		{"error txn", jute.OpError, &jute.IntRecord{Value: int32(zkerr.BadVersion)}, zkerr.BadVersion},
		{"check", jute.OpCheck, &jute.PathVersionRequest{Path: "/a", Version: 1}, zkerr.OK},
		{"createSession", jute.OpCreateSession, &jute.IntRecord{Value: 30000}, zkerr.OK},
		{"wrong record", jute.OpSetData, &jute.PathRecord{Path: "/a"}, zkerr.MarshallingError},
		{"unknown type", 99, &jute.PathRecord{Path: "/a"}, zkerr.Unimplemented},
	} {
		r := a.apply(tc.typ, 0, tc.rec)
		if r.Err != tc.want {
			t.Errorf("%s: err %v, want %v", tc.name, r.Err, tc.want)
		}
		if r.Type != tc.typ {
			t.Errorf("%s: type %d", tc.name, r.Type)
		}
	}
	if got := dump(a.tree); got != before {
		t.Fatalf("failed txns changed the tree:\n%s\n---\n%s", before, got)
	}
	if a.tree.Digest() != digest {
		t.Fatal("failed txns changed the digest")
	}
	if a.tree.LastZxid() != a.zxid {
		t.Fatalf("LastZxid %d, want %d (failed txns still consume zxids)", a.tree.LastZxid(), a.zxid)
	}
	checkInvariants(t, a.tree)
}

func TestReplayIdempotence(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/p", "")
	a.mustCreate("/p/c", "")
	// A create hitting NODEEXISTS (replay) only moves parent cversion/pzxid forward.
	r := a.apply(jute.OpCreate, 0, &jute.CreateTxn{Path: "/p/c", Data: []byte("other"), ACL: jute.OpenACLUnsafe, ParentCVersion: 5})
	if r.Err != zkerr.NodeExists {
		t.Fatal(r.Err)
	}
	info, _ := a.tree.Node("/p")
	if info.Stat.Cversion != 5 || info.Stat.Pzxid != a.zxid {
		t.Fatalf("parent after replayed create: %+v", info.Stat)
	}
	if d, _, _ := a.tree.GetData("/p/c", nil, nil); len(d) != 0 {
		t.Fatal("replayed create overwrote data")
	}
	// A smaller parentCVersion must not roll back.
	z := a.zxid
	a.apply(jute.OpCreate, 0, &jute.CreateTxn{Path: "/p/c", ParentCVersion: 3})
	if info, _ := a.tree.Node("/p"); info.Stat.Cversion != 5 || info.Stat.Pzxid != z {
		t.Fatalf("rolled back: %+v", info.Stat)
	}
	// Delete of a missing child still advances the parent's pzxid.
	r = a.del("/p/gone")
	if r.Err != zkerr.NoNode {
		t.Fatal(r.Err)
	}
	if info, _ := a.tree.Node("/p"); info.Stat.Pzxid != a.zxid || info.Stat.Cversion != 5 {
		t.Fatalf("after missing delete: %+v", info.Stat)
	}
	checkInvariants(t, a.tree)
}

func TestSetDataSetACL(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/n", "one")
	r := a.set("/n", "two!")
	if r.Err != 0 || r.Stat.Version != 1 || r.Stat.Mzxid != a.zxid || r.Stat.Mtime != a.time || r.Stat.DataLength != 4 {
		t.Fatalf("setData result %+v", r)
	}
	d, st, _ := a.tree.GetData("/n", nil, nil)
	if string(d) != "two!" || st.Czxid == st.Mzxid {
		t.Fatalf("data %q stat %+v", d, st)
	}
	acl := []jute.ACL{{Perms: jute.PermRead, ID: jute.Id{Scheme: "digest", ID: "bob:x"}}}
	r = a.apply(jute.OpSetACL, 0, &jute.SetACLTxn{Path: "/n", ACL: acl, Version: 1})
	if r.Err != 0 || r.Stat.Aversion != 1 || r.Stat.Version != 1 {
		t.Fatalf("setACL result %+v", r)
	}
	got, _, _ := a.tree.GetACL("/n")
	if !reflect.DeepEqual(got, acl) {
		t.Fatalf("ACL %v", got)
	}
	got[0].Perms = 0 // GetACL returns a copy
	if info, _ := a.tree.Node("/n"); info.ACL[0].Perms != jute.PermRead {
		t.Fatal("GetACL leaked the cached list")
	}
	// Null data stays null; empty stays empty.
	a.apply(jute.OpCreate, 0, &jute.CreateTxn{Path: "/nil", Data: nil, ParentCVersion: -1, ACL: jute.OpenACLUnsafe})
	a.apply(jute.OpCreate, 0, &jute.CreateTxn{Path: "/empty", Data: []byte{}, ParentCVersion: -1, ACL: jute.OpenACLUnsafe})
	if d, _, _ := a.tree.GetData("/nil", nil, nil); d != nil {
		t.Fatal("null data became non-null")
	}
	if d, _, _ := a.tree.GetData("/empty", nil, nil); d == nil {
		t.Fatal("empty data became null")
	}
	checkInvariants(t, a.tree)
}

func TestACLInterning(t *testing.T) {
	a := newApplier(t)
	for i := 0; i < 100; i++ {
		a.mustCreate("/n"+string(rune('a'+i%26))+string(rune('a'+i/26)), "")
	}
	if got := a.tree.acls.size(); got != 2 { // READ for /zookeeper/config + OPEN
		t.Fatalf("ACL cache holds %d lists, want 2", got)
	}
	custom := []jute.ACL{{Perms: 1, ID: jute.Id{Scheme: "ip", ID: "10.0.0.1"}}}
	a.apply(jute.OpCreate, 0, &jute.CreateTxn{Path: "/c", ACL: custom, ParentCVersion: -1})
	if a.tree.acls.size() != 3 {
		t.Fatal("custom ACL not interned")
	}
	a.del("/c")
	if a.tree.acls.size() != 2 {
		t.Fatal("unused ACL not released")
	}
}

func TestEphemeralsAndCloseSession(t *testing.T) {
	a := newApplier(t)
	const s1, s2 = 0x100, 0x200
	a.mustCreate("/e", "")
	for _, p := range []string{"/e/a", "/e/b", "/e/c"} {
		if r := a.create(p, "", jute.FlagEphemeral, s1); r.Err != 0 {
			t.Fatal(r.Err)
		}
	}
	a.create("/e/x", "", jute.FlagEphemeral, s2)
	info, _ := a.tree.Node("/e/a")
	if info.Stat.EphemeralOwner != s1 || a.stat("/e/a").EphemeralOwner != s1 {
		t.Fatal("ephemeral owner not recorded")
	}
	if got := a.tree.Ephemerals(s1); !reflect.DeepEqual(got, []string{"/e/a", "/e/b", "/e/c"}) {
		t.Fatalf("Ephemerals = %v", got)
	}
	if got := a.tree.SessionsWithEphemerals(); len(got) != 2 || len(got[s2]) != 1 {
		t.Fatalf("SessionsWithEphemerals = %v", got)
	}
	if a.tree.Stats().EphemeralCount != 4 {
		t.Fatal("EphemeralCount")
	}
	// The txn lists /e/a only (and a missing path); the remaining ephemerals
	// of the session go too, as in ZooKeeper's killSession.
	a.apply(jute.OpCloseSession, s1, &jute.CloseSessionTxn{Paths: []string{"/e/a", "/e/missing"}, Present: true})
	if got := a.tree.Ephemerals(s1); got != nil {
		t.Fatalf("left after close: %v", got)
	}
	// Legacy empty body: all ephemerals of the session.
	a.apply(jute.OpCloseSession, s2, &jute.CloseSessionTxn{})
	kids, st, _ := a.tree.GetChildren("/e", nil, nil)
	if len(kids) != 0 || st.Pzxid != a.zxid || st.Cversion != 8 {
		t.Fatalf("/e after closes: %v %+v", kids, st)
	}
	checkInvariants(t, a.tree)
}

func TestContainersAndTTL(t *testing.T) {
	a := newApplier(t)
	r := a.apply(jute.OpCreateContainer, 0, &jute.CreateContainerTxn{Path: "/c", ACL: jute.OpenACLUnsafe, ParentCVersion: -1})
	if r.Err != 0 || r.Stat.EphemeralOwner != 0 {
		t.Fatalf("container result %+v", r)
	}
	if info, _ := a.tree.Node("/c"); info.Stat.EphemeralOwner != ContainerOwner || IsEphemeral(info.Stat.EphemeralOwner) {
		t.Fatal("container owner encoding")
	}
	a.apply(jute.OpCreateContainer, 0, &jute.CreateContainerTxn{Path: "/never", ACL: jute.OpenACLUnsafe, ParentCVersion: -1})
	r = a.apply(jute.OpCreateTTL, 0, &jute.CreateTTLTxn{Path: "/t", ACL: jute.OpenACLUnsafe, ParentCVersion: -1, TTL: 500})
	if r.Err != 0 || r.Stat.EphemeralOwner != 0 {
		t.Fatalf("ttl result %+v", r)
	}
	info, _ := a.tree.Node("/t")
	if !IsTTL(info.Stat.EphemeralOwner) || TTLOf(info.Stat.EphemeralOwner) != 500 || uint64(info.Stat.EphemeralOwner) != 0xFF000000000001F4 {
		t.Fatalf("ttl owner %#x", uint64(info.Stat.EphemeralOwner))
	}
	now := a.time
	// Nothing yet: the container never had a child, the TTL has not passed.
	if got := a.tree.ReapCandidates(now, 0, 0); len(got) != 0 {
		t.Fatalf("early candidates %v", got)
	}
	a.mustCreate("/c/kid", "")
	if got := a.tree.ReapCandidates(now, 0, 0); len(got) != 0 {
		t.Fatalf("non-empty container is a candidate: %v", got)
	}
	a.del("/c/kid")
	if got := a.tree.ReapCandidates(now, 0, 0); !reflect.DeepEqual(got, []string{"/c"}) {
		t.Fatalf("candidates %v, want [/c]", got)
	}
	got := a.tree.ReapCandidates(now+1000, 100, 0)
	if !reflect.DeepEqual(got, []string{"/c", "/never", "/t"}) {
		t.Fatalf("late candidates %v", got)
	}
	if got := a.tree.ReapCandidates(now+1000, 100, 2); len(got) != 2 {
		t.Fatalf("limit ignored: %v", got)
	}
	// A TTL node with children is kept.
	a.mustCreate("/t/kid", "")
	if got := a.tree.ReapCandidates(now+1000, 0, 0); !reflect.DeepEqual(got, []string{"/c"}) {
		t.Fatalf("candidates %v", got)
	}
	a.apply(jute.OpDeleteContainer, 0, &jute.PathRecord{Path: "/c"})
	if _, ok := a.tree.Node("/c"); ok {
		t.Fatal("deleteContainer did not delete")
	}
	st := a.tree.Stats()
	if st.Containers != 1 || st.TTLNodes != 1 || st.EphemeralCount != 0 {
		t.Fatalf("stats %+v", st)
	}
	checkInvariants(t, a.tree)
}

func subTxn(typ int32, rec jute.Record) jute.SubTxn {
	return jute.SubTxn{Type: typ, Data: jute.Marshal(rec)}
}

func TestMultiSuccess(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/m", "v")
	mt := &jute.MultiTxn{Txns: []jute.SubTxn{
		subTxn(jute.OpCreate, &jute.CreateTxn{Path: "/m/a", ACL: jute.OpenACLUnsafe, ParentCVersion: 1}),
		subTxn(jute.OpCreate2, &jute.CreateTxn{Path: "/m/b", ACL: jute.OpenACLUnsafe, ParentCVersion: 2}),
		subTxn(jute.OpCreateContainer, &jute.CreateContainerTxn{Path: "/m/c", ACL: jute.OpenACLUnsafe, ParentCVersion: 3}),
		subTxn(jute.OpCreateTTL, &jute.CreateTTLTxn{Path: "/m/t", ACL: jute.OpenACLUnsafe, ParentCVersion: 4, TTL: 9}),
		subTxn(jute.OpSetData, &jute.SetDataTxn{Path: "/m", Data: []byte("w"), Version: 1}),
		subTxn(jute.OpCheck, &jute.PathVersionRequest{Path: "/m", Version: 2}),
		subTxn(jute.OpDelete, &jute.PathRecord{Path: "/m/a"}),
	}}
	r := a.apply(jute.OpMulti, 0, mt)
	if r.Err != 0 || r.Type != jute.OpMulti || len(r.Multi) != 7 {
		t.Fatalf("multi %+v", r)
	}
	wantTypes := []int32{1, 15, 15, 15, 5, 13, 2}
	for i, m := range r.Multi {
		if m.Type != wantTypes[i] || m.Err != 0 {
			t.Errorf("result %d: type %d err %v", i, m.Type, m.Err)
		}
	}
	if r.Multi[0].Path != "/m/a" || r.Multi[0].Stat != (jute.Stat{}) {
		t.Errorf("create result %+v", r.Multi[0])
	}
	if r.Multi[1].Stat.Czxid != a.zxid || r.Multi[2].Path != "/m/c" {
		t.Errorf("create2/container results %+v %+v", r.Multi[1], r.Multi[2])
	}
	if r.Multi[4].Stat.Version != 1 {
		t.Errorf("setData result %+v", r.Multi[4])
	}
	if failed, _ := r.Failed(); failed {
		t.Error("successful multi reports failure")
	}
	st := a.stat("/m")
	if st.NumChildren != 3 || st.Version != 1 || st.Pzxid != a.zxid || st.Mzxid != a.zxid {
		t.Fatalf("/m after multi %+v", st)
	}
	checkInvariants(t, a.tree)
}

func TestMultiFailureAppliesNothing(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/m", "v")
	w := &recorder{id: 1}
	a.tree.GetData("/m", nil, w)
	before := dump(a.tree)
	// Prep turned the failing op and the ops after it into error txns; the
	// ops before keep their real sub-txns.
	mt := &jute.MultiTxn{Txns: []jute.SubTxn{
		subTxn(jute.OpCreate, &jute.CreateTxn{Path: "/m/a", ACL: jute.OpenACLUnsafe, ParentCVersion: 1}),
		subTxn(jute.OpSetData, &jute.SetDataTxn{Path: "/m", Data: []byte("x"), Version: 1}),
		subTxn(jute.OpError, &jute.IntRecord{Value: int32(zkerr.BadVersion)}),
		subTxn(jute.OpError, &jute.IntRecord{Value: int32(zkerr.RuntimeInconsistency)}),
	}}
	r := a.apply(jute.OpMulti, 0, mt)
	if r.Err != 0 {
		t.Fatalf("failed multi header err %v, want 0", r.Err)
	}
	wantErr := []zkerr.Code{0, 0, zkerr.BadVersion, zkerr.RuntimeInconsistency}
	for i, m := range r.Multi {
		if m.Type != jute.OpError || m.Err != wantErr[i] {
			t.Errorf("result %d = type %d err %v, want -1/%v", i, m.Type, m.Err, wantErr[i])
		}
	}
	if failed, code := r.Failed(); !failed || code != zkerr.BadVersion {
		t.Fatalf("Failed() = %v %v", failed, code)
	}
	if got := dump(a.tree); got != before {
		t.Fatal("failed multi changed the tree")
	}
	if evs := w.take(); len(evs) != 0 {
		t.Fatalf("failed multi fired %v", evs)
	}
	// A malformed sub-txn: nothing applied.
	bad := &jute.MultiTxn{Txns: []jute.SubTxn{
		subTxn(jute.OpCreate, &jute.CreateTxn{Path: "/m/z", ACL: jute.OpenACLUnsafe, ParentCVersion: 1}),
		{Type: jute.OpSetData, Data: []byte{1, 2}},
	}}
	r = a.apply(jute.OpMulti, 0, bad)
	if r.Multi[0].Err != zkerr.MarshallingError || dump(a.tree) != before {
		t.Fatalf("malformed multi: %+v", r)
	}
	// Empty multi.
	if r := a.apply(jute.OpMulti, 0, &jute.MultiTxn{}); r.Err != 0 || len(r.Multi) != 0 {
		t.Fatalf("empty multi %+v", r)
	}
}

func TestAllChildrenNumberAndChecks(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/a", "")
	a.mustCreate("/a/b", "")
	a.mustCreate("/a/b/c", "")
	a.mustCreate("/a/d", "")
	if n, _ := a.tree.AllChildrenNumber("/a", nil); n != 3 {
		t.Fatalf("AllChildrenNumber(/a) = %d", n)
	}
	if n, _ := a.tree.AllChildrenNumber("/", nil); n != 7 {
		t.Fatalf("AllChildrenNumber(/) = %d", n)
	}
	deny := func([]jute.ACL) error { return zkerr.NoAuth }
	w := &recorder{id: 1}
	if _, _, err := a.tree.GetData("/a", deny, w); !errors.Is(err, zkerr.NoAuth) {
		t.Fatal(err)
	}
	if _, err := a.tree.Exists("/a", deny, w); !errors.Is(err, zkerr.NoAuth) {
		t.Fatal(err)
	}
	if _, _, err := a.tree.GetChildren("/a", deny, w); !errors.Is(err, zkerr.NoAuth) {
		t.Fatal(err)
	}
	if _, err := a.tree.AllChildrenNumber("/a", deny); !errors.Is(err, zkerr.NoAuth) {
		t.Fatal(err)
	}
	if s := a.tree.Stats(); s.WatchCount != 0 {
		t.Fatalf("a denied read registered a watch: %+v", s)
	}
}

func TestSetLocalConfigLeavesDigest(t *testing.T) {
	tr := New()
	d := tr.Digest()
	tr.SetLocalConfig([]byte("server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\nversion=0"))
	if tr.Digest() != d {
		t.Fatal("the local config changed the digest")
	}
	data, _, err := tr.GetData(ConfigPath, nil, nil)
	if err != nil || string(data) != "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\nversion=0" {
		t.Fatalf("GetData(/zookeeper/config) = %q, %v", data, err)
	}
}
