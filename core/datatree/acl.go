package datatree

import (
	"github.com/zabkit/zabkit/core/proto/jute"
)

// nullACL is the ACL index of a node whose list is null (snapshot key -1).
// ZooKeeper gives it only to root, /zookeeper and /zookeeper/quota, and
// reads it back as OPEN_ACL_UNSAFE.
const nullACL int32 = -1

// aclDeleted marks a node deleted from the tree, which a snapshot walk
// that listed it before the delete must skip.
const aclDeleted int32 = -2

// aclCache interns ACL lists, as ZooKeeper's ReferenceCountedACLCache does,
// so a million nodes with the same ACL hold a 4-byte index each rather than
// a copy of the list.
//
// Indices are slots in a slice and are reused once free, so they never
// overflow however many distinct lists come and go. In a snapshot index i is
// written as key i+1 (ZooKeeper numbers keys from 1); on load keys are
// remapped to slots.
type aclCache struct {
	entries []aclEntry
	free    []int32
	byEnc   map[string]int32
	// holdFree is non-zero while a snapshot walk runs: freed slots are then
	// parked in deferred instead of being reused, so an index the snapshot
	// already wrote into its ACL section never changes meaning mid-walk.
	holdFree int
	deferred []int32
	scratch  jute.Writer
	// last is the most recently interned index: most creates reuse the
	// previous create's ACL, and comparing with it skips encoding.
	last int32
}

type aclEntry struct {
	acl  []jute.ACL
	enc  string
	refs int64
}

func newACLCache() *aclCache {
	return &aclCache{byEnc: make(map[string]int32), last: -1}
}

// encode returns the canonical jute encoding of acl in the scratch buffer.
// The caller holds the tree's write lock.
func (c *aclCache) encode(acl []jute.ACL) []byte {
	c.scratch.Reset()
	jute.WriteACLs(&c.scratch, acl)
	return c.scratch.Bytes()
}

// intern returns the index of acl, adding it if new, and counts one more
// use. A nil list is the null ACL.
func (c *aclCache) intern(acl []jute.ACL) int32 {
	if acl == nil {
		return nullACL
	}
	if l := c.last; l >= 0 && int(l) < len(c.entries) && c.entries[l].refs > 0 && equalACL(c.entries[l].acl, acl) {
		c.entries[l].refs++
		return l
	}
	enc := c.encode(acl)
	if idx, ok := c.byEnc[string(enc)]; ok { // no allocation for the lookup
		c.entries[idx].refs++
		c.last = idx
		return idx
	}
	own := make([]jute.ACL, len(acl))
	copy(own, acl)
	e := aclEntry{acl: own, enc: string(enc), refs: 1}
	var idx int32
	if n := len(c.free); n > 0 {
		idx = c.free[n-1]
		c.free = c.free[:n-1]
		c.entries[idx] = e
	} else {
		idx = int32(len(c.entries))
		c.entries = append(c.entries, e)
	}
	c.byEnc[e.enc] = idx
	c.last = idx
	return idx
}

func equalACL(a, b []jute.ACL) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// addRef counts one more use of an existing index (snapshot load).
func (c *aclCache) addRef(idx int32) {
	if idx >= 0 {
		c.entries[idx].refs++
	}
}

// release drops one use of idx and frees the slot when unused.
func (c *aclCache) release(idx int32) {
	if idx < 0 || int(idx) >= len(c.entries) {
		return
	}
	e := &c.entries[idx]
	e.refs--
	if e.refs > 0 {
		return
	}
	delete(c.byEnc, e.enc)
	*e = aclEntry{}
	if c.holdFree > 0 {
		c.deferred = append(c.deferred, idx)
	} else {
		c.free = append(c.free, idx)
	}
}

// get returns the list behind idx. The slice is shared: callers must not
// modify it.
func (c *aclCache) get(idx int32) []jute.ACL {
	if idx < 0 || int(idx) >= len(c.entries) {
		return jute.OpenACLUnsafe
	}
	return c.entries[idx].acl
}

// hold starts a snapshot walk; unhold ends it and makes deferred slots
// reusable.
func (c *aclCache) hold() { c.holdFree++ }

func (c *aclCache) unhold() {
	c.holdFree--
	if c.holdFree == 0 {
		c.free = append(c.free, c.deferred...)
		c.deferred = c.deferred[:0]
	}
}

// size is the number of interned lists.
func (c *aclCache) size() int { return len(c.byEnc) }

// quarantine is the ACL a loaded node gets when its snapshot names an ACL
// key the snapshot's ACL section lacks. A fuzzy ZooKeeper snapshot can do
// that (a setACL added the list while the walk ran); ZooKeeper loads it
// and the replayed setACL repairs the node. Until then only a superuser
// may touch the node: world with no permissions, never open by accident.
var quarantine = []jute.ACL{{Perms: 0, ID: jute.Id{Scheme: "world", ID: "anyone"}}}

// quarantineACL returns the quarantine list's index without counting a
// use (the loader counts each node's use itself).
func (t *Tree) quarantineACL() int32 {
	idx := t.acls.intern(quarantine)
	t.acls.entries[idx].refs--
	return idx
}
