package datatree

import (
	"bufio"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"sort"
	"strconv"

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
	stack := []snapFrame{{n: t.root, names: t.root.kids.names()}}
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
		k := f.n.kids.get(name)
		if k == nil || k.czxid > start {
			continue
		}
		path = append(append(path[:f.plen], '/'), name...)
		writeNode(path, k)
		batch++
		if k.kids.Len() > 0 {
			stack = append(stack, snapFrame{n: k, names: k.kids.names(), plen: len(path)})
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

// snapReader decodes jute values from a stream while keeping the Adler32 of
// the bytes consumed (not of bytes buffered ahead), which is what the seals
// cover.
type snapReader struct {
	r   *bufio.Reader
	sum hash.Hash32
	off int64
	err error
	tmp [8]byte
}

func (s *snapReader) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("%w: %s (offset %d)", ErrCorrupt, fmt.Sprintf(format, args...), s.off)
	}
}

func (s *snapReader) read(b []byte, what string) bool {
	if s.err != nil {
		return false
	}
	if _, err := io.ReadFull(s.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			s.fail("truncated in %s", what)
		} else {
			s.err = fmt.Errorf("datatree: read snapshot: %w", err)
		}
		return false
	}
	s.sum.Write(b)
	s.off += int64(len(b))
	return true
}

func (s *snapReader) int(what string) int32 {
	if !s.read(s.tmp[:4], what) {
		return 0
	}
	return int32(uint32(s.tmp[0])<<24 | uint32(s.tmp[1])<<16 | uint32(s.tmp[2])<<8 | uint32(s.tmp[3]))
}

func (s *snapReader) long(what string) int64 {
	if !s.read(s.tmp[:8], what) {
		return 0
	}
	var v uint64
	for _, c := range s.tmp[:8] {
		v = v<<8 | uint64(c)
	}
	return int64(v)
}

// bytes reads a length-prefixed buffer; -1 is null. A lying length costs at
// most what the stream really holds: big buffers are read in chunks.
func (s *snapReader) bytes(what string) ([]byte, bool) {
	n := s.int(what + " length")
	if s.err != nil {
		return nil, false
	}
	if n == -1 {
		return nil, true
	}
	if n < 0 {
		s.fail("negative %s length %d", what, n)
		return nil, false
	}
	const chunk = 1 << 20
	if n <= chunk {
		b := make([]byte, n)
		return b, s.read(b, what)
	}
	var b []byte
	for rem := int(n); rem > 0; {
		c := min(rem, chunk)
		b = append(b, make([]byte, c)...)
		if !s.read(b[len(b)-c:], what) {
			return nil, false
		}
		rem -= c
	}
	return b, true
}

func (s *snapReader) str(what string) string {
	b, _ := s.bytes(what)
	return string(b)
}

func (s *snapReader) seal(section string) {
	want := s.sum.Sum32()
	got := s.long(section + " checksum")
	s.str(section + " seal marker")
	if s.err == nil && uint64(got) != uint64(want) {
		s.err = fmt.Errorf("%w: %w: %s checksum is %#x, content sums to %#x", ErrCorrupt, ErrChecksum, section, uint64(got), want)
	}
}

// ReadSnapshot reads a snapshot in ZooKeeper 3.8's format (ours or Apache
// ZooKeeper's, with or without the digest trailer), verifying both
// checksums. It returns the tree and the sessions with their timeouts.
//
// The snapshot's zxid is in its file name, not its content: the caller sets
// it with SetLastZxid and replays the txns after it. Until then LastZxid is
// the highest zxid found in the nodes, so that a snapshot written from the
// tree meanwhile still contains every node. Errors wrap ErrCorrupt and say
// what is wrong.
func ReadSnapshot(r io.Reader) (*Tree, map[int64]int32, error) {
	s := &snapReader{r: bufio.NewReaderSize(r, 256<<10), sum: adler32.New()}
	var hdr jute.FileHeader
	hdr.Magic = s.int("file header")
	hdr.Version = s.int("file header")
	hdr.DBID = s.long("file header")
	if s.err != nil {
		return nil, nil, s.err
	}
	if hdr.Magic != jute.SnapshotMagic {
		return nil, nil, fmt.Errorf("%w: bad magic %#x, want ZKSN", ErrCorrupt, uint32(hdr.Magic))
	}
	if hdr.Version != snapVersion {
		return nil, nil, fmt.Errorf("%w: unsupported version %d", ErrCorrupt, hdr.Version)
	}

	nsess := s.int("session count")
	if nsess < 0 {
		s.fail("negative session count %d", nsess)
	}
	sessions := make(map[int64]int32)
	for i := int32(0); i < nsess && s.err == nil; i++ {
		id := s.long("session id")
		sessions[id] = s.int("session timeout")
	}

	t := newEmpty()
	keyMap, err := readACLs(s, t.acls)
	if err != nil {
		return nil, nil, err
	}
	if err := readNodes(s, t, keyMap); err != nil {
		return nil, nil, err
	}
	s.seal("tree")
	if s.err != nil {
		return nil, nil, s.err
	}

	// The digest trailer is optional (snapshots of older servers stop
	// after the first seal).
	if _, err := s.r.Peek(1); err == nil {
		zxid := s.long("digest zxid")
		ver := s.int("digest version")
		var d int64
		if ver < 2 {
			hex := s.str("digest")
			if s.err == nil && hex != "" {
				v, perr := strconv.ParseUint(hex, 16, 64)
				if perr != nil {
					s.fail("bad digest %q", hex)
				}
				d = int64(v)
			}
		} else {
			d = s.long("digest")
		}
		s.seal("digest")
		if s.err != nil {
			return nil, nil, s.err
		}
		t.snapDigestZxid, t.snapDigest, t.hasSnapDigest = zxid, d, true
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("datatree: read snapshot: %w", err)
	}

	// Reference counts were rebuilt from the nodes; drop unused lists.
	for i := range t.acls.entries {
		if e := &t.acls.entries[i]; e.refs == 0 {
			e.refs = 1
			t.acls.release(int32(i))
		}
	}
	t.digest = t.recomputeDigest()
	t.lastZxid = maxZxid(t.root)
	return t, sessions, nil
}

