package datatree

import (
	"reflect"
	"testing"

	"github.com/zabkit/zabkit/core/proto/jute"
)

const (
	evCreated  = "1:"
	evDeleted  = "2:"
	evData     = "3:"
	evChildren = "4:"
)

// TestTriggerTable walks every row of the spec's trigger table (3.4).
func TestTriggerTable(t *testing.T) {
	type reg struct {
		kind string // "data", "exists", "child"
		path string
	}
	for _, tc := range []struct {
		name  string
		setup func(a *applier)
		regs  []reg
		op    func(a *applier)
		want  []string
	}{
		{
			name: "create fires NodeCreated to exists watch and NodeChildrenChanged to parent",
			setup: func(a *applier) {
				a.mustCreate("/p", "")
			},
			regs: []reg{{"exists", "/p/c"}, {"child", "/p"}, {"data", "/p"}},
			op:   func(a *applier) { a.mustCreate("/p/c", "") },
			want: []string{evCreated + "/p/c", evChildren + "/p"},
		},
		{
			name:  "create under root reports parent /",
			regs:  []reg{{"child", "/"}},
			op:    func(a *applier) { a.mustCreate("/top", "") },
			want:  []string{evChildren + "/"},
			setup: func(a *applier) {},
		},
		{
			name:  "delete fires NodeDeleted to data and child watches once, and parent children",
			setup: func(a *applier) { a.mustCreate("/p", ""); a.mustCreate("/p/c", "") },
			regs:  []reg{{"data", "/p/c"}, {"child", "/p/c"}, {"child", "/p"}, {"data", "/p"}},
			op:    func(a *applier) { a.del("/p/c") },
			want:  []string{evDeleted + "/p/c", evChildren + "/p"},
		},
		{
			name:  "setData fires NodeDataChanged to data watches only",
			setup: func(a *applier) { a.mustCreate("/p", ""); a.mustCreate("/p/c", "") },
			regs:  []reg{{"data", "/p/c"}, {"child", "/p/c"}, {"child", "/p"}},
			op:    func(a *applier) { a.set("/p/c", "x") },
			want:  []string{evData + "/p/c"},
		},
		{
			name:  "exists watch on an existing node fires on setData",
			setup: func(a *applier) { a.mustCreate("/p", "") },
			regs:  []reg{{"exists", "/p"}},
			op:    func(a *applier) { a.set("/p", "x") },
			want:  []string{evData + "/p"},
		},
		{
			name:  "setACL fires nothing",
			setup: func(a *applier) { a.mustCreate("/p", "") },
			regs:  []reg{{"data", "/p"}, {"child", "/p"}},
			op: func(a *applier) {
				a.apply(jute.OpSetACL, 0, &jute.SetACLTxn{Path: "/p", ACL: jute.ReadACLUnsafe, Version: 1})
			},
			want: nil,
		},
		{
			name: "ephemeral cleanup fires NodeDeleted and parent children",
			setup: func(a *applier) {
				a.mustCreate("/p", "")
				a.create("/p/e", "", jute.FlagEphemeral, 7)
			},
			regs: []reg{{"data", "/p/e"}, {"child", "/p"}},
			op: func(a *applier) {
				a.apply(jute.OpCloseSession, 7, &jute.CloseSessionTxn{Paths: []string{"/p/e"}, Present: true})
			},
			want: []string{evDeleted + "/p/e", evChildren + "/p"},
		},
		{
			name:  "failed txn fires nothing",
			setup: func(a *applier) { a.mustCreate("/p", "") },
			regs:  []reg{{"data", "/p"}, {"child", "/p"}},
			op:    func(a *applier) { a.apply(jute.OpError, 0, &jute.IntRecord{Value: -110}) },
			want:  nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApplier(t)
			tc.setup(a)
			w := &recorder{id: 1}
			for _, r := range tc.regs {
				switch r.kind {
				case "data":
					a.tree.GetData(r.path, nil, w)
				case "exists":
					a.tree.Exists(r.path, nil, w)
				case "child":
					a.tree.GetChildren(r.path, nil, w)
				}
			}
			tc.op(a)
			if got := w.take(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOneShot(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/p", "")
	w := &recorder{id: 1}
	a.tree.GetData("/p", nil, w)
	a.set("/p", "1")
	a.set("/p", "2")
	if got := w.take(); len(got) != 1 {
		t.Fatalf("one-shot fired %d times", len(got))
	}
	// getData on a missing node registers nothing; exists does.
	a.tree.GetData("/missing", nil, w)
	if a.tree.Stats().WatchCount != 0 {
		t.Fatal("getData on a missing node registered a watch")
	}
	a.tree.Exists("/missing", nil, w)
	if a.tree.Stats().DataWatches != 1 {
		t.Fatal("exists on a missing node did not register")
	}
	a.mustCreate("/missing", "")
	if got := w.take(); !reflect.DeepEqual(got, []string{evCreated + "/missing"}) {
		t.Fatalf("events %v", got)
	}
}

func TestPersistentWatch(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/p", "")
	w := &recorder{id: 1}
	a.tree.AddWatch("/p", jute.AddWatchPersistent, w)
	a.mustCreate("/p/c", "")
	a.mustCreate("/p/c/gc", "") // not a child of /p: no event
	a.set("/p", "x")
	a.del("/p/c/gc")
	a.del("/p/c")
	a.set("/p", "y")
	want := []string{evChildren + "/p", evData + "/p", evChildren + "/p", evData + "/p"}
	if got := w.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	a.del("/p")
	if got := w.take(); !reflect.DeepEqual(got, []string{evDeleted + "/p"}) {
		t.Fatalf("delete events %v", got)
	}
	if a.tree.Stats().WatchCount != 2 {
		t.Fatal("persistent watch removed by firing")
	}
}

func TestRecursiveWatch(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/r", "")
	w := &recorder{id: 1}
	a.tree.AddWatch("/r", jute.AddWatchPersistentRecursive, w)
	a.mustCreate("/r/a", "")
	a.mustCreate("/r/a/b", "")
	a.set("/r/a/b", "x")
	a.set("/r", "y")
	a.del("/r/a/b")
	a.mustCreate("/other", "")
	want := []string{evCreated + "/r/a", evCreated + "/r/a/b", evData + "/r/a/b", evData + "/r", evDeleted + "/r/a/b"}
	if got := w.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v (never NodeChildrenChanged)", got, want)
	}
}

func TestOneEventPerTriggerAcrossModes(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/r", "")
	a.mustCreate("/r/x", "")
	w := &recorder{id: 1}
	a.tree.AddWatch("/r", jute.AddWatchPersistentRecursive, w)
	a.tree.GetData("/r/x", nil, w)     // standard data watch too
	a.tree.GetChildren("/r/x", nil, w) // and a child watch
	a.del("/r/x")
	if got := w.take(); !reflect.DeepEqual(got, []string{evDeleted + "/r/x"}) {
		t.Fatalf("events %v, want exactly one NodeDeleted", got)
	}
}

func TestAddWatchConvertsOneShot(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/p", "")
	w := &recorder{id: 1}
	a.tree.GetData("/p", nil, w)
	a.tree.AddWatch("/p", jute.AddWatchPersistent, w)
	if s := a.tree.Stats(); s.DataWatches != 1 || s.ChildWatches != 1 {
		t.Fatalf("stats %+v", s)
	}
	a.set("/p", "1")
	a.set("/p", "2")
	if got := w.take(); len(got) != 2 {
		t.Fatalf("converted watch fired %d times, want 2", len(got))
	}
}

func TestRemoveWatches(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/p", "")
	w, other := &recorder{id: 1}, &recorder{id: 2}
	a.tree.GetData("/p", nil, w)
	a.tree.GetChildren("/p", nil, other)
	// checkWatches answers for any connection's watch, as ZooKeeper 3.8's
	// WatchManager.containsWatcher does (other has the child watch) ...
	if !a.tree.RemoveWatches("/p", jute.WatcherChildren, w, true) {
		t.Fatal("check must see other's child watch")
	}
	// ... but removeWatches removes only the caller's own.
	if a.tree.RemoveWatches("/p", jute.WatcherChildren, w, false) {
		t.Fatal("w has no child watch to remove")
	}
	if !a.tree.RemoveWatches("/p", jute.WatcherData, w, true) || !a.tree.RemoveWatches("/p", jute.WatcherAny, w, true) {
		t.Fatal("check did not find the data watch")
	}
	if !a.tree.RemoveWatches("/p", jute.WatcherAny, w, false) {
		t.Fatal("remove any")
	}
	if a.tree.RemoveWatches("/p", jute.WatcherData, w, false) {
		t.Fatal("removed twice")
	}
	// Persistent watches are removed by type Any (both managers) ...
	a.tree.AddWatch("/p", jute.AddWatchPersistent, w)
	if !a.tree.RemoveWatches("/p", jute.WatcherAny, w, false) {
		t.Fatal("persistent not removed by Any")
	}
	if s := a.tree.Stats(); s.DataWatches != 0 || s.ChildWatches != 1 {
		t.Fatalf("stats after removal %+v", s)
	}
	// ... and by type Data from the data manager only.
	a.tree.AddWatch("/p", jute.AddWatchPersistentRecursive, w)
	a.tree.RemoveWatches("/p", jute.WatcherData, w, false)
	a.set("/p", "x")
	a.mustCreate("/p/c", "")
	if got := w.take(); len(got) != 0 {
		t.Fatalf("recursive (child half) must not fire data events: %v", got)
	}
	a.tree.RemoveWatcher(w)
	a.tree.RemoveWatcher(other)
	if s := a.tree.Stats(); s.WatchCount != 0 {
		t.Fatalf("watches left %+v", s)
	}
}

func TestSetWatches(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/d-same", "")
	a.mustCreate("/d-changed", "")
	a.mustCreate("/c-same", "")
	a.mustCreate("/c-changed", "")
	a.mustCreate("/exists", "")
	rel := a.zxid
	a.set("/d-changed", "x")
	a.mustCreate("/c-changed/k", "")
	w := &recorder{id: 1}
	a.tree.SetWatches(rel,
		[]string{"/d-same", "/d-changed", "/d-gone"},
		[]string{"/exists", "/not-yet"},
		[]string{"/c-same", "/c-changed", "/c-gone"},
		[]string{"/pers"}, []string{"/rec"}, w)
	want := []string{
		evData + "/d-changed", evDeleted + "/d-gone",
		evCreated + "/exists",
		evChildren + "/c-changed", evDeleted + "/c-gone",
	}
	if got := w.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("immediate events %v, want %v", got, want)
	}
	// Re-armed: data /d-same, exist /not-yet, persistent+recursive in both
	// managers; child /c-same.
	s := a.tree.Stats()
	if s.DataWatches != 4 || s.ChildWatches != 3 {
		t.Fatalf("re-armed %+v", s)
	}
	a.set("/d-same", "y")
	a.mustCreate("/not-yet", "")
	a.mustCreate("/c-same/k", "")
	a.mustCreate("/rec", "")
	want = []string{evData + "/d-same", evCreated + "/not-yet", evChildren + "/c-same", evCreated + "/rec"}
	if got := w.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("re-armed events %v, want %v", got, want)
	}
}

func TestWatchReports(t *testing.T) {
	a := newApplier(t)
	a.mustCreate("/p", "")
	w1, w2 := &recorder{id: 0x11}, &recorder{id: 0x22}
	a.tree.GetData("/p", nil, w1)
	a.tree.Exists("/q", nil, w2)
	a.tree.GetChildren("/p", nil, w2) // child watches are not in wchc/wchp/wchs
	if got := a.tree.WatchesByWatcher(); !reflect.DeepEqual(got, map[int64][]string{0x11: {"/p"}, 0x22: {"/q"}}) {
		t.Fatalf("by watcher %v", got)
	}
	if got := a.tree.WatchesByPath(); !reflect.DeepEqual(got, map[string][]int64{"/p": {0x11}, "/q": {0x22}}) {
		t.Fatalf("by path %v", got)
	}
	if s := a.tree.WatchSummary(); s.Watchers != 2 || s.Paths != 2 || s.Total != 2 {
		t.Fatalf("summary %+v", s)
	}
	if s := a.tree.Stats(); s.WatchCount != 3 {
		t.Fatalf("WatchCount %d, want 3 (data + child)", s.WatchCount)
	}
}
