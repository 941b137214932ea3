package datatree

import (
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/watch"
	"github.com/zabkit/zabkit/core/zkerr"
)

// Result is what applying one txn produced, i.e. what the client that sent
// it should be told.
//
// Type is the txn type, except inside Multi, where it is the result type a
// MultiResponse carries: create2, createContainer and createTTL all report
// jute.OpCreate2 (as ZooKeeper does from 3.8.2), and every result of a
// failed multi is jute.OpError with Err 0 (ops before the failure), the
// failure's code, or RUNTIMEINCONSISTENCY -2 (ops after it).
//
// Err for a multi txn is always OK: ZooKeeper replies to a failed multi with
// header err 0 and puts the codes in the results. Path is set for creates
// (the actual path), deletes, setData, setACL and check; Stat for create2,
// createContainer, createTTL, setData, setACL and reconfig.
type Result struct {
	Err   zkerr.Code
	Path  string
	Stat  jute.Stat
	Multi []Result
	Type  int32
}

// Failed reports whether a multi result list describes a failed multi
// (every result an error), and the first failing code.
func (r *Result) Failed() (bool, zkerr.Code) {
	for _, m := range r.Multi {
		if m.Type == jute.OpError && m.Err != zkerr.OK {
			return true, m.Err
		}
	}
	return false, zkerr.OK
}

// Apply applies one txn at hdr.Zxid under the write lock, fires the
// watches it concerns, and returns the client's result. Any txn type of
// spec 7.3 is accepted: create, create2, createContainer, createTTL,
// delete, deleteContainer, setData, reconfig, setACL, check, multi, error,
// createSession and closeSession.
//
// Apply is idempotent for the replay of txns over a fuzzy snapshot: a
// create that finds its node only advances the parent's cversion/pzxid, a
// delete of a missing node only advances the parent's pzxid, and the other
// failures change nothing. rec is not retained: data and ACLs are copied.
func (t *Tree) Apply(hdr *jute.TxnHeader, rec jute.Record) Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	res := t.apply(hdr, hdr.Type, rec)
	if hdr.Zxid > t.lastZxid {
		t.lastZxid = hdr.Zxid
	}
	return res
}

// apply dispatches one (sub-)txn of type typ. The caller holds the write
// lock.
func (t *Tree) apply(hdr *jute.TxnHeader, typ int32, rec jute.Record) Result {
	res := Result{Type: typ}
	switch typ {
	case jute.OpCreate, jute.OpCreate2:
		x, ok := rec.(*jute.CreateTxn)
		if !ok {
			return badRecord(typ)
		}
		owner := int64(0)
		if x.Ephemeral {
			owner = hdr.ClientID
		}
		return t.create(hdr, typ, x.Path, x.Data, x.ACL, owner, x.ParentCVersion)
	case jute.OpCreateContainer:
		x, ok := rec.(*jute.CreateContainerTxn)
		if !ok {
			return badRecord(typ)
		}
		return t.create(hdr, typ, x.Path, x.Data, x.ACL, ContainerOwner, x.ParentCVersion)
	case jute.OpCreateTTL:
		x, ok := rec.(*jute.CreateTTLTxn)
		if !ok {
			return badRecord(typ)
		}
		return t.create(hdr, typ, x.Path, x.Data, x.ACL, TTLOwner(x.TTL), x.ParentCVersion)
	case jute.OpDelete, jute.OpDeleteContainer:
		x, ok := rec.(*jute.PathRecord)
		if !ok {
			return badRecord(typ)
		}
		res.Path = x.Path
		res.Err = t.delete(x.Path, hdr.Zxid)
	case jute.OpSetData, jute.OpReconfig:
		x, ok := rec.(*jute.SetDataTxn)
		if !ok {
			return badRecord(typ)
		}
		res.Path = x.Path
		res.Stat, res.Err = t.setData(x.Path, x.Data, x.Version, hdr.Zxid, hdr.Time)
	case jute.OpSetACL:
		x, ok := rec.(*jute.SetACLTxn)
		if !ok {
			return badRecord(typ)
		}
		res.Path = x.Path
		res.Stat, res.Err = t.setACL(x.Path, x.ACL, x.Version)
	case jute.OpCheck:
		if x, ok := rec.(*jute.PathVersionRequest); ok {
			res.Path = x.Path
		}
	case jute.OpError:
		x, ok := rec.(*jute.IntRecord)
		if !ok {
			return badRecord(typ)
		}
		res.Err = zkerr.Code(x.Value)
	case jute.OpCreateSession:
		// Sessions live in the session tracker; the tree has nothing to do.
	case jute.OpCloseSession:
		x, _ := rec.(*jute.CloseSessionTxn)
		t.closeSession(hdr.ClientID, x, hdr.Zxid)
	case jute.OpMulti:
		x, ok := rec.(*jute.MultiTxn)
		if !ok {
			return badRecord(typ)
		}
		return t.multi(hdr, x)
	default:
		res.Err = zkerr.Unimplemented
	}
	return res
}

