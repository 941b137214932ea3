// Package datatree is zabkit's in-memory database: the znode tree with its
// stats, ACLs, ephemerals, containers and TTL nodes, the watches on it, the
// application of txns, the incremental tree digest, and ZooKeeper 3.8's
// snapshot file format.
//
// Memory is the design constraint (a million znodes must fit in a small
// fraction of what Apache ZooKeeper needs), so:
//   - there is no map keyed by full path: each node holds a table of its
//     children keyed by name, and a lookup walks the path's components
//     (ZooKeeper paths are shallow; a lookup costs a few probes); a node
//     stores its name but not its path;
//   - a node is a fixed 64-byte struct with int32 versions and an index
//     into an interned ACL cache (as ZooKeeper does); what only parents,
//     ephemerals and changed-ACL nodes need sits in a 32-byte side struct;
//     its name and data share one pointer-free allocation; its children
//     are an open-addressing table of node pointers (9 bytes a slot)
//     created with the first child;
//   - there are no per-node watch structures; watches live in two
//     watch.Managers keyed by path.
//
// Every exported method locks the tree internally: reads take the read
// lock, Apply takes the write lock. Watch notifications are issued while
// the lock is held, so a client's event is queued before the reply to any
// read that could observe the change.
package datatree

import (
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/watch"
	"github.com/zabkit/zabkit/core/zkerr"
)

// Ephemeral-owner encodings (spec 3.2). They are stored as is and reported
// to clients as 0 for containers and TTL nodes.
const (
	// ContainerOwner marks a container node.
	ContainerOwner int64  = math.MinInt64
	ttlHigh        uint64 = 0xFF00000000000000
	ttlReserved    uint64 = 0x00FFFF0000000000
	// MaxTTL is the largest TTL (ms) the owner encoding can carry.
	MaxTTL int64 = 1<<40 - 1
)

// TTLOwner encodes a TTL node's ephemeral owner.
func TTLOwner(ttlMs int64) int64 { return int64(ttlHigh | uint64(ttlMs)&uint64(MaxTTL)) }

// IsContainer reports whether owner marks a container.
func IsContainer(owner int64) bool { return owner == ContainerOwner }

// IsTTL reports whether owner marks a TTL node. As with ZooKeeper's extended
// types, a session id whose top byte is 0xFF (server id 255) is ambiguous;
// ZooKeeper forbids such ids when TTL nodes are enabled.
func IsTTL(owner int64) bool {
	u := uint64(owner)
	return u&ttlHigh == ttlHigh && u&ttlReserved == 0
}

// TTLOf returns the TTL in ms of a TTL node's owner.
func TTLOf(owner int64) int64 { return owner & MaxTTL }

// IsEphemeral reports whether owner is a session (an ordinary ephemeral).
func IsEphemeral(owner int64) bool { return owner != 0 && !IsContainer(owner) && !IsTTL(owner) }

// node is one znode, 64 bytes (a 64-byte size class). It holds no path:
// its name lives in buf, ahead of its data (see kids.go). What most
// znodes -- leaves that are neither ephemeral nor ever had a child or an
// ACL change -- have no use for lives in a separate nodeExt, allocated on
// first need: children, pzxid (until it differs from czxid), the stored
// cversion and aversion, and the ephemeral owner.
type node struct {
	buf     *byte    // name ‖ data; nil when both are empty
	x       *nodeExt // nil: no children, pzxid == czxid, owner, cversion and aversion 0
	czxid   int64
	mzxid   int64
	ctime   int64
	mtime   int64
	nameLen int32
	dataLen int32 // -1 for null data
	version int32
	acl     int32 // index into the ACL cache, nullACL for a null list
}

// nodeExt is the part of a node most leaves do not need (32 bytes).
type nodeExt struct {
	kids     *kidTable // nil while the node has no children
	pzxid    int64
	owner    int64
	cversion int32 // stored: count of child creates
	aversion int32
}

func (n *node) kids() *kidTable {
	if n.x == nil {
		return nil
	}
	return n.x.kids
}

func (n *node) pzxid() int64 {
	if n.x == nil {
		return n.czxid
	}
	return n.x.pzxid
}

func (n *node) owner() int64 {
	if n.x == nil {
		return 0
	}
	return n.x.owner
}

