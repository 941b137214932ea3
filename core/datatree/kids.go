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
func (n *node) setBuf(name string, data []byte) {
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

// setBufBytes is setBuf for a name held in a byte slice.
func (n *node) setBufBytes(name, data []byte) {
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
type kidTable struct {
	slots []*node
	tags  []uint8
	n     int32 // live entries
	used  int32 // live entries plus tombstones
}

const (
	tagEmpty uint8 = 0
	tagTomb  uint8 = 1
	minSlots       = 4
)

var hashSeed = maphash.MakeSeed()

func hashName(name string) uint64 { return maphash.String(hashSeed, name) }

func tagOf(h uint64) uint8 { return uint8(h>>57) | 0x80 }

// Len is the number of children.
func (kt *kidTable) Len() int {
	if kt == nil {
		return 0
	}
	return int(kt.n)
}

// slot returns the index holding name, or -1.
func (kt *kidTable) slot(name string) int {
	if kt == nil {
		return -1
	}
	h := hashName(name)
	mask := len(kt.slots) - 1
	tag := tagOf(h)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch kt.tags[i] {
		case tagEmpty:
			return -1
		case tag:
			if kt.slots[i].name() == name {
				return i
			}
		}
	}
}

// get returns the child called name, or nil.
func (kt *kidTable) get(name string) *node {
	if i := kt.slot(name); i >= 0 {
		return kt.slots[i]
	}
	return nil
}

// insert adds c, which must not be present, growing (or cleaning out
// tombstones) to keep the load at most 3/4.
func (kt *kidTable) insert(c *node) {
	if 4*(int(kt.used)+1) > 3*len(kt.slots) {
		kt.rehash(int(kt.n) + 1)
	}
	h := hashName(c.name())
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
	kt.n++
}

// reserve grows the table, if needed, to hold want entries without a
// rehash.
func (kt *kidTable) reserve(want int) {
	if 4*want > 3*len(kt.slots) {
		kt.rehash(want)
	}
}

// insertNew adds c, whose name hashes to h, unless a child of that name is
// there already; it reports whether it added c. The caller has reserved
// room.
func (kt *kidTable) insertNew(c *node, h uint64) bool {
	if 4*(int(kt.used)+1) > 3*len(kt.slots) {
		kt.rehash(int(kt.n) + 1)
	}
	mask := len(kt.slots) - 1
	tag := tagOf(h)
	name := c.name()
	free := -1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch t := kt.tags[i]; {
		case t == tagEmpty:
			if free < 0 {
				free = i
				kt.used++
			}
			kt.tags[free] = tag
			kt.slots[free] = c
			kt.n++
			return true
		case t == tagTomb:
			if free < 0 {
				free = i
			}
		case t == tag && kt.slots[i].name() == name:
			return false
		}
	}
}

// remove deletes the child called name and reports whether it was there.
func (kt *kidTable) remove(name string) bool {
	i := kt.slot(name)
	if i < 0 {
		return false
	}
	kt.tags[i] = tagTomb
	kt.slots[i] = nil
	kt.n--
	// Shrink when mostly empty so a drained big parent gives memory back.
	if len(kt.slots) > minSlots && 8*int(kt.n) < len(kt.slots) {
		kt.rehash(int(kt.n))
	}
	return true
}

// rehash rebuilds the table for want live entries.
func (kt *kidTable) rehash(want int) {
	size := minSlots
	for 4*want > 3*size {
		size *= 2
	}
	old, oldTags := kt.slots, kt.tags
	kt.slots = make([]*node, size)
	kt.tags = make([]uint8, size)
	kt.n, kt.used = 0, 0
	for i, c := range old {
		if oldTags[i]&0x80 != 0 {
			kt.insert(c)
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
}

// names returns the children's names (aliasing their bufs).
func (kt *kidTable) names() []string {
	out := make([]string, 0, kt.Len())
	kt.each(func(c *node) { out = append(out, c.name()) })
	return out
}
