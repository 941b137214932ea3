package pebble

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/zabkit/zabkit/core/ext"
)

// A log record holds the entries of one group commit under one key, the
// log key of its first zxid. One key per commit instead of one per entry
// is what makes a large group commit cheap: Pebble's cost per key (batch
// framing, a memtable insert, later an index entry) is paid once, and the
// bytes are copied once, straight into the batch. Its value is
//
//	uvarint   number of entries, at least 1
//	uvarint   last zxid − first zxid
//	per entry uvarint zxid − previous zxid (0 for the first entry)
//	          uvarint len(Data), then Data byte for byte
//
// Zxids only grow and records never overlap, so the records are in zxid
// order and the record holding a zxid is the last one whose key is not
// above it. The header gives a record's zxid range without walking its
// entries. Pebble checksums its WAL records and table blocks, so a record
// carries no checksum of its own; decoding still checks the framing.

// maxRecordBytes caps one record's value; a larger Append is split into
// several records, all in the same Pebble batch, so the commit stays one
// atomic sync. It bounds what a truncation inside a record rewrites and
// what one ReadLog step holds.
const maxRecordBytes = 1 << 20

// uvarintLen is the length of v as a uvarint.
func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// nextRecord returns how many of entries (at least one) the next record
// takes and the length of its value.
func nextRecord(entries []ext.Entry) (count, size int) {
	first := entries[0].Zxid
	prev := first
	body := 0
	for count < len(entries) {
		e := &entries[count]
		n := uvarintLen(uint64(e.Zxid-prev)) + uvarintLen(uint64(len(e.Data))) + len(e.Data)
		if count > 0 && body+n > maxRecordBytes {
			break
		}
		body += n
		prev = e.Zxid
		count++
	}
	return count, uvarintLen(uint64(count)) + uvarintLen(uint64(prev-first)) + body
}

// appendRecord appends the value of the record holding entries to dst.
func appendRecord(dst []byte, entries []ext.Entry) []byte {
	first := entries[0].Zxid
	dst = binary.AppendUvarint(dst, uint64(len(entries)))
	dst = binary.AppendUvarint(dst, uint64(entries[len(entries)-1].Zxid-first))
	prev := first
	for i := range entries {
		e := &entries[i]
		dst = binary.AppendUvarint(dst, uint64(e.Zxid-prev))
		dst = binary.AppendUvarint(dst, uint64(len(e.Data)))
		dst = append(dst, e.Data...)
		prev = e.Zxid
	}
	return dst
}

// record reads one record's entries in order. Entry.Data aliases the
// value it was opened on.
type record struct {
	first, last int64
	left        uint64 // entries not yet read
	started     bool   // whether the first entry was read
	zxid        int64  // the zxid of the entry read last, or first
	rest        []byte
}

// openRecord parses the header of the record under the log key key.
func openRecord(key, value []byte) (record, error) {
	first, err := keyZxid(key)
	if err != nil {
		return record{}, err
	}
	r := record{first: first, zxid: first, rest: value}
	count, ok := r.uvarint()
	span, ok2 := r.uvarint()
	if !ok || !ok2 || count == 0 || first < 0 || span > uint64(math.MaxInt64-first) {
		return record{}, fmt.Errorf("%w: log record %#x has a bad header", ext.ErrCorrupt, first)
	}
	r.left, r.last = count, first+int64(span)
	return r, nil
}

func (r *record) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(r.rest)
	if n <= 0 {
		return 0, false
	}
	r.rest = r.rest[n:]
	return v, true
}

// next returns the next entry; ok is false once all were read. The
// framing is checked as it goes: the entries must fill the value exactly
// and end at the header's last zxid, with zxids increasing.
func (r *record) next() (e ext.Entry, ok bool, err error) {
	if r.left == 0 {
		if len(r.rest) != 0 || r.zxid != r.last {
			return e, false, r.corrupt()
		}
		return e, false, nil
	}
	delta, ok1 := r.uvarint()
	size, ok2 := r.uvarint()
	// The first entry is at the key's zxid, each later one above the one
	// before it, and none beyond the header's last zxid.
	badDelta := delta > uint64(r.last-r.zxid) || (delta == 0) != !r.started
	if !ok1 || !ok2 || badDelta || size > uint64(len(r.rest)) {
		return e, false, r.corrupt()
	}
	r.started = true
	r.zxid += int64(delta)
	r.left--
	e = ext.Entry{Zxid: r.zxid, Data: r.rest[:size:size]}
	r.rest = r.rest[size:]
	return e, true, nil
}

func (r *record) corrupt() error {
	return fmt.Errorf("%w: log record %#x is malformed", ext.ErrCorrupt, r.first)
}