func (n *node) cversion() int32 {
	if n.x == nil {
		return 0
	}
	return n.x.cversion
}

func (n *node) aversion() int32 {
	if n.x == nil {
		return 0
	}
	return n.x.aversion
}

// ext returns the node's nodeExt, allocating it (with the values the
// node had without one) if needed.
func (n *node) ext() *nodeExt {
	if n.x == nil {
		n.x = &nodeExt{pzxid: n.czxid}
	}
	return n.x
}

// setExt sets the nodeExt fields of a new node (czxid already set),
// allocating a nodeExt only if one of them differs from its default.
func (n *node) setExt(pzxid, owner int64, cversion, aversion int32) {
	if pzxid == n.czxid && owner == 0 && cversion == 0 && aversion == 0 {
		n.x = nil
		return
	}
	n.x = &nodeExt{pzxid: pzxid, owner: owner, cversion: cversion, aversion: aversion}
}

// emptyData is what data() returns for zero-length (non-null) data.
var emptyData = []byte{}

func (n *node) statPersisted() jute.StatPersisted {
	return jute.StatPersisted{
		Czxid: n.czxid, Mzxid: n.mzxid, Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Cversion: n.cversion(), Aversion: n.aversion(),
		EphemeralOwner: n.owner(), Pzxid: n.pzxid(),
	}
}

// clientStat is the Stat a client sees: cversion counts creates and
// deletes, and containers and TTL nodes report owner 0.
func (n *node) clientStat() jute.Stat {
	nc := int32(n.kids().Len())
	owner := n.owner()
	if !IsEphemeral(owner) {
		owner = 0
	}
	return jute.Stat{
		Czxid: n.czxid, Mzxid: n.mzxid, Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Cversion: 2*n.cversion() - nc, Aversion: n.aversion(),
		EphemeralOwner: owner, DataLength: int32(n.dataSize()), NumChildren: nc,
		Pzxid: n.pzxid(),
	}
}

// Tree is the znode tree. Create it with New or ReadSnapshot.
type Tree struct {
	mu   sync.RWMutex
	root *node
	acls *aclCache

	nodes    int   // znodes including root
	dataSize int64 // sum of len(path)+len(data) over non-root nodes
	digest   uint64
	lastZxid int64

	ephemerals map[int64]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}

	dataW  *watch.Manager
	childW *watch.Manager

	// snapDigest is the {zxid, digest} trailer of the snapshot this tree
	// was loaded from, if any.
	snapDigestZxid int64
	snapDigest     int64
	hasSnapDigest  bool

	hashBuf [60]byte // scratch for node hashes; write lock held
}

// Well-known paths.
const (
	ZookeeperPath = "/zookeeper"
	QuotaPath     = "/zookeeper/quota"
	ConfigPath    = "/zookeeper/config"
)

func newEmpty() *Tree {
	return &Tree{
		acls:       newACLCache(),
		ephemerals: make(map[int64]map[string]struct{}),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
		dataW:      watch.NewManager(),
		childW:     watch.NewManager(),
	}
}

// New returns a tree holding what every ZooKeeper database starts with:
// root, /zookeeper, /zookeeper/quota and /zookeeper/config (READ for
// world:anyone, aversion -1). Their stats are all zero.
func New() *Tree {
	t := newEmpty()
	t.root = &node{acl: nullACL}
	zk := &node{acl: nullACL}
	quota := &node{acl: nullACL}
	config := &node{acl: t.acls.intern(jute.ReadACLUnsafe)}
	config.setExt(0, 0, 0, -1)
	zk.setBuf("zookeeper", emptyData)
	quota.setBuf("quota", emptyData)
	config.setBuf("config", emptyData)
	t.root.ext().kids = &kidTable{}
	t.root.kids().insert(zk)
	zk.ext().kids = &kidTable{}
	zk.kids().insert(quota)
	zk.kids().insert(config)
	t.nodes = 4
	t.dataSize = int64(len(ZookeeperPath) + len(QuotaPath) + len(ConfigPath))
	t.digest = t.hash("/", t.root) + t.hash(ZookeeperPath, zk)
	return t
}

