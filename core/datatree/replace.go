package datatree

import "github.com/zabkit/zabkit/core/watch"

// ReplaceWith makes t hold o's content: nodes, ACL cache, the ephemeral,
// container and TTL indexes, counters, digest, LastZxid and the snapshot
// digest trailer. A learner loads a SNAP payload into a new tree (see
// ReadSyncSnapshot) and then swaps it in here, under t's write lock, so
// everything holding the *Tree (server, pipeline) sees the new state at
// once and never a half-loaded one.
//
// t's watches are dropped, not carried over or fired: the caller closes
// every client connection on such a replacement (a learner taking a SNAP
// is not serving), so the watches would go with them anyway, and
// reconnecting clients re-register theirs with SetWatches, which compares
// against the new state.
//
// o must not be used afterwards; it is left as an empty tree (as New) so
// that a mistaken use cannot reach the nodes t now owns. The locks are
// taken t then o: never call o.ReplaceWith(t) concurrently.
func (t *Tree) ReplaceWith(o *Tree) {
	if t == o {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	t.moveFrom(o)
	t.dataW, t.childW = watch.NewManager(), watch.NewManager()
	o.moveFrom(New())
}

// moveFrom sets every content field of t from o (not the lock, the
// scratch buffer or the watch managers). Both are locked or unshared.
func (t *Tree) moveFrom(o *Tree) {
	t.root, t.acls = o.root, o.acls
	t.nodes, t.dataSize = o.nodes, o.dataSize
	t.digest, t.lastZxid = o.digest, o.lastZxid
	t.ephemerals, t.containers, t.ttls = o.ephemerals, o.containers, o.ttls
	t.snapDigestZxid, t.snapDigest, t.hasSnapDigest = o.snapDigestZxid, o.snapDigest, o.hasSnapDigest
}
