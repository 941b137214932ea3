package datatree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"io"
	"sort"
	"strconv"
	"sync"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// Loading a snapshot is on the restart path, so it runs as a three-stage
// pipeline over a small ring of reused chunk buffers:
//
//   - a reader goroutine fills chunks from the stream (a SNAP payload, which
//     arrives over the network with no end of stream after it, is instead
//     read on demand by the parser: see onDemand);
//   - the parser (the caller's goroutine) decodes records in place, builds
//     the nodes and links them into the tree;
//   - a hasher goroutine takes each chunk the parser is done with and
//     computes the Adler32 the seals check and the CRC32 tree digest of the
//     node records in it, then hands the chunk back to the reader.
//
// Every chunk has headroom in front of its fresh bytes: when a record
// straddles two chunks, its head is copied into the next chunk's headroom
// so that each record is decoded from one contiguous slice. Records bigger
// than the headroom (huge data) take a slow path that copies them out.
//
// Nothing the parser builds aliases a chunk, so the load allocates only
// the nodes themselves (and child tables once, at their final size), and
// produces next to no garbage: the heap after a restart is about the live
// tree.
const (
	loadChunk    = 1 << 20
	loadHeadroom = 1 << 20
	loadRing     = 4
	// loadBigField is the largest path or data decoded in place; larger
	// ones take the slow path. It keeps a whole record within the headroom.
	loadBigField = loadHeadroom/2 - 128
)

type loadChunkBuf struct {
	buf  []byte  // loadHeadroom + loadChunk; fresh bytes from loadHeadroom
	n    int     // fresh bytes read
	err  error   // non-nil: the stream ended (io.EOF) or failed after them
	recs []int32 // offsets in buf of node records the hasher must digest
}

func (c *loadChunkBuf) alloc() {
	if c.buf == nil {
		c.buf = make([]byte, loadHeadroom+loadChunk)
	}
}

// hashJob asks the hasher to sum seg (the next consumed bytes of the
// stream) and digest recs (node records at these offsets of c.buf), then to
// return c to the reader if release is set, or to reply with the running
// sums if reply is set.
type hashJob struct {
	c       *loadChunkBuf
	lo, hi  int
	release bool
	reply   chan hashSums
}

type hashSums struct {
	adler  uint32
	digest uint64
}

type loader struct {
	// onDemand: no reader goroutine and no read-ahead. The parser calls
	// Read itself, only when it needs bytes the stream must still hold,
	// and fills each chunk with whatever one Read returns. So the loader
	// never waits for bytes past the end of what it parses, and no Read is
	// in flight once it returns.
	onDemand bool
	r        io.Reader
	// inPlace is the largest path or data decoded in place (at most
	// loadBigField); maxField, if non-zero, the largest length accepted.
	inPlace  int
	maxField int

	cur        *loadChunkBuf
	pos, end   int   // next byte to decode and end of valid bytes in cur.buf
	start      int   // first byte of cur.buf not yet handed to the hasher
	base       int64 // stream offset of cur.buf[0]
	err        error
	localSum   uint64 // digest of records the slow path handled
	jobs       chan hashJob
	full, free chan *loadChunkBuf
	quit       chan struct{}
	wg         sync.WaitGroup
}

// newLoader starts loading from r, reading ahead in a goroutine unless
// onDemand. maxField, if positive, bounds every length field.
func newLoader(r io.Reader, onDemand bool, maxField int) *loader {
	l := &loader{
		onDemand: onDemand,
		r:        r,
		inPlace:  loadBigField,
		maxField: maxField,
		jobs:     make(chan hashJob, loadRing+2),
		full:     make(chan *loadChunkBuf, loadRing),
		free:     make(chan *loadChunkBuf, loadRing),
		quit:     make(chan struct{}),
	}
	if maxField > 0 {
		l.inPlace = min(l.inPlace, maxField)
	}
	for range loadRing {
		l.free <- &loadChunkBuf{} // allocated on first use: most payloads are small
	}
	l.wg.Add(1)
	go l.hashLoop()
	if !onDemand {
		l.wg.Add(1)
		go l.readLoop(r)
	}
	// Start on an empty pseudo-chunk that says "more to come".
	l.cur = &loadChunkBuf{}
	l.pos, l.end, l.start = 0, 0, 0
	return l
}