// lookup finds the node at path. "" is an alias of root, as in ZooKeeper;
// any non-canonical path (no leading slash, empty component, trailing
// slash) finds nothing.
func (t *Tree) lookup(path string) *node {
	if path == "/" || path == "" {
		return t.root
	}
	if path[0] != '/' {
		return nil
	}
	n := t.root
	p := path[1:]
	for {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return n.kids().get(p)
		}
		n = n.kids().get(p[:i])
		if n == nil {
			return nil
		}
		p = p[i+1:]
	}
}

// splitPath splits a path into parent path and child name. ok is false for
// root and for paths that cannot name a child.
func splitPath(path string) (parent, name string, ok bool) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 || i == len(path)-1 || path[0] != '/' {
		return "", "", false
	}
	if i == 0 {
		return "/", path[1:], true
	}
	return path[:i], path[i+1:], true
}

// NodeInfo is what prep needs to validate a request against a node.
// Stat.Cversion is the STORED count of child creates (the next sequential
// suffix), Stat.EphemeralOwner is the raw stored owner (container and TTL
// encodings included); NumChildren and DataLength are computed. ACL is
// shared with the tree and must not be modified.
type NodeInfo struct {
	Stat jute.Stat
	ACL  []jute.ACL
}

func (t *Tree) info(n *node) NodeInfo {
	st := n.clientStat()
	st.Cversion = n.cversion()
	st.EphemeralOwner = n.owner()
	return NodeInfo{Stat: st, ACL: t.acls.get(n.acl)}
}

// Node returns the node at path for request validation.
func (t *Tree) Node(path string) (NodeInfo, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.lookup(path)
	if n == nil {
		return NodeInfo{}, false
	}
	return t.info(n), true
}

// LastZxid is the zxid of the last applied txn.
func (t *Tree) LastZxid() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.lastZxid
}

// SetLastZxid records the zxid the tree reflects; used after ReadSnapshot,
// whose file name (not its content) carries the zxid.
func (t *Tree) SetLastZxid(zxid int64) {
	t.mu.Lock()
	t.lastZxid = zxid
	t.mu.Unlock()
}

// Ephemerals returns the sorted paths of the ephemerals owned by session.
func (t *Tree) Ephemerals(session int64) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return sortedKeys(t.ephemerals[session])
}

// SessionsWithEphemerals returns every session owning ephemerals with its
// sorted paths (for the dump four-letter word).
func (t *Tree) SessionsWithEphemerals() map[int64][]string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(map[int64][]string, len(t.ephemerals))
	for s, set := range t.ephemerals {
		out[s] = sortedKeys(set)
	}
	return out
}

func sortedKeys(set map[string]struct{}) []string {
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// check runs an ACL check if there is one.
func check(fn func([]jute.ACL) error, acl []jute.ACL) error {
	if fn == nil {
		return nil
	}
	return fn(acl)
}

// readable finds path and runs the caller's ACL check on it; the caller
// holds the read lock.
func (t *Tree) readable(path string, chk func([]jute.ACL) error) (*node, error) {
	n := t.lookup(path)
	if n == nil {
		return nil, zkerr.NoNode
	}
	if err := check(chk, t.acls.get(n.acl)); err != nil {
		return nil, err
	}
	return n, nil
}

// GetData returns the node's data and client stat, registering a data
// watch for w (if non-nil) once check has passed. The data slice is shared
// with the tree and must not be modified.
func (t *Tree) GetData(path string, chk func([]jute.ACL) error, w watch.Watcher) ([]byte, jute.Stat, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, err := t.readable(path, chk)
	if err != nil {
		return nil, jute.Stat{}, err
	}
	if w != nil {
		t.dataW.Add(path, w, watch.Standard)
	}
	return n.data(), n.clientStat(), nil
}

// Exists returns the node's client stat. A watch for w is registered even
// when the node is missing (then check is not called), as in ZooKeeper.
func (t *Tree) Exists(path string, chk func([]jute.ACL) error, w watch.Watcher) (jute.Stat, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.lookup(path)
	if n == nil {
		if w != nil {
			t.dataW.Add(path, w, watch.Standard)
		}
		return jute.Stat{}, zkerr.NoNode
	}
	if err := check(chk, t.acls.get(n.acl)); err != nil {
		return jute.Stat{}, err
	}
	if w != nil {
		t.dataW.Add(path, w, watch.Standard)
	}
	return n.clientStat(), nil
}

// GetChildren returns the names of the node's children (unordered, as
// ZooKeeper) and its client stat, registering a child watch for w.
func (t *Tree) GetChildren(path string, chk func([]jute.ACL) error, w watch.Watcher) ([]string, jute.Stat, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n, err := t.readable(path, chk)
	if err != nil {
		return nil, jute.Stat{}, err
	}
	if w != nil {
		t.childW.Add(path, w, watch.Standard)
	}
	return n.kids().names(), n.clientStat(), nil
}

// GetACL returns a copy of the node's ACL and its client stat. The caller
// checks READ or ADMIN on the returned list.
func (t *Tree) GetACL(path string) ([]jute.ACL, jute.Stat, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.lookup(path)
	if n == nil {
		return nil, jute.Stat{}, zkerr.NoNode
	}
	src := t.acls.get(n.acl)
	acl := make([]jute.ACL, len(src))
	copy(acl, src)
	return acl, n.clientStat(), nil
}

// AllChildrenNumber counts all descendants of path (getAllChildrenNumber).
// For "/" that is every node but root, /zookeeper included, as ZooKeeper
// reports.
func (t *Tree) AllChildrenNumber(path string, chk func([]jute.ACL) error) (int32, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.lookup(path)
	if n == nil {
		return 0, zkerr.NoNode
	}
	if err := check(chk, t.acls.get(n.acl)); err != nil {
		return 0, err
	}
	if n == t.root {
		return int32(t.nodes - 1), nil
	}
	return int32(countDescendants(n)), nil
}

func countDescendants(n *node) int {
	c := 0
	stack := []*node{n}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c += x.kids().Len()
		x.kids().each(func(k *node) {
			if k.kids().Len() > 0 {
				stack = append(stack, k)
			}
		})
	}
	return c
}

