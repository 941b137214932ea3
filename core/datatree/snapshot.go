package datatree

import (
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"sort"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// Snapshot errors. Every ReadSnapshot failure wraps ErrCorrupt; checksum
// mismatches also wrap ErrChecksum.
var (
	ErrCorrupt  = errors.New("datatree: corrupt snapshot")
	ErrChecksum = errors.New("checksum mismatch")
)

const (
	snapVersion = 2
	snapDBID    = -1
	// snapBatchNodes and snapFlushBytes bound how long a snapshot walk holds
	// the read lock and how much it buffers before writing.
	snapBatchNodes = 1024
	snapFlushBytes = 256 << 10
)

// snapWriter buffers jute output and keeps the running Adler32 of
// everything written, which the seals record.
type snapWriter struct {
	w   io.Writer
	buf *jute.Writer
	sum hash.Hash32
	err error
}

func (s *snapWriter) flush() {
	if s.err != nil {
		return
	}
	b := s.buf.Bytes()
	s.sum.Write(b)
	_, s.err = s.w.Write(b)
	s.buf.Reset()
}

// seal writes the checksum of everything so far and the "/" marker, as
// ZooKeeper's SnapStream.sealStream does.
func (s *snapWriter) seal() {
	s.flush()
	s.buf.WriteLong(int64(s.sum.Sum32()))
	s.buf.WriteString("/")
}

type snapFrame struct {
	n     *node
	names []string
	next  int
	plen  int
}

// WriteSnapshot writes the tree in ZooKeeper 3.8's snapshot format (spec
// 7.4) and returns the zxid it is named after: the last applied zxid when
// the walk started.
//
// The snapshot is fuzzy, like ZooKeeper's: the read lock is taken for
// batches of nodes and released between them, so writes continue. The
// result is consistent once the txns after the returned zxid are replayed.
// Two refinements over ZooKeeper keep replay exact: nodes created after the
// walk started are left out (replay creates them, with their ACL), and the
// ACL cache does not reuse slots during the walk. A node whose ACL was
// changed after the walk started is written with the null ACL key, and the
// replayed setACL restores it.
func (t *Tree) WriteSnapshot(w io.Writer, sessions map[int64]int32) (int64, error) {
	sw := &snapWriter{w: w, buf: jute.NewWriter(make([]byte, 0, snapFlushBytes+64<<10)), sum: adler32.New()}
	hdr := jute.FileHeader{Magic: jute.SnapshotMagic, Version: snapVersion, DBID: snapDBID}
	hdr.Encode(sw.buf)

	ids := make([]int64, 0, len(sessions))
	for id := range sessions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	sw.buf.WriteInt(int32(len(ids)))
	for _, id := range ids {
		sw.buf.WriteLong(id)
		sw.buf.WriteInt(sessions[id])
	}

	// Capture the start zxid and the ACL cache together.
	t.mu.Lock()
	start := t.lastZxid
	t.acls.hold()
	captured := make([]bool, len(t.acls.entries))
	live := 0
	for i := range t.acls.entries {
		if t.acls.entries[i].refs > 0 {
			live++
		}
	}
	sw.buf.WriteInt(int32(live))
	for i, e := range t.acls.entries {
		if e.refs <= 0 {
			continue
		}
		captured[i] = true
		sw.buf.WriteLong(int64(i) + 1)
		jute.WriteACLs(sw.buf, e.acl)
	}
	defer func() {
		t.mu.Lock()
		t.acls.unhold()
		t.mu.Unlock()
	}()

	writeNode := func(path []byte, n *node) {
		b := sw.buf
		b.WriteInt(int32(len(path)))
		b.WriteRaw(path)
		b.WriteBuffer(n.data())
		key := int64(-1)
		if n.acl >= 0 && int(n.acl) < len(captured) && captured[n.acl] {
			key = int64(n.acl) + 1
		}
		b.WriteLong(key)
		sp := n.statPersisted()
		sp.Encode(b)
	}

	// Root goes out under the same lock as the start zxid.
	var path []byte
	writeNode(path, t.root)
	stack := []snapFrame{{n: t.root, names: t.root.kids().names()}}
	t.mu.Unlock()
	t.mu.RLock()
	batch := 0
	for len(stack) > 0 {
		if batch >= snapBatchNodes || sw.buf.Len() >= snapFlushBytes {
			t.mu.RUnlock()
			sw.flush()
			if sw.err != nil {
				return start, fmt.Errorf("datatree: write snapshot: %w", sw.err)
			}
			batch = 0
			t.mu.RLock()
		}
		f := &stack[len(stack)-1]
		if f.next >= len(f.names) {
			stack = stack[:len(stack)-1]
			continue
		}
		name := f.names[f.next]
		f.next++
		k := f.n.kids().get(name)
		if k == nil || k.czxid > start {
			continue
		}
		path = append(append(path[:f.plen], '/'), name...)
		writeNode(path, k)
		batch++
		if k.kids().Len() > 0 {
			stack = append(stack, snapFrame{n: k, names: k.kids().names(), plen: len(path)})
		}
	}
	zxid, digest := t.lastZxid, int64(t.digest)
	t.mu.RUnlock()
	if zxid == 0 {
		// ZooKeeper writes an empty digest until it has processed a txn.
		digest = 0
	}

	sw.buf.WriteString("/")
	sw.seal()
	sw.buf.WriteLong(zxid)
	sw.buf.WriteInt(jute.DigestVersion)
	sw.buf.WriteLong(digest)
	sw.seal()
	sw.flush()
	if sw.err != nil {
		return start, fmt.Errorf("datatree: write snapshot: %w", sw.err)
	}
	return start, nil
}