// maxZxid is the highest czxid, mzxid or pzxid in the tree.
func maxZxid(root *node) int64 {
	var m int64
	stack := []*node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		m = max(m, n.czxid, n.mzxid, n.pzxid)
		n.kids.each(func(k *node) { stack = append(stack, k) })
	}
	return m
}

// readACLs reads the ACL cache section and returns the file-key → slot map.
// Slots are numbered in key order, so our own snapshots round-trip their
// numbering when it has no holes.
func readACLs(s *snapReader, c *aclCache) (map[int64]int32, error) {
	n := s.int("ACL count")
	if n < 0 {
		s.fail("negative ACL count %d", n)
	}
	type keyed struct {
		key int64
		acl []jute.ACL
	}
	var lists []keyed
	for i := int32(0); i < n && s.err == nil; i++ {
		key := s.long("ACL key")
		cnt := s.int("ACL list length")
		if s.err == nil && cnt < 0 {
			s.fail("ACL key %d has a null or negative list (%d)", key, cnt)
		}
		var acl []jute.ACL
		for j := int32(0); j < cnt && s.err == nil; j++ {
			var a jute.ACL
			a.Perms = s.int("ACL perms")
			a.ID.Scheme = s.str("ACL scheme")
			a.ID.ID = s.str("ACL id")
			acl = append(acl, a)
		}
		if acl == nil {
			acl = []jute.ACL{}
		}
		lists = append(lists, keyed{key, acl})
	}
	if s.err != nil {
		return nil, s.err
	}
	sort.Slice(lists, func(i, j int) bool { return lists[i].key < lists[j].key })
	keyMap := make(map[int64]int32, len(lists))
	for _, l := range lists {
		if _, dup := keyMap[l.key]; dup {
			return nil, fmt.Errorf("%w: ACL key %d appears twice", ErrCorrupt, l.key)
		}
		enc := string(c.encode(l.acl))
		idx, ok := c.byEnc[enc]
		if !ok {
			idx = int32(len(c.entries))
			c.entries = append(c.entries, aclEntry{acl: l.acl, enc: enc})
			c.byEnc[enc] = idx
		}
		keyMap[l.key] = idx
	}
	return keyMap, nil
}

// readNodes reads the pre-order node list up to the "/" terminator.
func readNodes(s *snapReader, t *Tree, keyMap map[int64]int32) error {
	for {
		path := s.str("node path")
		if s.err != nil {
			return s.err
		}
		if path == "/" {
			break
		}
		data, _ := s.bytes("node data")
		key := s.long("node ACL key")
		var sp jute.StatPersisted
		sp.Czxid = s.long("stat")
		sp.Mzxid = s.long("stat")
		sp.Ctime = s.long("stat")
		sp.Mtime = s.long("stat")
		sp.Version = s.int("stat")
		sp.Cversion = s.int("stat")
		sp.Aversion = s.int("stat")
		sp.EphemeralOwner = s.long("stat")
		sp.Pzxid = s.long("stat")
		if s.err != nil {
			return s.err
		}
		acl := nullACL
		if key != -1 {
			idx, ok := keyMap[key]
			if !ok {
				return fmt.Errorf("%w: node %q refers to ACL key %d, which the ACL section lacks", ErrCorrupt, path, key)
			}
			acl = idx
		}
		n := &node{
			acl:   acl,
			czxid: sp.Czxid, mzxid: sp.Mzxid, pzxid: sp.Pzxid,
			ctime: sp.Ctime, mtime: sp.Mtime,
			version: sp.Version, cversion: sp.Cversion, aversion: sp.Aversion,
			owner: sp.EphemeralOwner,
		}
		t.acls.addRef(acl)
		if path == "" {
			if t.root != nil {
				return fmt.Errorf("%w: root appears twice", ErrCorrupt)
			}
			n.setBuf("", data)
			t.root = n
			t.nodes++
			continue
		}
		if t.root == nil {
			return fmt.Errorf("%w: node %q precedes the root", ErrCorrupt, path)
		}
		parentPath, name, ok := splitPath(path)
		if !ok {
			return fmt.Errorf("%w: invalid node path %q", ErrCorrupt, path)
		}
		parent := t.lookup(parentPath)
		if parent == nil {
			return fmt.Errorf("%w: node %q precedes its parent", ErrCorrupt, path)
		}
		if parent.kids.get(name) != nil {
			return fmt.Errorf("%w: node %q appears twice", ErrCorrupt, path)
		}
		n.setBuf(name, data)
		if parent.kids == nil {
			parent.kids = &kidTable{}
		}
		parent.kids.insert(n)
		t.nodes++
		t.dataSize += int64(len(path) + len(data))
		switch o := n.owner; {
		case IsContainer(o):
			t.containers[path] = struct{}{}
		case IsTTL(o):
			t.ttls[path] = struct{}{}
		case o != 0:
			set := t.ephemerals[o]
			if set == nil {
				set = make(map[string]struct{})
				t.ephemerals[o] = set
			}
			set[path] = struct{}{}
		}
	}
	if t.root == nil {
		return fmt.Errorf("%w: no root node", ErrCorrupt)
	}
	return nil
}
