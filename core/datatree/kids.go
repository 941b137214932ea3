package datatree

import (
	"hash/maphash"
	"unsafe"
)

// A node's name and data share one allocation, buf = name ‖ data, that
// holds no pointers (the GC does not scan it). A 100-byte value under an
// 8-byte name costs one 112-byte block, the same as the value alone.
//
// The accessors below view buf without copying. buf is immutable once
// built: setData builds a new one. Slices and strings handed out alias it
// and must not be modified.

// setBuf builds the node's buf from its name and data; data nil means null
// data.
func (n *node) setBuf(name string, data []byte) { setNodeBuf(n, name, data) }

// setBufBytes is setBuf for a name held in a byte slice (the snapshot
// loader's, which must not allocate a string per node).
func (n *node) setBufBytes(name, data []byte) { setNodeBuf(n, name, data) }

// setNodeBuf stores name and data in one pointer-free allocation.
func setNodeBuf[S ~string | ~[]byte](n *node, name S, data []byte) {
	n.nameLen = int32(len(name))
	if data == nil {
		n.dataLen = -1
	} else {
		n.dataLen = int32(len(data))
	}
	size := len(name) + len(data)
	if size == 0 {
		n.buf = nil
		return
	}
	b := make([]byte, size)
	copy(b, name)
	copy(b[len(name):], data)
	n.buf = &b[0]
}

// name is the node's name (its key in the parent's table); "" for root.
func (n *node) name() string {
	if n.nameLen == 0 {
		return ""
	}
	return unsafe.String(n.buf, n.nameLen)
}

// data is the node's data: nil for null data, emptyData for empty data.
func (n *node) data() []byte {
	switch {
	case n.dataLen < 0:
		return nil
	case n.dataLen == 0:
		// Never form a pointer one past the end of buf.
		return emptyData
	}
	p := (*byte)(unsafe.Add(unsafe.Pointer(n.buf), n.nameLen))
	return unsafe.Slice(p, n.dataLen)[:n.dataLen:n.dataLen]
}

// dataSize is len(data()), 0 for null data.
func (n *node) dataSize() int { return int(max(n.dataLen, 0)) }

// kidTable is a node's set of children, an open-addressing hash table of
// node pointers keyed by the names the nodes hold. Against a
// map[string]*node it saves the 16-byte key per slot and a separate name
// allocation per child: 9 bytes per slot at load ≤ 3/4.
//
// tags[i] is tagEmpty, tagTomb (a deleted entry, kept so probe chains stay
// intact), or 0x80 | 7 bits of the name's hash, which filters probes
// without touching the nodes.
//
// Big tables resize incrementally: the previous arrays stay in old, are
// still searched, and their entries move to the new arrays a few slots per
// later insert or remove. A parent with a million children thus never
// stalls the write lock for a whole rehash (tens of milliseconds). Reads
// (under the read lock) only search; they never move anything.
type kidTable struct {
	slots []*node
	tags  []uint8
	n     int32   // live entries, in both arrays
	used  int32   // live entries plus tombstones in slots
	old   *kidOld // non-nil while a resize is in progress
}

// kidOld is the previous arrays of a table being resized.
type kidOld struct {
	slots []*node
	tags  []uint8
	live  int32 // entries not yet moved
	next  int   // next slot to move
	step  int   // slots to move per write
}

const (
	tagEmpty uint8 = 0
	tagTomb  uint8 = 1
	minSlots       = 4
	// incrementalSlots is the size from which resizes are incremental;
	// below it a full rehash is a few microseconds.
	incrementalSlots = 1 << 12
)

var hashSeed = maphash.MakeSeed()

func hashName(name string) uint64 { return maphash.String(hashSeed, name) }

func tagOf(h uint64) uint8 { return uint8(h>>57) | 0x80 }

// sizeFor is the smallest power-of-two slot count holding want entries at
// load ≤ 3/4.
func sizeFor(want int) int {
	size := minSlots
	for 4*want > 3*size {
		size *= 2
	}
	return size
}

// Len is the number of children.
func (kt *kidTable) Len() int {
	if kt == nil {
		return 0
	}
	return int(kt.n)
}

// probe returns the index in slots/tags holding name (hash h), or -1.
func probe(slots []*node, tags []uint8, name string, h uint64) int {
	if len(slots) == 0 {
		return -1
	}
	mask := len(slots) - 1
	tag := tagOf(h)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch tags[i] {
		case tagEmpty:
			return -1
		case tag:
			if slots[i].name() == name {
				return i
			}
		}
	}
}

// get returns the child called name, or nil.
func (kt *kidTable) get(name string) *node {
	if kt == nil {
		return nil
	}
	h := hashName(name)
	if i := probe(kt.slots, kt.tags, name, h); i >= 0 {
		return kt.slots[i]
	}
	if o := kt.old; o != nil {
		if i := probe(o.slots, o.tags, name, h); i >= 0 {
			return o.slots[i]
		}
	}
	return nil
}

