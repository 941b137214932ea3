package pipeline

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/zabkit/zabkit/core/auth"
	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/session"
	"github.com/zabkit/zabkit/core/zkerr"
)

// Ephemeral owner encodings (spec 3.2).
const (
	containerOwner int64 = -1 << 63           // 0x8000000000000000
	ttlOwnerBase   int64 = -0x100000000000000 // 0xFF00000000000000
	maxTTL         int64 = (1 << 40) - 1
)

// ownerIsSession reports whether an ephemeralOwner is a real session (not
// 0, a container or a TTL node).
func ownerIsSession(owner int64) bool {
	if owner == 0 || owner == containerOwner {
		return false
	}
	return uint64(owner)>>56 != 0xFF
}

// change is an outstanding change: the state a path will have once every
// txn prepped so far is applied. exists=false records a pending delete.
type change struct {
	zxid   int64
	exists bool
	stat   jute.Stat // Cversion is the stored count of child creates
	acl    []jute.ACL
}

// PrepConfig holds what prep needs to know about the server's settings.
type PrepConfig struct {
	Auth                 *auth.Config
	ExtendedTypesEnabled bool
	// Now returns the wall clock in ms for TxnHeader.time (ctime/mtime).
	Now func() int64
}

// Prepper turns requests into txns. It keeps ZooKeeper's outstanding
// changes so a request is validated against every earlier request, even
// ones not yet applied. All methods are serialised by mu.
type Prepper struct {
	mu       sync.Mutex
	cfg      PrepConfig
	tree     *datatree.Tree
	sessions *session.Tracker
	nextZxid int64
	changes  map[string]*change
}

// NewPrepper returns a prepper whose first zxid is lastZxid+1.
func NewPrepper(cfg PrepConfig, tree *datatree.Tree, sessions *session.Tracker, lastZxid int64) *Prepper {
	return &Prepper{cfg: cfg, tree: tree, sessions: sessions, nextZxid: lastZxid + 1, changes: make(map[string]*change)}
}

// Reset forgets every outstanding change and makes the next zxid
// lastZxid+1: a new leader starts its epoch from the applied tree.
func (p *Prepper) Reset(lastZxid int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextZxid = lastZxid + 1
	clear(p.changes)
}

// LastZxid is the last zxid assigned.
func (p *Prepper) LastZxid() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nextZxid - 1
}

// Outstanding is the number of paths with outstanding changes.
func (p *Prepper) Outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.changes)
}

// lookup returns the pending or current state of path.
func (p *Prepper) lookup(path string) (*change, error) {
	if c, ok := p.changes[path]; ok {
		if !c.exists {
			return nil, zkerr.NoNode
		}
		return c, nil
	}
	info, ok := p.tree.Node(path)
	if !ok {
		return nil, zkerr.NoNode
	}
	return &change{zxid: info.Stat.Mzxid, exists: true, stat: info.Stat, acl: info.ACL}, nil
}

// record is the change set of one request (or one multi): each write to
// the outstanding map remembers what it replaced, for rollback.
type record struct {
	p    *Prepper
	req  *Request
	undo []undoEntry
}

type undoEntry struct {
	path string
	prev *change
	had  bool
}

func (r *record) put(path string, c *change) {
	prev, had := r.p.changes[path]
	r.undo = append(r.undo, undoEntry{path: path, prev: prev, had: had})
	r.p.changes[path] = c
	r.req.touched = append(r.req.touched, path)
}

func (r *record) rollback() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		u := r.undo[i]
		if u.had {
			r.p.changes[u.path] = u.prev
		} else {
			delete(r.p.changes, u.path)
		}
	}
	r.undo = r.undo[:0]
}

// Prep validates req, assigns its zxid and builds its txn (an error txn if
// validation fails; every write consumes a zxid, as in ZooKeeper). emit is
// called with the request while the prep lock is held, so requests reach
// the log in zxid order.
func (p *Prepper) Prep(req *Request, emit func(*Request)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	zxid := p.nextZxid
	p.nextZxid++
	req.Hdr = jute.TxnHeader{ClientID: req.SessionID, Cxid: req.Cxid, Zxid: zxid, Time: p.cfg.Now(), Type: req.Op}
	rec := &record{p: p, req: req}
	var err error
	if req.Op == jute.OpMulti {
		req.Txn, err = p.prepMulti(rec, req)
	} else {
		req.Txn, err = p.prepOne(rec, req.Op, req.Record, true)
	}
	if err != nil {
		rec.rollback()
		req.touched = req.touched[:0]
		req.Err = zkerr.Of(err)
		req.Hdr.Type = jute.OpError
		req.Txn = &jute.IntRecord{Value: int32(req.Err)}
	}
	req.Data = jute.EncodeTxn(make([]byte, 0, 64), &req.Hdr, req.Txn, nil)
	emit(req)
}

