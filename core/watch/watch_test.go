package watch

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/zabkit/zabkit/core/proto/jute"
)

type rec struct {
	id  int64
	mu  sync.Mutex
	evs []jute.WatcherEvent
}

func (r *rec) WatcherID() int64 { return r.id }
func (r *rec) Notify(ev *jute.WatcherEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, *ev)
	r.mu.Unlock()
}
func (r *rec) take() []jute.WatcherEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.evs
	r.evs = nil
	return e
}

type aclRec struct {
	rec
	acls [][]jute.ACL
}

func (r *aclRec) NotifyACL(ev *jute.WatcherEvent, acl []jute.ACL) {
	r.acls = append(r.acls, acl)
	r.Notify(ev)
}

func ev(typ int32, path string) jute.WatcherEvent {
	return jute.WatcherEvent{Type: typ, State: jute.StateSyncConnected, Path: path}
}

func TestStandardFiresOnceAndIsRemoved(t *testing.T) {
	m := NewManager()
	w := &rec{id: 1}
	if !m.Add("/a", w, Standard) {
		t.Fatal("first Add should report a new pair")
	}
	if m.Add("/a", w, Standard) {
		t.Fatal("second Add of the same pair should not be new")
	}
	if got := m.Count(); got != 1 {
		t.Fatalf("Count = %d, want 1", got)
	}
	fired := m.Trigger("/a", jute.EventNodeDataChanged, nil, nil)
	if fired.Len() != 1 || !fired.Contains(w) {
		t.Fatalf("fired = %v", fired)
	}
	if got := w.take(); !reflect.DeepEqual(got, []jute.WatcherEvent{ev(3, "/a")}) {
		t.Fatalf("events = %v", got)
	}
	if m.Trigger("/a", jute.EventNodeDataChanged, nil, nil) != nil {
		t.Fatal("standard watch fired twice")
	}
	if m.Count() != 0 || m.Summary() != (Summary{}) {
		t.Fatalf("manager not empty: %+v", m.Summary())
	}
}

func TestPersistentStays(t *testing.T) {
	m := NewManager()
	w := &rec{id: 1}
	m.Add("/a", w, Persistent)
	for i := 0; i < 3; i++ {
		m.Trigger("/a", jute.EventNodeChildrenChanged, nil, nil)
	}
	if got := len(w.take()); got != 3 {
		t.Fatalf("persistent fired %d times, want 3", got)
	}
	// A persistent watch is not recursive.
	if m.Trigger("/a/b", jute.EventNodeCreated, nil, nil) != nil {
		t.Fatal("persistent watch fired for a child path")
	}
	if m.Count() != 1 {
		t.Fatal("persistent watch was removed")
	}
}

func TestRecursive(t *testing.T) {
	m := NewManager()
	w := &rec{id: 1}
	m.Add("/a", w, PersistentRecursive)
	if m.RecursiveCount() != 1 {
		t.Fatal("recursive not counted")
	}
	for _, tc := range []struct {
		path string
		typ  int32
		want bool
	}{
		{"/a", jute.EventNodeCreated, true},
		{"/a", jute.EventNodeDataChanged, true},
		{"/a", jute.EventNodeChildrenChanged, false},
		{"/a/b", jute.EventNodeCreated, true},
		{"/a/b/c/d", jute.EventNodeDeleted, true},
		{"/a/b", jute.EventNodeChildrenChanged, false},
		{"/ab", jute.EventNodeCreated, false},
		{"/", jute.EventNodeDataChanged, false},
	} {
		fired := m.Trigger(tc.path, tc.typ, nil, nil)
		if got := fired.Contains(w); got != tc.want {
			t.Errorf("%s type %d: fired=%v want %v", tc.path, tc.typ, got, tc.want)
		}
	}
	// Root recursive watch sees everything.
	r := &rec{id: 2}
	m.Add("/", r, PersistentRecursive)
	if !m.Trigger("/x/y", jute.EventNodeCreated, nil, nil).Contains(r) {
		t.Fatal("recursive watch on / missed /x/y")
	}
	m.Remove("/", r)
	m.Remove("/a", w)
	if m.RecursiveCount() != 0 || m.Count() != 0 {
		t.Fatalf("counts after removal: rec=%d total=%d", m.RecursiveCount(), m.Count())
	}
}

