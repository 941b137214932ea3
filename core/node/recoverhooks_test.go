package node_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/node"
	"github.com/zabkit/zabkit/core/pipeline"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/stores/mem"
)

// TestRecoverHooksSeeTheRecovery checks that the hooks see the snapshot
// recovery starts from and every txn replayed after it, in order, with the
// tree already updated.
func TestRecoverHooksSeeTheRecovery(t *testing.T) {
	store := mem.New()
	create := func(zxid int64, path string) ext.Entry {
		hdr := jute.TxnHeader{ClientID: 1, Zxid: zxid, Time: 1, Type: jute.OpCreate}
		return ext.Entry{Zxid: zxid, Data: jute.EncodeTxn(nil, &hdr, &jute.CreateTxn{Path: path, ACL: jute.OpenACLUnsafe, ParentCVersion: -1}, nil)}
	}
	tree := datatree.New()
	if err := pipeline.WriteSnapshot(store, tree, nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := store.Append(context.Background(), []ext.Entry{create(1, "/a"), create(2, "/b"), create(3, "/c")}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	var loaded []int64
	var applied []int64
	hooks := node.RecoverHooks{
		Loaded: func(s ext.SnapshotInfo, tr *datatree.Tree) error {
			loaded = append(loaded, s.Zxid)
			if tr.LastZxid() != s.Zxid {
				t.Errorf("loaded tree at %#x, snapshot %#x", tr.LastZxid(), s.Zxid)
			}
			return nil
		},
		Applied: func(txn *jute.Txn, tr *datatree.Tree) error {
			applied = append(applied, txn.Header.Zxid)
			if p := txn.Record.(*jute.CreateTxn).Path; !exists(tr, p) || tr.LastZxid() != txn.Header.Zxid {
				t.Errorf("hook for %#x ran before %s was applied", txn.Header.Zxid, p)
			}
			return nil
		},
	}
	got, _, hadSnap, err := node.RecoverWithHooks(store, log, hooks)
	if err != nil || !hadSnap {
		t.Fatalf("recover: %v (snapshot %v)", err, hadSnap)
	}
	if len(loaded) != 1 || loaded[0] != 0 || len(applied) != 3 || applied[0] != 1 || applied[2] != 3 {
		t.Fatalf("loaded %v applied %v", loaded, applied)
	}
	plain, _, _, err := node.Recover(store, log)
	if err != nil || plain.Digest() != got.Digest() {
		t.Fatalf("hooks changed the result: %v", err)
	}

	stop := errors.New("stop here")
	_, _, _, err = node.RecoverWithHooks(store, log, node.RecoverHooks{
		Applied: func(txn *jute.Txn, _ *datatree.Tree) error {
			if txn.Header.Zxid == 2 {
				return stop
			}
			return nil
		},
	})
	if !errors.Is(err, stop) {
		t.Fatalf("a hook's error must stop recovery, got %v", err)
	}
}

func exists(tr *datatree.Tree, path string) bool {
	_, ok := tr.Node(path)
	return ok
}
