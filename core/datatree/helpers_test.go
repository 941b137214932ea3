package datatree

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

// recorder is a Watcher that records its events.
type recorder struct {
	id  int64
	mu  sync.Mutex
	evs []jute.WatcherEvent
}

func (r *recorder) WatcherID() int64 { return r.id }
func (r *recorder) Notify(ev *jute.WatcherEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, *ev)
	r.mu.Unlock()
}

// take returns the recorded events as "type:path" strings and clears them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		out = append(out, fmt.Sprintf("%d:%s", e.Type, e.Path))
	}
	r.evs = nil
	return out
}

// applier drives a tree with consecutive zxids.
type applier struct {
	t    testing.TB
	tree *Tree
	zxid int64
	time int64
}

func newApplier(t testing.TB) *applier {
	return &applier{t: t, tree: New(), time: 1_000_000}
}

func (a *applier) hdr(typ int32, session int64) *jute.TxnHeader {
	a.zxid++
	a.time += 10
	return &jute.TxnHeader{ClientID: session, Cxid: int32(a.zxid), Zxid: a.zxid, Time: a.time, Type: typ}
}

func (a *applier) apply(typ int32, session int64, rec jute.Record) Result {
	return a.tree.Apply(a.hdr(typ, session), rec)
}

// create mimics prep: the sequential suffix and parentCVersion come from
// the parent's stored cversion.
func (a *applier) create(path string, data string, flags int32, session int64) Result {
	a.t.Helper()
	parent := path[:strings.LastIndexByte(path, '/')]
	if parent == "" {
		parent = "/"
	}
	info, ok := a.tree.Node(parent)
	pcv := int32(-1)
	if ok {
		pcv = info.Stat.Cversion + 1
		if flags == jute.FlagPersistentSequential || flags == jute.FlagEphemeralSequential {
			path += fmt.Sprintf("%010d", info.Stat.Cversion)
		}
	}
	eph := flags == jute.FlagEphemeral || flags == jute.FlagEphemeralSequential
	return a.apply(jute.OpCreate2, session, &jute.CreateTxn{Path: path, Data: []byte(data), ACL: jute.OpenACLUnsafe, Ephemeral: eph, ParentCVersion: pcv})
}

func (a *applier) mustCreate(path, data string) {
	a.t.Helper()
	if r := a.create(path, data, 0, 0); r.Err != zkerr.OK {
		a.t.Fatalf("create %s: %v", path, r.Err)
	}
}

func (a *applier) del(path string) Result {
	return a.apply(jute.OpDelete, 0, &jute.PathRecord{Path: path})
}

func (a *applier) set(path, data string) Result {
	info, _ := a.tree.Node(path)
	return a.apply(jute.OpSetData, 0, &jute.SetDataTxn{Path: path, Data: []byte(data), Version: info.Stat.Version + 1})
}

func (a *applier) stat(path string) jute.Stat {
	a.t.Helper()
	st, err := a.tree.Exists(path, nil, nil)
	if err != nil {
		a.t.Fatalf("exists %s: %v", path, err)
	}
	return st
}