func TestOneEventPerTrigger(t *testing.T) {
	m := NewManager()
	w := &rec{id: 1}
	// Same watcher: recursive on two ancestors and standard on the path.
	m.Add("/", w, PersistentRecursive)
	m.Add("/a", w, PersistentRecursive)
	m.Add("/a/b", w, Standard)
	m.Trigger("/a/b", jute.EventNodeDataChanged, nil, nil)
	if got := w.take(); len(got) != 1 {
		t.Fatalf("got %d events, want 1: %v", len(got), got)
	}
	// Many watchers on one path (index map path) each get exactly one.
	ws := make([]*rec, 20)
	for i := range ws {
		ws[i] = &rec{id: int64(i + 10)}
		m.Add("/a/c", ws[i], Standard)
		m.Add("/a", ws[i], PersistentRecursive)
	}
	fired := m.Trigger("/a/c", jute.EventNodeDeleted, nil, nil)
	if fired.Len() != 21 {
		t.Fatalf("fired %d, want 21", fired.Len())
	}
	for _, x := range ws {
		if n := len(x.take()); n != 1 {
			t.Fatalf("watcher %d got %d events", x.id, n)
		}
	}
}

func TestSuppress(t *testing.T) {
	data, child := NewManager(), NewManager()
	w := &rec{id: 1}
	data.Add("/a", w, Standard)
	child.Add("/a", w, Standard)
	fired := data.Trigger("/a", jute.EventNodeDeleted, nil, nil)
	child.Trigger("/a", jute.EventNodeDeleted, nil, fired)
	if got := w.take(); len(got) != 1 {
		t.Fatalf("got %d NodeDeleted, want 1", len(got))
	}
	if child.Count() != 0 {
		t.Fatal("suppressed one-shot watch must still be consumed")
	}
}

func TestModeConversion(t *testing.T) {
	m := NewManager()
	w := &rec{id: 1}
	m.Add("/a", w, Standard)
	m.Add("/a", w, PersistentRecursive) // addWatch converts
	if mode, _ := m.ModeOf("/a", w); mode != PersistentRecursive || m.Count() != 1 || m.RecursiveCount() != 1 {
		t.Fatalf("mode=%v count=%d rec=%d", mode, m.Count(), m.RecursiveCount())
	}
	m.Trigger("/a", jute.EventNodeDataChanged, nil, nil)
	m.Trigger("/a", jute.EventNodeDataChanged, nil, nil)
	if len(w.take()) != 2 {
		t.Fatal("converted watch is not persistent")
	}
	// A later one-shot registration converts back (ZooKeeper 3.8).
	m.Add("/a", w, Standard)
	if m.RecursiveCount() != 0 {
		t.Fatal("recursive count not decremented on conversion")
	}
	m.Trigger("/a", jute.EventNodeDataChanged, nil, nil)
	if m.Count() != 0 {
		t.Fatal("converted-back watch not one-shot")
	}
}

func TestRemoveAndContains(t *testing.T) {
	m := NewManager()
	a, b := &rec{id: 1}, &rec{id: 2}
	m.Add("/x", a, Persistent)
	if m.Contains("/x", b) {
		t.Fatal("Contains must answer for the given watcher only")
	}
	if !m.Contains("/x", a) || m.Remove("/x", b) {
		t.Fatal("contains/remove mismatch")
	}
	if !m.Remove("/x", a) || m.Remove("/x", a) {
		t.Fatal("persistent watch must be removable exactly once")
	}
	if m.Summary() != (Summary{}) {
		t.Fatalf("not empty: %+v", m.Summary())
	}
}