func badRecord(typ int32) Result {
	return Result{Type: typ, Err: zkerr.MarshallingError}
}

// create adds a node. It mirrors ZooKeeper's DataTree.createNode plus the
// replay fix-up of processTxn: when the node already exists only the
// parent's cversion and pzxid move forward.
func (t *Tree) create(hdr *jute.TxnHeader, typ int32, path string, data []byte, acl []jute.ACL, owner int64, parentCVersion int32) Result {
	res := Result{Type: typ, Path: path}
	parentPath, name, ok := splitPath(path)
	if !ok {
		res.Err = zkerr.BadArguments
		if path == "/" {
			res.Err = zkerr.NodeExists
		}
		return res
	}
	parent := t.lookup(parentPath)
	if parent == nil {
		res.Err = zkerr.NoNode
		return res
	}
	zxid := hdr.Zxid
	if parent.kids().get(name) != nil {
		t.bumpCversion(parentPath, parent, parentCVersion, zxid)
		res.Err = zkerr.NodeExists
		return res
	}
	t.bumpCversion(parentPath, parent, parentCVersion, zxid)

	n := &node{
		czxid: zxid, mzxid: zxid,
		ctime: hdr.Time, mtime: hdr.Time,
		acl: t.acls.intern(acl),
	}
	n.setExt(zxid, owner, 0, 0)
	n.setBuf(name, data)
	t.digest -= t.hash(parentPath, parent)
	if px := parent.ext(); px.kids == nil {
		px.kids = &kidTable{}
	}
	parent.kids().insert(n)
	t.digest += t.hash(parentPath, parent)
	t.digest += t.hash(path, n)
	t.nodes++
	t.dataSize += int64(len(path) + n.dataSize())
	switch {
	case IsContainer(owner):
		t.containers[path] = struct{}{}
	case IsTTL(owner):
		t.ttls[path] = struct{}{}
	case owner != 0:
		set := t.ephemerals[owner]
		if set == nil {
			set = make(map[string]struct{})
			t.ephemerals[owner] = set
		}
		set[path] = struct{}{}
	}
	if typ != jute.OpCreate {
		res.Stat = n.clientStat()
	}
	t.dataW.Trigger(path, jute.EventNodeCreated, t.acls.get(n.acl), nil)
	t.childW.Trigger(parentPath, jute.EventNodeChildrenChanged, t.acls.get(parent.acl), nil)
	return res
}

// bumpCversion sets the parent's stored cversion to newCversion (-1 means
// current+1) and its pzxid to zxid, but only if that moves cversion
// forward: a replayed create must not roll back a later state.
func (t *Tree) bumpCversion(path string, n *node, newCversion int32, zxid int64) {
	if newCversion == -1 {
		newCversion = n.cversion() + 1
	}
	if newCversion <= n.cversion() {
		return
	}
	t.digest -= t.hash(path, n)
	x := n.ext()
	x.cversion = newCversion
	x.pzxid = zxid
	t.digest += t.hash(path, n)
}

// delete removes a childless node. As in ZooKeeper, the parent's pzxid
// advances even if the node is already gone (replay over a fuzzy
// snapshot); its cversion does not change (it counts creates).
func (t *Tree) delete(path string, zxid int64) zkerr.Code {
	parentPath, name, ok := splitPath(path)
	if !ok {
		return zkerr.BadArguments
	}
	parent := t.lookup(parentPath)
	if parent == nil {
		return zkerr.NoNode
	}
	n := parent.kids().get(name)
	if n != nil && n.kids().Len() > 0 {
		// Prep rules this out; refuse rather than orphan a subtree.
		return zkerr.NotEmpty
	}
	if zxid > parent.pzxid() || n != nil {
		t.digest -= t.hash(parentPath, parent)
		if zxid > parent.pzxid() {
			parent.ext().pzxid = zxid
		}
		if n != nil {
			parent.kids().remove(name)
			if parent.kids().Len() == 0 {
				parent.x.kids = nil
			}
		}
		t.digest += t.hash(parentPath, parent)
	}
	if n == nil {
		return zkerr.NoNode
	}
	t.digest -= t.hash(path, n)
	acl := t.acls.get(n.acl)
	t.acls.release(n.acl)
	n.acl = aclDeleted // for a snapshot walk holding n
	t.nodes--
	t.dataSize -= int64(len(path) + n.dataSize())
	switch {
	case IsContainer(n.owner()):
		delete(t.containers, path)
	case IsTTL(n.owner()):
		delete(t.ttls, path)
	case n.owner() != 0:
		if set := t.ephemerals[n.owner()]; set != nil {
			delete(set, path)
			if len(set) == 0 {
				delete(t.ephemerals, n.owner())
			}
		}
	}
	fired := t.dataW.Trigger(path, jute.EventNodeDeleted, acl, nil)
	t.childW.Trigger(path, jute.EventNodeDeleted, acl, fired)
	t.childW.Trigger(parentPath, jute.EventNodeChildrenChanged, t.acls.get(parent.acl), nil)
	return zkerr.OK
}