// Applied forgets the outstanding changes of an applied request.
func (p *Prepper) Applied(req *Request) {
	if len(req.touched) == 0 {
		return
	}
	p.mu.Lock()
	z := req.Hdr.Zxid
	for _, path := range req.touched {
		if c, ok := p.changes[path]; ok && c.zxid <= z {
			delete(p.changes, path)
		}
	}
	p.mu.Unlock()
}

func (p *Prepper) checkSession(id int64) error {
	if p.sessions != nil && !p.sessions.Valid(id) {
		return zkerr.SessionExpired
	}
	return nil
}

func (p *Prepper) checkACL(acl []jute.ACL, ids []jute.Id, perm int32) error {
	return p.cfg.Auth.Check(acl, ids, perm)
}

// checkVersion returns the incremented version, or BadVersion.
func checkVersion(current, expected int32, path string) (int32, error) {
	if expected != -1 && expected != current {
		return 0, zkerr.Wrap(zkerr.BadVersion, "%s: version %d, expected %d", path, current, expected)
	}
	return current + 1, nil
}

func (p *Prepper) prepMulti(rec *record, req *Request) (jute.Record, error) {
	mr, ok := req.Record.(*jute.MultiRequest)
	if !ok {
		return nil, zkerr.MarshallingError
	}
	txns := make([]jute.SubTxn, 0, len(mr.Ops))
	var failed error
	for _, op := range mr.Ops {
		var typ int32
		var txn jute.Record
		if failed != nil {
			typ, txn = jute.OpError, &jute.IntRecord{Value: int32(zkerr.RuntimeInconsistency)}
		} else {
			t, err := p.prepOne(rec, op.Type, op.Record, false)
			if err != nil {
				failed = err
				rec.rollback()
				req.touched = req.touched[:0]
				typ, txn = jute.OpError, &jute.IntRecord{Value: int32(zkerr.Of(err))}
			} else {
				typ, txn = op.Type, t
			}
		}
		txns = append(txns, jute.SubTxn{Type: typ, Data: jute.Marshal(txn)})
	}
	return &jute.MultiTxn{Txns: txns}, nil
}