func TestRemoveWatcherUsesReverseIndex(t *testing.T) {
	m := NewManager()
	a, b := &rec{id: 1}, &rec{id: 2}
	for i := 0; i < 100; i++ {
		m.Add(fmt.Sprintf("/n%d", i), a, Standard)
	}
	m.Add("/n1", b, PersistentRecursive)
	m.Add("/only-b", b, Standard)
	if s := m.Summary(); s != (Summary{Watchers: 2, Paths: 101, Total: 102}) {
		t.Fatalf("summary %+v", s)
	}
	m.RemoveWatcher(b)
	if s := m.Summary(); s != (Summary{Watchers: 1, Paths: 100, Total: 100}) || m.RecursiveCount() != 0 {
		t.Fatalf("after RemoveWatcher(b): %+v rec=%d", s, m.RecursiveCount())
	}
	// The reverse index is what RemoveWatcher walks: b has no entry left.
	if _, ok := m.byWatcher[b]; ok {
		t.Fatal("reverse index still holds b")
	}
	m.RemoveWatcher(a)
	if m.Summary() != (Summary{}) || len(m.byPath) != 0 {
		t.Fatal("not empty after removing all watchers")
	}
	// Trigger must keep the reverse index in sync.
	m.Add("/t", a, Standard)
	m.Trigger("/t", jute.EventNodeDeleted, nil, nil)
	if len(m.byWatcher) != 0 {
		t.Fatal("trigger left a stale reverse entry")
	}
}

func TestReports(t *testing.T) {
	m := NewManager()
	a, b := &rec{id: 7}, &rec{id: 9}
	m.Add("/p", a, Standard)
	m.Add("/q", a, Standard)
	m.Add("/p", b, Persistent)
	if got := m.ByWatcher(); !reflect.DeepEqual(got, map[int64][]string{7: {"/p", "/q"}, 9: {"/p"}}) {
		t.Fatalf("ByWatcher = %v", got)
	}
	if got := m.ByPath(); !reflect.DeepEqual(got, map[string][]int64{"/p": {7, 9}, "/q": {7}}) {
		t.Fatalf("ByPath = %v", got)
	}
}

func TestACLWatcher(t *testing.T) {
	m := NewManager()
	w := &aclRec{rec: rec{id: 1}}
	m.Add("/a", w, Standard)
	acl := jute.ReadACLUnsafe
	m.Trigger("/a", jute.EventNodeDeleted, acl, nil)
	if len(w.acls) != 1 || !reflect.DeepEqual(w.acls[0], acl) || len(w.take()) != 1 {
		t.Fatal("ACLWatcher did not get the ACL")
	}
}

func TestParentOf(t *testing.T) {
	for in, want := range map[string]string{"/": "", "/a": "/", "/a/b": "/a", "/a/b/c": "/a/b"} {
		if got := parentOf(in); got != want {
			t.Errorf("parentOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	m := NewManager()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			w := &rec{id: int64(g)}
			for i := 0; i < 500; i++ {
				p := fmt.Sprintf("/c/%d", i%10)
				m.Add(p, w, Mode(i%3))
				m.Trigger(p, jute.EventNodeDataChanged, nil, nil)
				m.Contains(p, w)
			}
			m.RemoveWatcher(w)
		}(g)
	}
	wg.Wait()
	if m.Count() != 0 || m.RecursiveCount() != 0 {
		t.Fatalf("count=%d rec=%d after all watchers left", m.Count(), m.RecursiveCount())
	}
}

func BenchmarkTriggerNoWatches(b *testing.B) {
	m := NewManager()
	m.Add("/other", &rec{}, Standard)
	b.ReportAllocs()
	for b.Loop() {
		m.Trigger("/a/b/c", jute.EventNodeCreated, nil, nil)
	}
}