// place puts c (hash h, known absent) in the first free slot of its probe
// sequence in the current arrays, which have room.
func (kt *kidTable) place(c *node, h uint64) {
	mask := len(kt.slots) - 1
	i := int(h) & mask
	for kt.tags[i]&0x80 != 0 {
		i = (i + 1) & mask
	}
	if kt.tags[i] == tagEmpty {
		kt.used++
	}
	kt.tags[i] = tagOf(h)
	kt.slots[i] = c
}

// grow makes room for one more entry, resizing when the current arrays
// (counting the entries still to move in) would pass load 3/4.
func (kt *kidTable) grow() {
	pending := int32(0)
	if kt.old != nil {
		pending = kt.old.live
	}
	if 4*(int(kt.used+pending)+1) > 3*len(kt.slots) {
		kt.resize(sizeFor(int(kt.n) + 1))
	}
}

// insert adds c, which must not be present.
func (kt *kidTable) insert(c *node) {
	kt.migrate()
	kt.grow()
	kt.place(c, hashName(c.name()))
	kt.n++
}

// reserve resizes the table at once, if needed, to hold want entries
// without further growth (the snapshot loader knows the final count).
func (kt *kidTable) reserve(want int) {
	kt.finish()
	if size := sizeFor(want); size > len(kt.slots) {
		kt.rehash(size)
	}
}

// insertNew adds c, whose name hashes to h, unless a child of that name is
// there already; it reports whether it added c.
func (kt *kidTable) insertNew(c *node, h uint64) bool {
	name := c.name()
	if probe(kt.slots, kt.tags, name, h) >= 0 || (kt.old != nil && probe(kt.old.slots, kt.old.tags, name, h) >= 0) {
		return false
	}
	kt.migrate()
	kt.grow()
	kt.place(c, h)
	kt.n++
	return true
}

// remove deletes the child called name and reports whether it was there.
func (kt *kidTable) remove(name string) bool {
	h := hashName(name)
	if i := probe(kt.slots, kt.tags, name, h); i >= 0 {
		kt.tags[i] = tagTomb
		kt.slots[i] = nil
	} else if o := kt.old; o != nil {
		i := probe(o.slots, o.tags, name, h)
		if i < 0 {
			return false
		}
		o.tags[i] = tagTomb
		o.slots[i] = nil
		o.live--
	} else {
		return false
	}
	kt.n--
	kt.migrate()
	// Shrink when mostly empty so a drained big parent gives memory back;
	// the smaller arrays are sized for twice the entries left, so they
	// have room while the move completes.
	if kt.old == nil && len(kt.slots) > minSlots && 8*int(kt.n) < len(kt.slots) {
		kt.resize(sizeFor(2 * int(kt.n)))
	}
	return true
}

// resize moves to arrays of size slots: at once for small tables,
// incrementally for big ones.
func (kt *kidTable) resize(size int) {
	kt.finish()
	if len(kt.slots) < incrementalSlots && size <= incrementalSlots {
		kt.rehash(size)
		return
	}
	o := &kidOld{slots: kt.slots, tags: kt.tags, live: kt.n}
	kt.slots = make([]*node, size)
	kt.tags = make([]uint8, size)
	kt.used = 0
	kt.old = o
	// Move fast enough that old is empty before the new arrays fill up:
	// room inserts may come, and each moves step of len(o.slots) slots.
	room := max(3*size/4-int(kt.n)-1, 1)
	o.step = 4 + 2*len(o.slots)/room
	kt.migrate()
}

// migrate moves the next few slots of an in-progress resize.
func (kt *kidTable) migrate() {
	o := kt.old
	if o == nil {
		return
	}
	for end := min(o.next+o.step, len(o.slots)); o.next < end; o.next++ {
		if o.tags[o.next]&0x80 != 0 {
			c := o.slots[o.next]
			kt.place(c, hashName(c.name()))
			o.tags[o.next] = tagTomb
			o.slots[o.next] = nil
			o.live--
		}
	}
	if o.next == len(o.slots) || o.live == 0 {
		kt.old = nil
	}
}

// finish completes an in-progress resize.
func (kt *kidTable) finish() {
	if o := kt.old; o != nil {
		o.step = len(o.slots)
		kt.migrate()
	}
}

// rehash rebuilds the table at once with size slots.
func (kt *kidTable) rehash(size int) {
	kt.finish()
	old, oldTags := kt.slots, kt.tags
	kt.slots = make([]*node, size)
	kt.tags = make([]uint8, size)
	kt.used = 0
	for i, c := range old {
		if oldTags[i]&0x80 != 0 {
			kt.place(c, hashName(c.name()))
		}
	}
}

// each calls fn for every child, in table order.
func (kt *kidTable) each(fn func(c *node)) {
	if kt == nil {
		return
	}
	for i, c := range kt.slots {
		if kt.tags[i]&0x80 != 0 {
			fn(c)
		}
	}
	if o := kt.old; o != nil {
		for i, c := range o.slots {
			if o.tags[i]&0x80 != 0 {
				fn(c)
			}
		}
	}
}

// names returns the children's names (aliasing their bufs).
func (kt *kidTable) names() []string {
	out := make([]string, 0, kt.Len())
	kt.each(func(c *node) { out = append(out, c.name()) })
	return out
}