// prepOne builds the txn of one operation and records its outstanding
// changes. top is false inside a multi.
func (p *Prepper) prepOne(rec *record, op int32, body jute.Record, top bool) (jute.Record, error) {
	req := rec.req
	zxid, now := req.Hdr.Zxid, req.Hdr.Time
	switch op {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL:
		return p.prepCreate(rec, op, body, zxid, now)

	case jute.OpDelete:
		r, ok := body.(*jute.PathVersionRequest)
		if !ok {
			return nil, zkerr.MarshallingError
		}
		if err := p.checkSession(req.SessionID); err != nil {
			return nil, err
		}
		path := r.Path
		if err := validateParentPath(path); err != nil {
			return nil, err
		}
		parent, err := p.lookup(parentOf(path))
		if err != nil {
			return nil, err
		}
		if err := p.checkACL(parent.acl, req.Auth, jute.PermDelete); err != nil {
			return nil, err
		}
		node, err := p.lookup(path)
		if err != nil {
			return nil, err
		}
		if _, err := checkVersion(node.stat.Version, r.Version, path); err != nil {
			return nil, err
		}
		if node.stat.NumChildren > 0 {
			return nil, zkerr.Wrap(zkerr.NotEmpty, "%s has %d children", path, node.stat.NumChildren)
		}
		p.recordDelete(rec, path, parent, zxid)
		return &jute.PathRecord{Path: path}, nil

	case jute.OpDeleteContainer:
		r, ok := body.(*jute.PathRecord)
		if !ok {
			return nil, zkerr.MarshallingError
		}
		path := r.Path
		if err := validateParentPath(path); err != nil {
			return nil, err
		}
		node, err := p.lookup(path)
		if err != nil {
			return nil, err
		}
		if node.stat.NumChildren > 0 {
			return nil, zkerr.NotEmpty
		}
		if ownerIsSession(node.stat.EphemeralOwner) {
			return nil, zkerr.BadVersion
		}
		parent, err := p.lookup(parentOf(path))
		if err != nil {
			return nil, err
		}
		p.recordDelete(rec, path, parent, zxid)
		return &jute.PathRecord{Path: path}, nil

	case jute.OpSetData:
		r, ok := body.(*jute.SetDataRequest)
		if !ok {
			return nil, zkerr.MarshallingError
		}
		node, err := p.existing(req, r.Path, jute.PermWrite, nil)
		if err != nil {
			return nil, err
		}
		v, err := checkVersion(node.stat.Version, r.Version, r.Path)
		if err != nil {
			return nil, err
		}
		n := *node
		n.zxid = zxid
		n.stat.Version = v
		n.stat.Mzxid = zxid
		n.stat.Mtime = now
		n.stat.DataLength = int32(len(r.Data))
		rec.put(r.Path, &n)
		return &jute.SetDataTxn{Path: r.Path, Data: r.Data, Version: v}, nil

	case jute.OpSetACL:
		r, ok := body.(*jute.SetACLRequest)
		if !ok {
			return nil, zkerr.MarshallingError
		}
		var acl []jute.ACL
		node, err := p.existing(req, r.Path, jute.PermAdmin, func() (err error) {
			acl, err = auth.FixupACL(r.ACL, req.Auth)
			return err
		})
		if err != nil {
			return nil, err
		}
		v, err := checkVersion(node.stat.Aversion, r.Version, r.Path)
		if err != nil {
			return nil, err
		}
		n := *node
		n.zxid = zxid
		n.stat.Aversion = v
		n.acl = acl
		rec.put(r.Path, &n)
		return &jute.SetACLTxn{Path: r.Path, ACL: acl, Version: v}, nil

	case jute.OpCheck:
		r, ok := body.(*jute.PathVersionRequest)
		if !ok {
			return nil, zkerr.MarshallingError
		}
		node, err := p.existing(req, r.Path, jute.PermRead, nil)
		if err != nil {
			return nil, err
		}
		v, err := checkVersion(node.stat.Version, r.Version, r.Path)
		if err != nil {
			return nil, err
		}
		return &jute.PathVersionRequest{Path: r.Path, Version: v}, nil

	case jute.OpCreateSession:
		r, ok := body.(*jute.IntRecord)
		if !ok {
			return nil, zkerr.MarshallingError
		}
		return &jute.IntRecord{Value: r.Value}, nil

	case jute.OpCloseSession:
		return p.prepCloseSession(rec, zxid), nil

	// Dynamic reconfiguration needs an ensemble; a standalone server
	// answers as ZooKeeper does with reconfigEnabled=false.
	case jute.OpReconfig:
		if err := p.checkSession(req.SessionID); err != nil {
			return nil, err
		}
		return nil, zkerr.ReconfigDisabled
	}
	return nil, zkerr.Wrap(zkerr.Unimplemented, "op %d cannot be a write", op)
}

// existing runs the checks setData, setACL and check share, in ZooKeeper's
// order (which decides which error a client sees): a live session, a valid
// path, then beforeLookup (setACL validates its ACL here), the node exists,
// and the caller holds perm on it.
func (p *Prepper) existing(req *Request, path string, perm int32, beforeLookup func() error) (*change, error) {
	if err := p.checkSession(req.SessionID); err != nil {
		return nil, err
	}
	if err := ValidatePath(path); err != nil {
		return nil, err
	}
	if beforeLookup != nil {
		if err := beforeLookup(); err != nil {
			return nil, err
		}
	}
	node, err := p.lookup(path)
	if err != nil {
		return nil, err
	}
	if err := p.checkACL(node.acl, req.Auth, perm); err != nil {
		return nil, err
	}
	return node, nil
}

// validateParentPath is ZooKeeper's getParentPathAndValidate: a slash, no
// NUL, not a built-in node.
func validateParentPath(path string) error {
	if len(path) == 0 || path[0] != '/' || isSpecialPath(path) {
		return zkerr.Wrap(zkerr.BadArguments, "cannot delete %q", path)
	}
	for i := 0; i < len(path); i++ {
		if path[i] == 0 {
			return zkerr.Wrap(zkerr.BadArguments, "NUL in path")
		}
	}
	return nil
}

func (p *Prepper) recordDelete(rec *record, path string, parent *change, zxid int64) {
	par := *parent
	par.zxid = zxid
	par.stat.NumChildren--
	par.stat.Pzxid = zxid
	rec.put(parentOf(path), &par)
	rec.put(path, &change{zxid: zxid, exists: false})
}