func (t *Tree) setData(path string, data []byte, version int32, zxid, time int64) (jute.Stat, zkerr.Code) {
	n := t.lookup(path)
	if n == nil {
		return jute.Stat{}, zkerr.NoNode
	}
	t.digest -= t.hash(path, n)
	if n != t.root {
		t.dataSize -= int64(n.dataSize())
	}
	n.setBuf(n.name(), data)
	n.mtime = time
	n.mzxid = zxid
	n.version = version
	if n != t.root {
		t.dataSize += int64(n.dataSize())
	}
	t.digest += t.hash(path, n)
	st := n.clientStat()
	t.dataW.Trigger(canonical(path), jute.EventNodeDataChanged, t.acls.get(n.acl), nil)
	return st, zkerr.OK
}

func (t *Tree) setACL(path string, acl []jute.ACL, version int32) (jute.Stat, zkerr.Code) {
	n := t.lookup(path)
	if n == nil {
		return jute.Stat{}, zkerr.NoNode
	}
	t.digest -= t.hash(path, n)
	idx := t.acls.intern(acl) // before release, so an unchanged list keeps its slot
	t.acls.release(n.acl)
	n.acl = idx
	n.ext().aversion = version
	t.digest += t.hash(path, n)
	return n.clientStat(), zkerr.OK
}

// canonical maps the root alias "" to "/" for watch paths.
func canonical(path string) string {
	if path == "" {
		return "/"
	}
	return path
}

// closeSession deletes the paths the txn lists and then whatever
// ephemerals of the session remain (all of them for a legacy empty body),
// as ZooKeeper's killSession does. Missing paths are ignored.
func (t *Tree) closeSession(session int64, x *jute.CloseSessionTxn, zxid int64) {
	if x != nil && x.Present {
		for _, p := range x.Paths {
			t.delete(p, zxid)
		}
	}
	for _, p := range sortedKeys(t.ephemerals[session]) {
		t.delete(p, zxid)
	}
}

// multi applies a MultiTxn. A multi that prep failed carries error
// sub-txns; then nothing is applied and the results are 0 / code / -2
// (spec 2.1). Sub-txns are all decoded before anything is applied, so a
// malformed one changes nothing either.
func (t *Tree) multi(hdr *jute.TxnHeader, x *jute.MultiTxn) Result {
	res := Result{Type: jute.OpMulti, Multi: make([]Result, len(x.Txns))}
	recs := make([]jute.Record, len(x.Txns))
	failed := false
	for i, sub := range x.Txns {
		switch sub.Type {
		case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL,
			jute.OpDelete, jute.OpDeleteContainer, jute.OpSetData, jute.OpCheck, jute.OpError:
		default:
			return t.malformedMulti(x)
		}
		rec := jute.NewTxnRecord(sub.Type)
		if err := jute.Unmarshal(sub.Data, rec); err != nil {
			return t.malformedMulti(x)
		}
		recs[i] = rec
		if sub.Type == jute.OpError {
			failed = true
		}
	}
	if failed {
		post := false
		for i, sub := range x.Txns {
			r := Result{Type: jute.OpError}
			if sub.Type == jute.OpError {
				r.Err = zkerr.Code(recs[i].(*jute.IntRecord).Value)
				post = true
			} else if post {
				r.Err = zkerr.RuntimeInconsistency
			}
			res.Multi[i] = r
		}
		return res
	}
	for i, sub := range x.Txns {
		r := t.apply(hdr, sub.Type, recs[i])
		switch r.Type {
		case jute.OpCreate:
			r.Stat = jute.Stat{}
		case jute.OpCreateContainer, jute.OpCreateTTL:
			r.Type = jute.OpCreate2
		}
		res.Multi[i] = r
	}
	return res
}

