package datatree

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
	"unsafe"
)

// zookeeperSubtree is excluded from the digest: ZooKeeper updates quota
// nodes locally, so it leaves everything below /zookeeper/ out (but not
// /zookeeper itself).
const zookeeperSubtree = "/zookeeper/"

// hash is a node's contribution to the tree digest (spec 7.4):
// CRC32(path ‖ data ‖ BE{czxid, mzxid, pzxid, ctime, mtime, version,
// cversion, aversion, ephemeralOwner}), with root hashed under path "".
// The caller holds the write lock (hashBuf is shared scratch) or owns the
// tree exclusively.
func (t *Tree) hash(path string, n *node) uint64 {
	if strings.HasPrefix(path, zookeeperSubtree) {
		return 0
	}
	if path == "/" {
		path = ""
	}
	b := t.hashBuf[:]
	binary.BigEndian.PutUint64(b[0:], uint64(n.czxid))
	binary.BigEndian.PutUint64(b[8:], uint64(n.mzxid))
	binary.BigEndian.PutUint64(b[16:], uint64(n.pzxid()))
	binary.BigEndian.PutUint64(b[24:], uint64(n.ctime))
	binary.BigEndian.PutUint64(b[32:], uint64(n.mtime))
	binary.BigEndian.PutUint32(b[40:], uint32(n.version))
	binary.BigEndian.PutUint32(b[44:], uint32(n.cversion()))
	binary.BigEndian.PutUint32(b[48:], uint32(n.aversion()))
	binary.BigEndian.PutUint64(b[52:], uint64(n.owner()))
	// The path bytes are only read: viewing the string in place saves an
	// allocation per mutation.
	crc := crc32.Update(0, crc32.IEEETable, unsafe.Slice(unsafe.StringData(path), len(path)))
	crc = crc32.Update(crc, crc32.IEEETable, n.data())
	crc = crc32.Update(crc, crc32.IEEETable, b)
	return uint64(crc)
}

// Digest is the incremental tree digest: the wrapping 64-bit sum of the
// node hashes. It matches Apache ZooKeeper's for the same tree, so txn and
// snapshot digests can be compared across implementations.
func (t *Tree) Digest() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return int64(t.digest)
}

// SnapshotDigest returns the {zxid, digest} trailer of the snapshot the
// tree was read from; ok is false if it had none or the tree was not read
// from a snapshot. ZooKeeper writes {0, 2, 0} when it has processed no txn.
func (t *Tree) SnapshotDigest() (zxid, digest int64, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.snapDigestZxid, t.snapDigest, t.hasSnapDigest
}

// recomputeDigest walks the whole tree; used after loading a snapshot and
// by tests to check the incremental value.
func (t *Tree) recomputeDigest() uint64 {
	var sum uint64
	var walk func(path string, n *node)
	walk = func(path string, n *node) {
		sum += t.hash(path, n)
		prefix := path
		if path == "/" {
			prefix = ""
		}
		n.kids().each(func(k *node) { walk(prefix+"/"+k.name(), k) })
	}
	walk("/", t.root)
	return sum
}
