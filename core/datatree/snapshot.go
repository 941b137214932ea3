package datatree

import (
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"sort"
	"sync/atomic"
	"unsafe"

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

// snapWriter buffers jute output. A goroutine of its own takes each
// full buffer, adds it to the running Adler32 (which the seals of the
// snapshot file record; the SNAP payload has none, so it skips the sum)
// and writes it, while the walk encodes the next one into a second buffer.
type snapWriter struct {
	buf    *jute.Writer
	out    chan []byte // full buffers; nil asks for the sums so far
	free   chan []byte
	reply  chan snapSum
	done   chan struct{}
	failed atomic.Bool
	closed bool
	err    error // the result of close
}

type snapSum struct {
	sum uint32
	err error
}

// newSnapWriter starts a writer to w; sealed says whether to keep the
// Adler32 that seal needs.
func newSnapWriter(w io.Writer, sealed bool) *snapWriter {
	s := &snapWriter{
		buf:   jute.NewWriter(make([]byte, 0, snapFlushBytes+64<<10)),
		out:   make(chan []byte, 1),
		free:  make(chan []byte, 1),
		reply: make(chan snapSum),
		done:  make(chan struct{}),
	}
	s.free <- make([]byte, 0, snapFlushBytes+64<<10)
	var sum hash.Hash32
	if sealed {
		sum = adler32.New()
	}
	go s.loop(w, sum)
	return s
}

func (s *snapWriter) loop(w io.Writer, sum hash.Hash32) {
	defer close(s.done)
	var err error
	for b := range s.out {
		if b == nil {
			r := snapSum{err: err}
			if sum != nil {
				r.sum = sum.Sum32()
			}
			s.reply <- r
			continue
		}
		if err == nil {
			if sum != nil {
				sum.Write(b)
			}
			if _, err = w.Write(b); err != nil {
				s.failed.Store(true)
			}
		}
		s.free <- b[:0]
	}
}

// flush hands the buffer to the writer goroutine and continues in the
// other one.
func (s *snapWriter) flush() {
	if s.buf.Len() == 0 {
		return
	}
	s.out <- s.buf.Bytes()
	s.buf.SetBytes(<-s.free)
}

// sync waits until everything flushed is written and returns its Adler32
// and the first write error.
func (s *snapWriter) sync() snapSum {
	s.flush()
	s.out <- nil
	return <-s.reply
}

// close writes what is buffered, stops the writer goroutine (it no longer
// uses the io.Writer once close returns) and reports the first write
// error. Later calls only repeat that result.
func (s *snapWriter) close() error {
	if !s.closed {
		s.closed = true
		s.err = s.sync().err
		close(s.out)
		<-s.done
	}
	return s.err
}

// seal writes the checksum of everything so far and the "/" marker, as
// ZooKeeper's SnapStream.sealStream does.
func (s *snapWriter) seal() {
	s.buf.WriteLong(int64(s.sync().sum))
	s.buf.WriteString("/")
}

// snapFrame is a node whose children the walk is writing. kids is taken
// under the read lock; a child deleted since is marked (see aclDeleted)
// and skipped, and one created since has a czxid after the walk's start.
type snapFrame struct {
	kids []*node
	next int
	plen int
}

// childList returns n's children roughly in address order. Which order
// a snapshot lists siblings in does not matter, and nodes created together
// lie together in memory: visiting them by address turns the walk's cache
// misses (table order is random) into mostly sequential, prefetched reads,
// several times faster for a big parent. A counting sort on 64 KiB (or
// coarser) address regions is enough for that, and takes one pass.
func childList(n *node) []*node {
	kids := make([]*node, 0, n.kids().Len())
	n.kids().each(func(c *node) { kids = append(kids, c) })
	if len(kids) <= 256 {
		return kids
	}
	lo, hi := ^uintptr(0), uintptr(0)
	for _, k := range kids {
		a := uintptr(unsafe.Pointer(k))
		lo, hi = min(lo, a), max(hi, a)
	}
	shift := uint(16)
	for (hi-lo)>>shift >= uintptr(len(kids)) {
		shift++
	}
	counts := make([]int32, (hi-lo)>>shift+2)
	for _, k := range kids {
		counts[(uintptr(unsafe.Pointer(k))-lo)>>shift+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	out := make([]*node, len(kids))
	for _, k := range kids {
		b := (uintptr(unsafe.Pointer(k)) - lo) >> shift
		out[counts[b]] = k
		counts[b]++
	}
	return out
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
	sw := newSnapWriter(w, true)
	defer sw.close()
	hdr := jute.FileHeader{Magic: jute.SnapshotMagic, Version: snapVersion, DBID: snapDBID}
	hdr.Encode(sw.buf)
	writeSessions(sw.buf, sessions)
	start, zxid, digest, err := t.writeTree(sw)
	if err != nil {
		return start, err
	}
	if zxid == 0 {
		// ZooKeeper writes an empty digest until it has processed a txn.
		digest = 0
	}
	sw.seal()
	sw.buf.WriteLong(zxid)
	sw.buf.WriteInt(jute.DigestVersion)
	sw.buf.WriteLong(int64(digest))
	sw.seal()
	if err := sw.close(); err != nil {
		return start, fmt.Errorf("datatree: write snapshot: %w", err)
	}
	return start, nil
}

// writeSessions writes the session table (SerializeUtils.serializeSnapshot),
// sorted by id so that equal states give equal bytes.
func writeSessions(b *jute.Writer, sessions map[int64]int32) {
	ids := make([]int64, 0, len(sessions))
	for id := range sessions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b.WriteInt(int32(len(ids)))
	for _, id := range ids {
		b.WriteLong(id)
		b.WriteInt(sessions[id])
	}
}

// writeTree writes what ZooKeeper's DataTree.serialize writes, shared by
// the snapshot file and the SNAP payload: the ACL cache, the nodes in
// pre-order and the "/" terminator. It returns the last applied zxid when
// the walk started, and the last zxid and the digest when it ended.
func (t *Tree) writeTree(sw *snapWriter) (start, zxid int64, digest uint64, err error) {
	// Capture the start zxid and the ACL cache together.
	t.mu.Lock()
	start = t.lastZxid
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
	stack := []snapFrame{{kids: childList(t.root)}}
	t.mu.Unlock()
	t.mu.RLock()
	batch := 0
	for len(stack) > 0 {
		if batch >= snapBatchNodes || sw.buf.Len() >= snapFlushBytes {
			t.mu.RUnlock()
			sw.flush()
			if sw.failed.Load() {
				return start, 0, 0, fmt.Errorf("datatree: write snapshot: %w", sw.close())
			}
			batch = 0
			t.mu.RLock()
		}
		f := &stack[len(stack)-1]
		if f.next >= len(f.kids) {
			stack = stack[:len(stack)-1]
			continue
		}
		k := f.kids[f.next]
		f.kids[f.next] = nil
		f.next++
		if k.acl == aclDeleted || k.czxid > start {
			continue
		}
		path = append(append(path[:f.plen], '/'), k.name()...)
		writeNode(path, k)
		batch++
		if k.kids().Len() > 0 {
			stack = append(stack, snapFrame{kids: childList(k), plen: len(path)})
		}
	}
	zxid, digest = t.lastZxid, t.digest
	t.mu.RUnlock()
	sw.buf.WriteString("/")
	return start, zxid, digest, nil
}