// malformedMulti is the result of a multi whose sub-txns cannot be
// decoded: nothing applied, every result MARSHALLINGERROR.
func (t *Tree) malformedMulti(x *jute.MultiTxn) Result {
	res := Result{Type: jute.OpMulti, Multi: make([]Result, len(x.Txns))}
	for i := range res.Multi {
		res.Multi[i] = Result{Type: jute.OpError, Err: zkerr.MarshallingError}
	}
	return res
}

// --- watches ---------------------------------------------------------------

// AddWatch registers a persistent (mode 0) or persistent recursive (mode 1)
// watch in both the data and the child manager, converting any one-shot
// watch w had on path. Unknown modes are ignored (prep rejects them).
func (t *Tree) AddWatch(path string, mode int32, w watch.Watcher) {
	m, ok := watch.ModeFromAddWatch(mode)
	if !ok {
		return
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	t.dataW.Add(path, w, m)
	t.childW.Add(path, w, m)
}

// RemoveWatches removes (or with checkOnly, looks for) w's watches on path
// of watcherType (children 1, data 2, any 3), whatever their mode, as
// ZooKeeper's DataTree.removeWatch/containsWatcher do. It reports whether
// anything matched; the server answers NOWATCHER otherwise.
func (t *Tree) RemoveWatches(path string, watcherType int32, w watch.Watcher, checkOnly bool) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	op := func(m *watch.Manager) bool {
		if checkOnly {
			// ZooKeeper 3.8's WatchManager.containsWatcher answers true
			// when any connection watches the path, not only the caller;
			// checkWatches is kept byte-compatible with that.
			return m.Watched(path)
		}
		return m.Remove(path, w)
	}
	switch watcherType {
	case jute.WatcherChildren:
		return op(t.childW)
	case jute.WatcherData:
		return op(t.dataW)
	case jute.WatcherAny:
		c := op(t.childW)
		d := op(t.dataW)
		return c || d
	}
	return false
}

// SetWatches re-registers a reconnecting client's watches (setWatches and
// setWatches2), sending immediate events through w.Notify for changes the
// client missed, before returning:
//   - data: missing → NodeDeleted; mzxid > relZxid → NodeDataChanged;
//     else re-armed;
//   - exist: present → NodeCreated; else re-armed;
//   - child: missing → NodeDeleted; pzxid > relZxid → NodeChildrenChanged;
//     else re-armed;
//   - persistent and recursive watches are always re-armed.
func (t *Tree) SetWatches(relZxid int64, data, exist, child, persistent, recursive []string, w watch.Watcher) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	notify := func(typ int32, path string) {
		w.Notify(&jute.WatcherEvent{Type: typ, State: jute.StateSyncConnected, Path: path})
	}
	for _, p := range data {
		switch n := t.lookup(p); {
		case n == nil:
			notify(jute.EventNodeDeleted, p)
		case n.mzxid > relZxid:
			notify(jute.EventNodeDataChanged, p)
		default:
			t.dataW.Add(p, w, watch.Standard)
		}
	}
	for _, p := range exist {
		if t.lookup(p) != nil {
			notify(jute.EventNodeCreated, p)
		} else {
			t.dataW.Add(p, w, watch.Standard)
		}
	}
	for _, p := range child {
		switch n := t.lookup(p); {
		case n == nil:
			notify(jute.EventNodeDeleted, p)
		case n.pzxid() > relZxid:
			notify(jute.EventNodeChildrenChanged, p)
		default:
			t.childW.Add(p, w, watch.Standard)
		}
	}
	for _, p := range persistent {
		t.childW.Add(p, w, watch.Persistent)
		t.dataW.Add(p, w, watch.Persistent)
	}
	for _, p := range recursive {
		t.childW.Add(p, w, watch.PersistentRecursive)
		t.dataW.Add(p, w, watch.PersistentRecursive)
	}
}

// The watch managers lock themselves; the tree's read lock below only
// keeps ReplaceWith from swapping them meanwhile.

// RemoveWatcher drops every watch of a closed connection.
func (t *Tree) RemoveWatcher(w watch.Watcher) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	t.dataW.RemoveWatcher(w)
	t.childW.RemoveWatcher(w)
}

// WatchesByWatcher is wchc: watcher id → watched paths. Like ZooKeeper it
// reports the data-watch manager only.
func (t *Tree) WatchesByWatcher() map[int64][]string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.dataW.ByWatcher()
}

// WatchesByPath is wchp: path → watcher ids (data-watch manager only, as
// ZooKeeper).
func (t *Tree) WatchesByPath() map[string][]int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.dataW.ByPath()
}

// WatchSummary is wchs (data-watch manager only, as ZooKeeper).
func (t *Tree) WatchSummary() watch.Summary {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.dataW.Summary()
}