func (p *Prepper) prepCreate(rec *record, op int32, body jute.Record, zxid, now int64) (jute.Record, error) {
	req := rec.req
	var path string
	var data []byte
	var acl []jute.ACL
	var flags int32
	ttl := int64(-1)
	switch r := body.(type) {
	case *jute.CreateRequest:
		path, data, acl, flags = r.Path, r.Data, r.ACL, r.Flags
	case *jute.CreateTTLRequest:
		path, data, acl, flags, ttl = r.Path, r.Data, r.ACL, r.Flags, r.TTL
	default:
		return nil, zkerr.MarshallingError
	}
	if flags < jute.FlagPersistent || flags > jute.FlagPersistentSequentialWithTTL {
		return nil, zkerr.Wrap(zkerr.BadArguments, "unknown create flags %d", flags)
	}
	isTTL := flags == jute.FlagPersistentWithTTL || flags == jute.FlagPersistentSequentialWithTTL
	if op == jute.OpCreateTTL && !isTTL {
		return nil, zkerr.Wrap(zkerr.BadArguments, "createTTL needs a TTL mode, got flags %d", flags)
	}
	if isTTL && !p.cfg.ExtendedTypesEnabled {
		return nil, zkerr.Wrap(zkerr.Unimplemented, "TTL nodes need zookeeper.extendedTypesEnabled=true")
	}
	if isTTL {
		if ttl <= 0 || ttl > maxTTL {
			return nil, zkerr.Wrap(zkerr.BadArguments, "ttl %d out of range", ttl)
		}
		if op != jute.OpCreateTTL {
			return nil, zkerr.Wrap(zkerr.BadArguments, "TTL mode needs createTTL")
		}
	} else if ttl >= 0 {
		return nil, zkerr.Wrap(zkerr.BadArguments, "ttl given for a non-TTL mode")
	}
	ephemeral := flags == jute.FlagEphemeral || flags == jute.FlagEphemeralSequential
	sequential := flags == jute.FlagPersistentSequential || flags == jute.FlagEphemeralSequential ||
		flags == jute.FlagPersistentSequentialWithTTL
	if err := p.checkSession(req.SessionID); err != nil {
		return nil, err
	}
	last := -1
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			last = i
			break
		}
	}
	for i := 0; i < len(path); i++ {
		if path[i] == 0 {
			last = -1
			break
		}
	}
	if last == -1 {
		return nil, zkerr.Wrap(zkerr.BadArguments, "invalid path %q", path)
	}
	parentPath := path[:last]
	if parentPath == "" {
		parentPath = "/"
	}
	acl, err := auth.FixupACL(acl, req.Auth)
	if err != nil {
		return nil, err
	}
	parent, err := p.lookup(parentPath)
	if err != nil {
		return nil, err
	}
	if err := p.checkACL(parent.acl, req.Auth, jute.PermCreate); err != nil {
		return nil, err
	}
	if sequential {
		path = fmt.Sprintf("%s%010d", path, parent.stat.Cversion)
	}
	if err := ValidatePath(path); err != nil {
		return nil, err
	}
	if _, err := p.lookup(path); err == nil {
		return nil, zkerr.Wrap(zkerr.NodeExists, "%s", path)
	} else if !errors.Is(err, zkerr.NoNode) {
		return nil, err
	}
	if ownerIsSession(parent.stat.EphemeralOwner) {
		return nil, zkerr.NoChildrenForEphemerals
	}
	newCversion := parent.stat.Cversion + 1
	var owner int64
	var txn jute.Record
	switch op {
	case jute.OpCreateContainer:
		owner = containerOwner
		txn = &jute.CreateContainerTxn{Path: path, Data: data, ACL: acl, ParentCVersion: newCversion}
	case jute.OpCreateTTL:
		owner = ttlOwnerBase | ttl
		txn = &jute.CreateTTLTxn{Path: path, Data: data, ACL: acl, ParentCVersion: newCversion, TTL: ttl}
	default:
		if ephemeral {
			owner = req.SessionID
		}
		txn = &jute.CreateTxn{Path: path, Data: data, ACL: acl, Ephemeral: ephemeral, ParentCVersion: newCversion}
	}
	par := *parent
	par.zxid = zxid
	par.stat.NumChildren++
	par.stat.Cversion = newCversion
	par.stat.Pzxid = zxid
	rec.put(parentPath, &par)
	rec.put(path, &change{zxid: zxid, exists: true, acl: acl, stat: jute.Stat{
		Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: now, Mtime: now,
		EphemeralOwner: owner, DataLength: int32(len(data)),
	}})
	return txn, nil
}