// close stops the goroutines and waits for them, so the reader is not
// used after ReadSnapshot returns.
func (l *loader) close() {
	close(l.quit)
	close(l.jobs)
	l.wg.Wait()
}

func (l *loader) readLoop(r io.Reader) {
	defer l.wg.Done()
	for {
		var c *loadChunkBuf
		select {
		case c = <-l.free:
			c.alloc()
		case <-l.quit:
			return
		}
		n, err := io.ReadFull(r, c.buf[loadHeadroom:])
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		c.n, c.err = n, err
		c.recs = c.recs[:0]
		select {
		case l.full <- c:
		case <-l.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

func (l *loader) hashLoop() {
	defer l.wg.Done()
	sum := adler32.New()
	var digest uint64
	var scratch []byte
	for j := range l.jobs {
		sum.Write(j.c.buf[j.lo:j.hi])
		for _, off := range j.c.recs {
			var h uint64
			h, scratch = recordHash(j.c.buf[off:], scratch)
			digest += h
		}
		j.c.recs = j.c.recs[:0]
		if j.reply != nil {
			j.reply <- hashSums{adler: sum.Sum32(), digest: digest}
		}
		if j.release {
			l.free <- j.c // never blocks: free holds the whole ring
		}
	}
}

// recordHash is the digest hash (see Tree.hash) of the well-formed node
// record at the start of rec, computed from its encoded form: path ‖ data
// ‖ the stat fields in digest order, in one CRC32 pass.
func recordHash(rec []byte, scratch []byte) (uint64, []byte) {
	plen := int(binary.BigEndian.Uint32(rec))
	path := rec[4 : 4+plen]
	if len(path) >= len(zookeeperSubtree) && string(path[:len(zookeeperSubtree)]) == zookeeperSubtree {
		return 0, scratch
	}
	p := 4 + plen
	dlen := int(int32(binary.BigEndian.Uint32(rec[p:])))
	p += 4
	data := rec[p:p]
	if dlen > 0 {
		data = rec[p : p+dlen]
		p += dlen
	}
	st := rec[p+8:] // after the ACL key: czxid mzxid ctime mtime version cversion aversion owner pzxid
	b := append(scratch[:0], path...)
	b = append(b, data...)
	b = append(b, st[0:16]...)  // czxid, mzxid
	b = append(b, st[52:60]...) // pzxid
	b = append(b, st[16:32]...) // ctime, mtime
	b = append(b, st[32:52]...) // version, cversion, aversion, owner
	return uint64(crc32.ChecksumIEEE(b)), b
}

func (l *loader) fail(format string, args ...any) {
	if l.err == nil {
		l.err = fmt.Errorf("%w: %s (offset %d)", ErrCorrupt, fmt.Sprintf(format, args...), l.base+int64(l.pos))
	}
}

// next moves to the next chunk, carrying cur.buf[mark:end] into its
// headroom, and returns where mark now is. It reports false at the end of
// the stream (or on a read error, recorded in l.err).
func (l *loader) next(mark int, what string) (int, bool) {
	if l.cur.err != nil {
		if errors.Is(l.cur.err, io.EOF) {
			l.fail("truncated in %s", what)
		} else if l.err == nil {
			l.err = fmt.Errorf("datatree: read snapshot: %w", l.cur.err)
		}
		return mark, false
	}
	carry := l.end - mark
	if carry > loadHeadroom {
		panic("datatree: snapshot record exceeds headroom") // callers bound it
	}
	c := l.fetch()
	copy(c.buf[loadHeadroom-carry:loadHeadroom], l.cur.buf[mark:l.end])
	l.jobs <- hashJob{c: l.cur, lo: l.start, hi: mark, release: l.cur.buf != nil}
	oldEnd := l.base + int64(l.end)
	delta := loadHeadroom - carry - mark
	l.cur = c
	l.base = oldEnd - loadHeadroom
	l.pos += delta
	l.start = loadHeadroom - carry
	l.end = loadHeadroom + c.n
	return loadHeadroom - carry, true
}

// fetch returns the next chunk of the stream: the one the reader
// goroutine filled, or, on demand, a free one filled by one Read.
func (l *loader) fetch() *loadChunkBuf {
	if !l.onDemand {
		return <-l.full
	}
	c := <-l.free // the hasher returns chunks it is done with
	c.alloc()
	c.recs = c.recs[:0]
	c.n, c.err = readSome(l.r, c.buf[loadHeadroom:])
	return c
}

// readSome is one Read that returns something: bytes, or an error.
func readSome(r io.Reader, p []byte) (int, error) {
	for range 100 {
		if n, err := r.Read(p); n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

// fill makes at least one more byte available after l.end, keeping
// cur.buf[mark:] with the k bytes from mark the caller wants contiguous.
// On demand it reads into the current chunk while they fit; otherwise it
// moves to the next chunk (see next). It returns the new mark.
func (l *loader) fill(mark, k int, what string) (int, bool) {
	if l.onDemand && l.cur.buf != nil && l.cur.err == nil && mark+k <= len(l.cur.buf) {
		n, err := readSome(l.r, l.cur.buf[l.end:])
		l.end += n
		l.cur.n += n
		l.cur.err = err
		return mark, true
	}
	return l.next(mark, what)
}

// need makes cur.buf[mark:mark+k] valid, reading or moving to further
// chunks as needed (k must not exceed loadHeadroom). It returns the new
// mark.
func (l *loader) need(mark, k int, what string) (int, bool) {
	for mark+k > l.end {
		var ok bool
		if mark, ok = l.fill(mark, k, what); !ok {
			return mark, false
		}
	}
	return mark, true
}

func (l *loader) int(what string) int32 {
	if l.err != nil {
		return 0
	}
	var ok bool
	if l.pos, ok = l.need(l.pos, 4, what); !ok {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(l.cur.buf[l.pos:]))
	l.pos += 4
	return v
}

func (l *loader) long(what string) int64 {
	if l.err != nil {
		return 0
	}
	var ok bool
	if l.pos, ok = l.need(l.pos, 8, what); !ok {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(l.cur.buf[l.pos:]))
	l.pos += 8
	return v
}

// bytes reads a length-prefixed buffer into a new slice; -1 is null. A
// lying length costs at most what the stream really holds.
func (l *loader) bytes(what string) ([]byte, bool) {
	n := l.int(what + " length")
	if l.err != nil {
		return nil, false
	}
	if n == -1 {
		return nil, true
	}
	if n < 0 {
		l.fail("negative %s length %d", what, n)
		return nil, false
	}
	if l.maxField > 0 && int(n) > l.maxField {
		l.fail("%s length %d exceeds the limit %d", what, n, l.maxField)
		return nil, false
	}
	if int(n) <= l.inPlace {
		var ok bool
		if l.pos, ok = l.need(l.pos, int(n), what); !ok {
			return nil, false
		}
		b := make([]byte, n)
		copy(b, l.cur.buf[l.pos:])
		l.pos += int(n)
		return b, true
	}
	var b []byte
	for rem := int(n); rem > 0; {
		if l.pos == l.end {
			var ok bool
			if l.pos, ok = l.fill(l.pos, 1, what); !ok {
				return nil, false
			}
			continue
		}
		c := min(rem, l.end-l.pos)
		b = append(b, l.cur.buf[l.pos:l.pos+c]...)
		l.pos += c
		rem -= c
	}
	return b, true
}

func (l *loader) str(what string) string {
	b, _ := l.bytes(what)
	return string(b)
}

// more reports whether the stream has another byte.
func (l *loader) more() bool {
	for l.err == nil && l.pos == l.end {
		if l.cur.err != nil {
			if !errors.Is(l.cur.err, io.EOF) {
				l.err = fmt.Errorf("datatree: read snapshot: %w", l.cur.err)
			}
			return false
		}
		l.pos, _ = l.fill(l.pos, 1, "")
	}
	return l.err == nil
}

// sums hands everything consumed so far to the hasher and returns the
// Adler32 of it and the digest of every node record seen.
func (l *loader) sums() hashSums {
	reply := make(chan hashSums, 1)
	l.jobs <- hashJob{c: l.cur, lo: l.start, hi: l.pos, reply: reply}
	s := <-reply
	l.start = l.pos
	s.digest += l.localSum
	return s
}

func (l *loader) seal(section string) hashSums {
	s := l.sums()
	got := l.long(section + " checksum")
	l.str(section + " seal marker")
	if l.err == nil && uint64(got) != uint64(s.adler) {
		l.err = fmt.Errorf("%w: %w: %s checksum is %#x, content sums to %#x", ErrCorrupt, ErrChecksum, section, uint64(got), s.adler)
	}
	return s
}

// ReadSnapshot reads a snapshot in ZooKeeper 3.8's format (ours or Apache
// ZooKeeper's, with or without the digest trailer), verifying both
// checksums. It returns the tree and the sessions with their timeouts.
//
// The snapshot's zxid is in its file name, not its content: the caller sets
// it with SetLastZxid and replays the txns after it. Until then LastZxid is
// the highest zxid found in the nodes, so that a snapshot written from the
// tree meanwhile still contains every node. Errors wrap ErrCorrupt and say
// what is wrong. r may be read beyond the end of the snapshot.
func ReadSnapshot(r io.Reader) (*Tree, map[int64]int32, error) {
	l := newLoader(r, false, 0)
	defer l.close()
	var hdr jute.FileHeader
	hdr.Magic = l.int("file header")
	hdr.Version = l.int("file header")
	hdr.DBID = l.long("file header")
	if l.err != nil {
		return nil, nil, l.err
	}
	if hdr.Magic != jute.SnapshotMagic {
		return nil, nil, fmt.Errorf("%w: bad magic %#x, want ZKSN", ErrCorrupt, uint32(hdr.Magic))
	}
	if hdr.Version != snapVersion {
		return nil, nil, fmt.Errorf("%w: unsupported version %d", ErrCorrupt, hdr.Version)
	}

	sessions, b, err := readBody(l)
	if err != nil {
		return nil, nil, err
	}
	t := b.t
	sums := l.seal("tree")
	if l.err != nil {
		return nil, nil, l.err
	}

	// The digest trailer is optional (snapshots of older servers stop
	// after the first seal).
	if l.more() {
		zxid := l.long("digest zxid")
		ver := l.int("digest version")
		var d int64
		if ver < 2 {
			hex := l.str("digest")
			if l.err == nil && hex != "" {
				v, perr := strconv.ParseUint(hex, 16, 64)
				if perr != nil {
					l.fail("bad digest %q", hex)
				}
				d = int64(v)
			}
		} else {
			d = l.long("digest")
		}
		l.seal("digest")
		if l.err != nil {
			return nil, nil, l.err
		}
		t.snapDigestZxid, t.snapDigest, t.hasSnapDigest = zxid, d, true
	} else if l.err != nil {
		return nil, nil, l.err
	}
	b.finish(sums.digest)
	return t, sessions, nil
}

// readBody reads what the snapshot file and the SNAP payload share
// (SerializeUtils.deserializeSnapshot): the sessions, then the tree -- the
// ACL cache and the nodes up to the "/" terminator. The builder holds the
// tree; finish completes it.
func readBody(l *loader) (map[int64]int32, *builder, error) {
	nsess := l.int("session count")
	if nsess < 0 {
		l.fail("negative session count %d", nsess)
	}
	sessions := make(map[int64]int32)
	for i := int32(0); i < nsess && l.err == nil; i++ {
		id := l.long("session id")
		sessions[id] = l.int("session timeout")
	}

	t := newEmpty()
	keyMap, err := readACLs(l, t.acls)
	if err != nil {
		return nil, nil, err
	}
	b := &builder{t: t, keyMap: keyMap}
	if err := b.readNodes(l); err != nil {
		return nil, nil, err
	}
	return sessions, b, nil
}

// finish completes a loaded tree: its digest (summed by the hasher as the
// records went by), the ACL lists no node uses dropped, and LastZxid the
// highest zxid in the nodes until the caller sets the real one.
func (b *builder) finish(digest uint64) {
	t := b.t
	// Reference counts were rebuilt from the nodes; drop unused lists.
	for i := range t.acls.entries {
		if e := &t.acls.entries[i]; e.refs == 0 {
			e.refs = 1
			t.acls.release(int32(i))
		}
	}
	t.digest = digest
	t.lastZxid = b.maxZxid
}

// readACLs reads the ACL cache section and returns the file-key → slot map.
// Slots are numbered in key order, so our own snapshots round-trip their
// numbering when it has no holes.
func readACLs(l *loader, c *aclCache) (map[int64]int32, error) {
	n := l.int("ACL count")
	if n < 0 {
		l.fail("negative ACL count %d", n)
	}
	type keyed struct {
		key int64
		acl []jute.ACL
	}
	var lists []keyed
	for i := int32(0); i < n && l.err == nil; i++ {
		key := l.long("ACL key")
		cnt := l.int("ACL list length")
		if l.err == nil && cnt < 0 {
			l.fail("ACL key %d has a null or negative list (%d)", key, cnt)
		}
		var acl []jute.ACL
		for j := int32(0); j < cnt && l.err == nil; j++ {
			var a jute.ACL
			a.Perms = l.int("ACL perms")
			a.ID.Scheme = l.str("ACL scheme")
			a.ID.ID = l.str("ACL id")
			acl = append(acl, a)
		}
		if acl == nil {
			acl = []jute.ACL{}
		}
		lists = append(lists, keyed{key, acl})
	}
	if l.err != nil {
		return nil, l.err
	}
	sort.Slice(lists, func(i, j int) bool { return lists[i].key < lists[j].key })
	keyMap := make(map[int64]int32, len(lists))
	for _, kl := range lists {
		if _, dup := keyMap[kl.key]; dup {
			return nil, fmt.Errorf("%w: ACL key %d appears twice", ErrCorrupt, kl.key)
		}
		enc := string(c.encode(kl.acl))
		idx, ok := c.byEnc[enc]
		if !ok {
			idx = int32(len(c.entries))
			c.entries = append(c.entries, aclEntry{acl: kl.acl, enc: enc})
			c.byEnc[enc] = idx
		}
		keyMap[kl.key] = idx
	}
	return keyMap, nil
}

// builder links nodes into the tree as they arrive. Snapshots list nodes
// in pre-order, so a node's parent is on the stack of its ancestors: no
// path walk is needed. A node's children are collected with their name
// hashes and put into its child table, sized once, when the node's subtree
// ends. A node out of pre-order (not seen in practice) still loads: all
// pending children are then flushed into their tables and the parent is
// looked up by path.
type builder struct {
	t       *Tree
	keyMap  map[int64]int32
	lastKey int64
	lastIdx int32
	hasLast bool
	frames  []loadFrame
	pending []pendingKid
	pathBuf []byte // the path of the top frame
	maxZxid int64
}

type loadFrame struct {
	n    *node
	plen int // length of n's path, a prefix of pathBuf
	pend int // n's pending children are pending[pend:] (below deeper frames')
}

type pendingKid struct {
	n *node
	h uint64
}

// readNodes reads the pre-order node list up to the "/" terminator.
func (b *builder) readNodes(l *loader) error {
	var sp jute.StatPersisted
	for {
		if l.err != nil {
			return l.err
		}
		// Fast path: decode the record in place once it is contiguous.
		var ok bool
		if l.pos, ok = l.need(l.pos, 4, "node path length"); !ok {
			return l.err
		}
		buf := l.cur.buf
		plen := int(int32(binary.BigEndian.Uint32(buf[l.pos:])))
		if plen < 0 || plen > l.inPlace {
			if err := b.slowNode(l, &sp); err != nil {
				return err
			}
			continue
		}
		if l.pos, ok = l.need(l.pos, 4+plen, "node path"); !ok {
			return l.err
		}
		buf = l.cur.buf
		if plen == 1 && buf[l.pos+4] == '/' {
			l.pos += 5
			break
		}
		if l.pos, ok = l.need(l.pos, 8+plen, "node data length"); !ok {
			return l.err
		}
		buf = l.cur.buf
		dlen := int(int32(binary.BigEndian.Uint32(buf[l.pos+4+plen:])))
		if dlen < -1 || dlen > l.inPlace {
			if err := b.slowNode(l, &sp); err != nil {
				return err
			}
			continue
		}
		size := 8 + plen + max(dlen, 0) + 8 + 60
		if l.pos, ok = l.need(l.pos, size, "node record"); !ok {
			return l.err
		}
		rec := l.cur.buf[l.pos : l.pos+size]
		path := rec[4 : 4+plen]
		p := 8 + plen
		var data []byte
		if dlen >= 0 {
			data = rec[p : p+dlen]
			p += dlen
		}
		key := int64(binary.BigEndian.Uint64(rec[p:]))
		decodeStat(&sp, rec[p+8:])
		if _, err := b.add(path, data, key, &sp); err != nil {
			l.err = err
			return err
		}
		l.cur.recs = append(l.cur.recs, int32(l.pos))
		l.pos += size
	}
	return b.flush()
}

// slowNode decodes a record with a huge (or null) path or data field,
// copying it out of the chunks, and digests it here.
func (b *builder) slowNode(l *loader, sp *jute.StatPersisted) error {
	path, _ := l.bytes("node path")
	if l.err != nil {
		return l.err
	}
	// path cannot be the "/" terminator: the fast path saw its length.
	data, _ := l.bytes("node data")
	key := l.long("node ACL key")
	sp.Czxid = l.long("stat")
	sp.Mzxid = l.long("stat")
	sp.Ctime = l.long("stat")
	sp.Mtime = l.long("stat")
	sp.Version = l.int("stat")
	sp.Cversion = l.int("stat")
	sp.Aversion = l.int("stat")
	sp.EphemeralOwner = l.long("stat")
	sp.Pzxid = l.long("stat")
	if l.err != nil {
		return l.err
	}
	n, err := b.add(path, data, key, sp)
	if err != nil {
		l.err = err
		return err
	}
	l.localSum += b.t.hash(string(path), n)
	return nil
}

// decodeStat decodes the 60-byte encoded StatPersisted at the start of b.
func decodeStat(sp *jute.StatPersisted, b []byte) {
	_ = b[59]
	sp.Czxid = int64(binary.BigEndian.Uint64(b[0:]))
	sp.Mzxid = int64(binary.BigEndian.Uint64(b[8:]))
	sp.Ctime = int64(binary.BigEndian.Uint64(b[16:]))
	sp.Mtime = int64(binary.BigEndian.Uint64(b[24:]))
	sp.Version = int32(binary.BigEndian.Uint32(b[32:]))
	sp.Cversion = int32(binary.BigEndian.Uint32(b[36:]))
	sp.Aversion = int32(binary.BigEndian.Uint32(b[40:]))
	sp.EphemeralOwner = int64(binary.BigEndian.Uint64(b[44:]))
	sp.Pzxid = int64(binary.BigEndian.Uint64(b[52:]))
}

// add creates the node a record describes and links it under its parent.
// path and data may alias a chunk: they are copied.
func (b *builder) add(path, data []byte, key int64, sp *jute.StatPersisted) (*node, error) {
	t := b.t
	acl := nullACL
	if key != -1 {
		if b.hasLast && key == b.lastKey {
			acl = b.lastIdx
		} else {
			idx, ok := b.keyMap[key]
			if ok {
				acl, b.lastKey, b.lastIdx, b.hasLast = idx, key, idx, true
			} else {
				acl = t.quarantineACL()
			}
		}
	}
	n := &node{
		acl:   acl,
		czxid: sp.Czxid, mzxid: sp.Mzxid,
		ctime: sp.Ctime, mtime: sp.Mtime,
		version: sp.Version,
	}
	n.setExt(sp.Pzxid, sp.EphemeralOwner, sp.Cversion, sp.Aversion)
	b.maxZxid = max(b.maxZxid, sp.Czxid, sp.Mzxid, sp.Pzxid)
	if len(path) == 0 {
		if t.root != nil {
			return nil, fmt.Errorf("%w: root appears twice", ErrCorrupt)
		}
		t.acls.addRef(acl)
		n.setBufBytes(nil, data)
		t.root = n
		t.nodes++
		b.frames = append(b.frames[:0], loadFrame{n: n, pend: len(b.pending)})
		b.pathBuf = b.pathBuf[:0]
		return n, nil
	}
	if t.root == nil {
		return nil, fmt.Errorf("%w: node %q precedes the root", ErrCorrupt, path)
	}
	i := bytes.LastIndexByte(path, '/')
	if path[0] != '/' || i == len(path)-1 || (i > 0 && path[i-1] == '/') {
		return nil, fmt.Errorf("%w: invalid node path %q", ErrCorrupt, path)
	}
	pp := path[:i]
	for len(b.frames) > 0 && b.frames[len(b.frames)-1].plen > len(pp) {
		if err := b.pop(); err != nil {
			return nil, err
		}
	}
	var parent *node
	direct := false
	if k := len(b.frames) - 1; k >= 0 && b.frames[k].plen == len(pp) && bytes.Equal(b.pathBuf[:len(pp)], pp) {
		parent = b.frames[k].n
	} else {
		if err := b.flush(); err != nil {
			return nil, err
		}
		if parent = t.lookup(string(pp)); parent == nil {
			return nil, fmt.Errorf("%w: node %q precedes its parent", ErrCorrupt, path)
		}
		direct = true
	}
	t.acls.addRef(acl)
	n.setBufBytes(path[i+1:], data)
	h := hashName(n.name())
	if direct {
		if px := parent.ext(); px.kids == nil {
			px.kids = &kidTable{}
		}
		if !parent.kids().insertNew(n, h) {
			return nil, fmt.Errorf("%w: node %q appears twice", ErrCorrupt, path)
		}
	} else {
		b.pending = append(b.pending, pendingKid{n: n, h: h})
	}
	b.frames = append(b.frames, loadFrame{n: n, plen: len(path), pend: len(b.pending)})
	b.pathBuf = append(b.pathBuf[:0], path...)
	t.nodes++
	t.dataSize += int64(len(path) + len(data))
	switch o := n.owner(); {
	case IsContainer(o):
		t.containers[string(path)] = struct{}{}
	case IsTTL(o):
		t.ttls[string(path)] = struct{}{}
	case o != 0:
		set := t.ephemerals[o]
		if set == nil {
			set = make(map[string]struct{})
			t.ephemerals[o] = set
		}
		set[string(path)] = struct{}{}
	}
	return n, nil
}

// pop ends the top frame's subtree: its collected children go into its
// child table, grown once to their number.
func (b *builder) pop() error {
	f := b.frames[len(b.frames)-1]
	b.frames = b.frames[:len(b.frames)-1]
	kids := b.pending[f.pend:]
	if len(kids) == 0 {
		return nil
	}
	kt := f.n.kids()
	if kt == nil {
		kt = &kidTable{}
		f.n.ext().kids = kt
	}
	kt.reserve(kt.Len() + len(kids))
	for _, k := range kids {
		if !kt.insertNew(k.n, k.h) {
			return fmt.Errorf("%w: node %q appears twice under one parent", ErrCorrupt, k.n.name())
		}
	}
	clear(kids)
	b.pending = b.pending[:f.pend]
	return nil
}

// flush ends every open frame.
func (b *builder) flush() error {
	for len(b.frames) > 0 {
		if err := b.pop(); err != nil {
			return err
		}
	}
	if b.t.root == nil {
		return fmt.Errorf("%w: no root node", ErrCorrupt)
	}
	return nil
}
