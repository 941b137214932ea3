package pipeline

import (
	"errors"
	"testing"

	"github.com/zabkit/zabkit/core/auth"
	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/session"
	"github.com/zabkit/zabkit/core/zkerr"
)

type prepHarness struct {
	t     *testing.T
	tree  *datatree.Tree
	sess  *session.Tracker
	p     *Prepper
	queue []*Request
}

func newHarness(t *testing.T) *prepHarness {
	tree := datatree.New()
	sess := session.NewTracker(1000, 0x100)
	sess.Add(1, 30000, 0)
	sess.Add(2, 30000, 0)
	p := NewPrepper(PrepConfig{Auth: &auth.Config{}, ExtendedTypesEnabled: true, Now: func() int64 { return 1000 }}, tree, sess, 0)
	return &prepHarness{t: t, tree: tree, sess: sess, p: p}
}

// prep preps without applying, so later requests see only outstanding
// changes.
func (h *prepHarness) prep(sid int64, op int32, rec jute.Record) *Request {
	r := &Request{SessionID: sid, Op: op, Record: rec}
	h.p.Prep(r, func(r *Request) { h.queue = append(h.queue, r) })
	return r
}

func (h *prepHarness) applyAll() []datatree.Result {
	var out []datatree.Result
	for _, r := range h.queue {
		// Round-trip through the log encoding, as recovery would.
		txn, err := jute.DecodeTxn(r.Data)
		if err != nil {
			h.t.Fatalf("decode txn %#x: %v", r.Hdr.Zxid, err)
		}
		out = append(out, h.tree.Apply(&txn.Header, txn.Record))
		h.p.Applied(r)
	}
	h.queue = nil
	return out
}

func create(path string, flags int32) *jute.CreateRequest {
	return &jute.CreateRequest{Path: path, ACL: jute.OpenACLUnsafe, Flags: flags}
}

func TestPrepSeesOutstandingChanges(t *testing.T) {
	h := newHarness(t)
	a := h.prep(1, jute.OpCreate, create("/a", 0))
	b := h.prep(1, jute.OpCreate, create("/a/b", 0)) // parent only outstanding
	dup := h.prep(1, jute.OpCreate, create("/a", 0)) // NODEEXISTS from outstanding
	del := h.prep(1, jute.OpDelete, &jute.PathVersionRequest{Path: "/a", Version: -1})
	s1 := h.prep(1, jute.OpCreate, create("/a/s", jute.FlagPersistentSequential))
	if a.Err != 0 || b.Err != 0 || s1.Err != 0 {
		t.Fatalf("errs %v %v %v", a.Err, b.Err, s1.Err)
	}
	if dup.Err != zkerr.NodeExists || del.Err != zkerr.NotEmpty {
		t.Fatalf("dup=%v del=%v", dup.Err, del.Err)
	}
	if got := s1.Txn.(*jute.CreateTxn).Path; got != "/a/s0000000001" {
		t.Fatalf("sequential suffix must count outstanding creates: %s", got)
	}
	for i, r := range []*Request{a, b, dup, del, s1} {
		if r.Hdr.Zxid != int64(i+1) {
			t.Fatalf("every write consumes a zxid: request %d got %#x", i, r.Hdr.Zxid)
		}
	}
	res := h.applyAll()
	if res[2].Err != zkerr.NodeExists || dup.Hdr.Type != jute.OpError {
		t.Fatalf("a failed write is logged as an error txn: %+v type %d", res[2], dup.Hdr.Type)
	}
	if h.p.Outstanding() != 0 {
		t.Fatalf("outstanding changes left after apply: %d", h.p.Outstanding())
	}
	info, ok := h.tree.Node("/a")
	if !ok || info.Stat.NumChildren != 2 || info.Stat.Cversion != 2 {
		t.Fatalf("/a after apply: %+v", info.Stat)
	}
}

func TestPrepMultiRollsBack(t *testing.T) {
	h := newHarness(t)
	m := h.prep(1, jute.OpMulti, &jute.MultiRequest{Ops: []jute.MultiOp{
		{Type: jute.OpCreate, Record: create("/x", 0)},
		{Type: jute.OpCreate, Record: create("/x/y", 0)},
		{Type: jute.OpDelete, Record: &jute.PathVersionRequest{Path: "/nope", Version: -1}},
		{Type: jute.OpCreate, Record: create("/z", 0)},
	}})
	if m.Err != 0 {
		t.Fatalf("a failed multi still has header err 0 at prep: %v", m.Err)
	}
	mt := m.Txn.(*jute.MultiTxn)
	types := [4]int32{mt.Txns[0].Type, mt.Txns[1].Type, mt.Txns[2].Type, mt.Txns[3].Type}
	// Spec 2.1: earlier ops keep their real sub-txn, the failing and later
	// ones become error sub-txns.
	if types != [4]int32{jute.OpCreate, jute.OpCreate, jute.OpError, jute.OpError} {
		t.Fatalf("sub-txn types %v", types)
	}
	// The rolled-back creates must not be visible to the next request.
	again := h.prep(1, jute.OpCreate, create("/x", 0))
	if again.Err != 0 {
		t.Fatalf("create after failed multi: %v", again.Err)
	}
	res := h.applyAll()
	want := []zkerr.Code{zkerr.OK, zkerr.OK, zkerr.NoNode, zkerr.RuntimeInconsistency}
	if len(res[0].Multi) != 4 {
		t.Fatalf("multi results %+v", res[0])
	}
	for i, sub := range res[0].Multi {
		if sub.Err != want[i] {
			t.Fatalf("sub %d err %v, want %v (spec 2.1: 0 / code / -2)", i, sub.Err, want[i])
		}
	}
	if _, ok := h.tree.Node("/x/y"); ok {
		t.Fatal("failed multi applied a sub-op")
	}
}