// prepCloseSession lists the session's ephemerals, counting outstanding
// creates and deletes, and records their deletion.
func (p *Prepper) prepCloseSession(rec *record, zxid int64) jute.Record {
	id := rec.req.SessionID
	set := make(map[string]bool)
	for _, path := range p.tree.Ephemerals(id) {
		set[path] = true
	}
	for path, c := range p.changes {
		if !c.exists {
			delete(set, path)
		} else if c.stat.EphemeralOwner == id {
			set[path] = true
		}
	}
	paths := make([]string, 0, len(set))
	for path := range set {
		paths = append(paths, path)
	}
	p.javaSetOrder(paths)
	for _, path := range paths {
		if parent, err := p.lookup(parentOf(path)); err == nil {
			p.recordDelete(rec, path, parent, zxid)
		} else {
			rec.put(path, &change{zxid: zxid, exists: false})
		}
	}
	if p.sessions != nil {
		p.sessions.SetClosing(id)
	}
	return &jute.CloseSessionTxn{Paths: paths, Present: true}
}

// javaSetOrder sorts a session's ephemerals the way ZooKeeper lists them
// in a CloseSessionTxn. The order is visible to clients (it is the order of
// the NodeDeleted events), so zabkit reproduces it. ZooKeeper keeps each
// session's ephemerals in a java.util.HashSet (filled in creation order),
// clones it when the session closes — a clone re-inserts the entries, in the
// original's iteration order, into a table sized for the current count —
// and adds the session's outstanding creates to the clone. HashSet
// iteration is by bucket (the spread String.hashCode masked by the table
// size), then insertion order within a bucket. The original table's size is
// taken from the current count (Java's table never shrinks, so a session
// that once held many more ephemerals iterates differently; rare).
func (p *Prepper) javaSetOrder(paths []string) {
	type entry struct {
		path    string
		hash    int32
		czxid   int64
		applied bool
	}
	entries := make([]entry, 0, len(paths))
	for _, path := range paths {
		h := javaStringHash(path)
		e := entry{path: path, hash: h ^ int32(uint32(h)>>16)}
		if c, ok := p.changes[path]; ok && c.exists {
			e.czxid = c.stat.Czxid
		} else if info, ok := p.tree.Node(path); ok {
			e.czxid, e.applied = info.Stat.Czxid, true
		}
		entries = append(entries, e)
	}
	bucket := func(e entry, capacity int) int { return int(e.hash) & (capacity - 1) }
	var base, added []entry
	for _, e := range entries {
		if e.applied {
			base = append(base, e)
		} else {
			added = append(added, e)
		}
	}
	// The original set: filled in creation order.
	orig := 16
	for float64(len(base)) > 0.75*float64(orig) {
		orig *= 2
	}
	sort.SliceStable(base, func(i, j int) bool {
		bi, bj := bucket(base[i], orig), bucket(base[j], orig)
		if bi != bj {
			return bi < bj
		}
		return base[i].czxid < base[j].czxid
	})
	// The clone: HashMap.putMapEntries sizes it for the current count.
	capacity := 16
	if len(base) > 0 {
		capacity = tableSizeFor(int(float32(len(base))/0.75 + 1))
	}
	order := base
	sort.SliceStable(order, func(i, j int) bool { return bucket(order[i], capacity) < bucket(order[j], capacity) })
	// Outstanding creates join the clone in zxid order; a resize keeps the
	// relative order within each new bucket.
	sort.Slice(added, func(i, j int) bool { return added[i].czxid < added[j].czxid })
	for _, e := range added {
		order = append(order, e)
		if float64(len(order)) > 0.75*float64(capacity) {
			capacity *= 2
		}
		sort.SliceStable(order, func(i, j int) bool { return bucket(order[i], capacity) < bucket(order[j], capacity) })
	}
	for i, e := range order {
		paths[i] = e.path
	}
}

// tableSizeFor is java.util.HashMap.tableSizeFor: the next power of two.
func tableSizeFor(c int) int {
	n := 1
	for n < c {
		n <<= 1
	}
	return n
}

// javaStringHash is Java's String.hashCode over UTF-16 code units.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}