// dump renders the whole tree (paths, data, stored stats, ACLs) for
// equality checks.
func dump(t *Tree) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var lines []string
	var walk func(path string, n *node)
	walk = func(path string, n *node) {
		lines = append(lines, fmt.Sprintf("%s data=%q nil=%v st=%+v acl=%v kids=%d",
			path, n.data(), n.data() == nil, n.statPersisted(), t.acls.get(n.acl), n.kids().Len()))
		prefix := path
		if path == "/" {
			prefix = ""
		}
		n.kids().each(func(k *node) { walk(prefix+"/"+k.name(), k) })
	}
	walk("/", t.root)
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// checkInvariants verifies counters and the incremental digest against a
// full recomputation.
func checkInvariants(t testing.TB, tr *Tree) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if got, want := tr.digest, tr.recomputeDigest(); got != want {
		t.Fatalf("incremental digest %x != recomputed %x", got, want)
	}
	count, size := 0, int64(0)
	eph, cont, ttl := 0, 0, 0
	var walk func(path string, n *node)
	walk = func(path string, n *node) {
		count++
		if n != tr.root {
			size += int64(len(path) + n.dataSize())
			if n.kids() != nil && n.kids().Len() == 0 {
				t.Fatalf("%s: empty non-nil kids table", path)
			}
			if k := n.kids(); k != nil {
				live := 0
				k.each(func(c *node) {
					live++
					if k.get(c.name()) != c {
						t.Fatalf("%s: child %q not found by name", path, c.name())
					}
				})
				checkKidTable(t, path, k, live)
			}
			switch {
			case IsContainer(n.owner()):
				cont++
				if _, ok := tr.containers[path]; !ok {
					t.Fatalf("container %s not tracked", path)
				}
			case IsTTL(n.owner()):
				ttl++
				if _, ok := tr.ttls[path]; !ok {
					t.Fatalf("ttl %s not tracked", path)
				}
			case n.owner() != 0:
				eph++
				if _, ok := tr.ephemerals[n.owner()][path]; !ok {
					t.Fatalf("ephemeral %s not tracked", path)
				}
			}
		}
		prefix := path
		if path == "/" {
			prefix = ""
		}
		n.kids().each(func(k *node) { walk(prefix+"/"+k.name(), k) })
	}
	walk("/", tr.root)
	if count != tr.nodes || size != tr.dataSize {
		t.Fatalf("nodes %d/%d size %d/%d", tr.nodes, count, tr.dataSize, size)
	}
	te := 0
	for _, s := range tr.ephemerals {
		te += len(s)
	}
	if te != eph || len(tr.containers) != cont || len(tr.ttls) != ttl {
		t.Fatalf("tracked eph/cont/ttl %d/%d/%d, tree has %d/%d/%d", te, len(tr.containers), len(tr.ttls), eph, cont, ttl)
	}
}

// checkKidTable checks a child table's counters and load against its
// arrays, an in-progress resize included.
func checkKidTable(t testing.TB, path string, k *kidTable, live int) {
	t.Helper()
	cur, used := 0, 0
	for _, tag := range k.tags {
		if tag&0x80 != 0 {
			cur++
		}
		if tag != tagEmpty {
			used++
		}
	}
	old := 0
	if o := k.old; o != nil {
		for _, tag := range o.tags {
			if tag&0x80 != 0 {
				old++
			}
		}
		if old != int(o.live) || old == 0 {
			t.Fatalf("%s: resize in progress with %d entries to move, counter %d", path, old, o.live)
		}
	}
	if live != int(k.n) || cur+old != live || used != int(k.used) || 4*(used+old) > 3*len(k.slots) {
		t.Fatalf("%s: kid table n=%d used=%d/%d live=%d+%d slots=%d", path, k.n, k.used, used, cur, old, len(k.slots))
	}
}

// checkLoaded checks that got, loaded from a snapshot or SNAP payload of
// want's tree, holds the same nodes, stats, ACLs, counters and digest, that
// its LastZxid is want's last zxid (the highest in the nodes, when the last
// txn changed one), and that it is internally consistent.
func checkLoaded(t testing.TB, got *Tree, want *applier) {
	t.Helper()
	if d, w := dump(got), dump(want.tree); d != w {
		dl, wl := strings.Split(d, "\n"), strings.Split(w, "\n")
		i := 0
		for i < min(len(dl), len(wl)) && dl[i] == wl[i] {
			i++
		}
		first := func(l []string) string {
			if i < len(l) {
				return l[i]
			}
			return "(end)"
		}
		t.Fatalf("tree differs after load (%d/%d nodes), first at\n got %s\nwant %s", len(dl), len(wl), first(dl), first(wl))
	}
	if got.Digest() != want.tree.Digest() || got.Stats() != want.tree.Stats() {
		t.Fatalf("digest %x/%x stats %+v/%+v", got.Digest(), want.tree.Digest(), got.Stats(), want.tree.Stats())
	}
	if got.acls.size() != want.tree.acls.size() {
		t.Fatalf("ACL cache %d vs %d", got.acls.size(), want.tree.acls.size())
	}
	if got.LastZxid() != want.zxid {
		t.Fatalf("LastZxid %d, want %d", got.LastZxid(), want.zxid)
	}
	checkInvariants(t, got)
}