func TestPrepCloseSessionListsOutstandingEphemerals(t *testing.T) {
	h := newHarness(t)
	h.prep(1, jute.OpCreate, create("/e1", jute.FlagEphemeral))
	h.applyAll()
	h.prep(1, jute.OpCreate, create("/e2", jute.FlagEphemeral)) // outstanding
	h.prep(2, jute.OpCreate, create("/other", jute.FlagEphemeral))
	cs := h.prep(1, jute.OpCloseSession, nil)
	paths := cs.Txn.(*jute.CloseSessionTxn).Paths
	// java.util.HashSet order, checked against a JVM in TestCloseSessionOrderMatchesJava.
	if len(paths) != 2 || paths[0] != "/e2" || paths[1] != "/e1" {
		t.Fatalf("closeSession paths %v", paths)
	}
	if h.sess.Valid(1) {
		t.Fatal("session must be closing after closeSession prep")
	}
	late := h.prep(1, jute.OpCreate, create("/late", 0))
	if late.Err != zkerr.SessionExpired {
		t.Fatalf("write on a closing session: %v", late.Err)
	}
	h.applyAll()
	if eph := h.tree.Ephemerals(1); len(eph) != 0 {
		t.Fatalf("ephemerals left: %v", eph)
	}
	if eph := h.tree.Ephemerals(2); len(eph) != 1 {
		t.Fatalf("other session's ephemerals: %v", eph)
	}
}

func TestPrepValidation(t *testing.T) {
	h := newHarness(t)
	h.prep(1, jute.OpCreate, create("/eph", jute.FlagEphemeral))
	h.prep(1, jute.OpCreate, create("/p", 0))
	h.applyAll()
	cases := []struct {
		op   int32
		rec  jute.Record
		want zkerr.Code
	}{
		{jute.OpCreate, create("/eph/child", 0), zkerr.NoChildrenForEphemerals},
		// As in ZooKeeper, the parent is looked up before the full path is
		// validated: a malformed path under a missing parent is NONODE.
		{jute.OpCreate, create("/p/", 0), zkerr.BadArguments},
		{jute.OpCreate, create("/p/.", 0), zkerr.BadArguments},
		{jute.OpCreate, create("/p/..", 0), zkerr.BadArguments},
		{jute.OpCreate, create("/a//b", 0), zkerr.NoNode},
		{jute.OpCreate, create("rel", 0), zkerr.BadArguments},
		{jute.OpCreate, create("/n\x00ul", 0), zkerr.BadArguments},
		{jute.OpCreate, create("/missing/x", 0), zkerr.NoNode},
		{jute.OpCreate, create("/f", 9), zkerr.BadArguments},
		{jute.OpCreate, &jute.CreateRequest{Path: "/noacl"}, zkerr.InvalidACL},
		{jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/ttl", ACL: jute.OpenACLUnsafe, Flags: jute.FlagPersistentWithTTL, TTL: 0}, zkerr.BadArguments},
		{jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/ttl", ACL: jute.OpenACLUnsafe, Flags: jute.FlagPersistent, TTL: 10}, zkerr.BadArguments},
		{jute.OpDelete, &jute.PathVersionRequest{Path: "/zookeeper", Version: -1}, zkerr.BadArguments},
		{jute.OpDelete, &jute.PathVersionRequest{Path: "/", Version: -1}, zkerr.BadArguments},
		{jute.OpDelete, &jute.PathVersionRequest{Path: "/eph", Version: 5}, zkerr.BadVersion},
		{jute.OpSetData, &jute.SetDataRequest{Path: "/nope", Version: -1}, zkerr.NoNode},
		{jute.OpCheck, &jute.PathVersionRequest{Path: "/eph", Version: 3}, zkerr.BadVersion},
		{jute.OpReconfig, &jute.ReconfigRequest{}, zkerr.ReconfigDisabled},
		{jute.OpSetData, nil, zkerr.MarshallingError},
	}
	for i, tc := range cases {
		r := h.prep(1, tc.op, tc.rec)
		if r.Err != tc.want {
			t.Errorf("case %d (op %d %+v): got %v, want %v", i, tc.op, tc.rec, r.Err, tc.want)
		}
		if r.Hdr.Type != jute.OpError {
			t.Errorf("case %d: failed write must be an error txn", i)
		}
	}
	noTTL := NewPrepper(PrepConfig{Auth: &auth.Config{}, Now: func() int64 { return 0 }}, h.tree, h.sess, 100)
	r := &Request{SessionID: 1, Op: jute.OpCreateTTL, Record: &jute.CreateTTLRequest{Path: "/t", ACL: jute.OpenACLUnsafe, Flags: jute.FlagPersistentWithTTL, TTL: 100}}
	noTTL.Prep(r, func(*Request) {})
	if !errors.Is(r.Err, zkerr.Unimplemented) {
		t.Fatalf("TTL without extended types: %v", r.Err)
	}
}