// Stats are the tree's counters for mntr, srvr and metrics.
type Stats struct {
	// NodeCount is reported like ZooKeeper's: root is keyed under both ""
	// and "/", so an empty server says 5.
	NodeCount int
	// ApproxDataSize is ZooKeeper's sum of path length plus data length
	// over its node map (root counted under both keys).
	ApproxDataSize int64
	// EphemeralCount counts session-owned ephemerals (not containers/TTL).
	EphemeralCount int
	// WatchCount is data plus child watches (mntr zk_watch_count).
	WatchCount   int
	DataWatches  int
	ChildWatches int
	// Containers and TTLNodes are the nodes the reaper looks at.
	Containers int
	TTLNodes   int
}

// Stats returns the tree's counters.
func (t *Tree) Stats() Stats {
	t.mu.RLock()
	defer t.mu.RUnlock()
	eph := 0
	for _, set := range t.ephemerals {
		eph += len(set)
	}
	dw, cw := t.dataW.Count(), t.childW.Count()
	return Stats{
		NodeCount:      t.nodes + 1,
		ApproxDataSize: t.dataSize + 1 + 2*int64(t.root.dataSize()),
		EphemeralCount: eph,
		WatchCount:     dw + cw,
		DataWatches:    dw,
		ChildWatches:   cw,
		Containers:     len(t.containers),
		TTLNodes:       len(t.ttls),
	}
}

// ReapCandidates returns up to limit (all if limit <= 0) sorted paths the
// container manager should delete with op 20: empty containers that have
// had a child (stored cversion > 0) or, if maxNeverUsedMs > 0, that have
// been empty and unused for longer than that; and empty TTL nodes whose
// mtime is more than their TTL ago.
func (t *Tree) ReapCandidates(nowMs int64, maxNeverUsedMs int64, limit int) []string {
	t.mu.RLock()
	var out []string
	for p := range t.containers {
		n := t.lookup(p)
		if n == nil || n.kids().Len() > 0 {
			continue
		}
		if n.cversion() > 0 || (maxNeverUsedMs > 0 && nowMs-n.mtime > maxNeverUsedMs) {
			out = append(out, p)
		}
	}
	for p := range t.ttls {
		n := t.lookup(p)
		if n == nil || n.kids().Len() > 0 {
			continue
		}
		if ttl := TTLOf(n.owner()); ttl != 0 && nowMs-n.mtime > ttl {
			out = append(out, p)
		}
	}
	t.mu.RUnlock()
	sort.Strings(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
