// Package jute implements Apache ZooKeeper's jute binary encoding and the
// records zabkit exchanges with clients, peers and disk.
//
// One codec serves every purpose (client protocol, quorum packets, txn log
// entries, snapshots) so that a txn is serialised once and the same bytes
// reach the log, PROPOSALs and DIFF sync. All integers are big-endian.
package jute

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Decoding errors. Every decoder failure wraps one of these so callers can
// classify bad input with errors.Is.
var (
	// ErrShort means the input ended before the record did.
	ErrShort = errors.New("jute: truncated input")
	// ErrBadLength means a length prefix was negative (other than -1 for
	// null) or larger than the bytes that remain.
	ErrBadLength = errors.New("jute: bad length")
)

// Writer appends jute-encoded values to a byte slice. The zero value is
// ready to use.
type Writer struct {
	buf []byte
}

// NewWriter returns a Writer that appends to buf (which may be nil), so a
// caller can reuse a buffer across records.
func NewWriter(buf []byte) *Writer { return &Writer{buf: buf} }

// Bytes returns the encoded bytes.
func (w *Writer) Bytes() []byte { return w.buf }

// Len is the number of bytes written so far.
func (w *Writer) Len() int { return len(w.buf) }

// Reset empties the writer while keeping its buffer.
func (w *Writer) Reset() { w.buf = w.buf[:0] }

// WriteByte appends one byte. It never fails; the error is for io.ByteWriter.
func (w *Writer) WriteByte(b byte) error { w.buf = append(w.buf, b); return nil }

// WriteRaw appends bytes with no length prefix.
func (w *Writer) WriteRaw(b []byte) { w.buf = append(w.buf, b...) }

// WriteBool appends a boolean as one byte.
func (w *Writer) WriteBool(v bool) {
	if v {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
}

// WriteInt appends a 32-bit integer.
func (w *Writer) WriteInt(v int32) { w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(v)) }

// WriteLong appends a 64-bit integer.
func (w *Writer) WriteLong(v int64) { w.buf = binary.BigEndian.AppendUint64(w.buf, uint64(v)) }

// WriteBuffer appends a length-prefixed byte buffer; nil encodes as -1.
func (w *Writer) WriteBuffer(b []byte) {
	if b == nil {
		w.WriteInt(-1)
		return
	}
	w.WriteInt(int32(len(b)))
	w.buf = append(w.buf, b...)
}

// WriteString appends a length-prefixed UTF-8 string. jute can also encode a
// null string (-1); use WriteNullString for that.
func (w *Writer) WriteString(s string) {
	w.WriteInt(int32(len(s)))
	w.buf = append(w.buf, s...)
}

// WriteNullString appends the null string (-1).
func (w *Writer) WriteNullString() { w.WriteInt(-1) }

// WriteStrings appends a vector of strings; nil encodes as -1.
func (w *Writer) WriteStrings(v []string) {
	if v == nil {
		w.WriteInt(-1)
		return
	}
	w.WriteInt(int32(len(v)))
	for _, s := range v {
		w.WriteString(s)
	}
}

// Reader decodes jute values from a byte slice. The first error sticks:
// later reads return zero values and Err reports it, so decoders read a
// whole record and check once.
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Err is the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Remaining is the number of unread bytes.
func (r *Reader) Remaining() int { return len(r.buf) - r.off }

// Offset is the number of bytes consumed.
func (r *Reader) Offset() int { return r.off }

// Rest returns the unread bytes without consuming them.
func (r *Reader) Rest() []byte { return r.buf[r.off:] }

// Fail records err (if none is recorded yet), for decoders that detect a
// semantic problem such as an unknown type tag.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.buf)-r.off {
		r.err = fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrShort, n, r.off, len(r.buf)-r.off)
		return nil
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

// ReadByte reads one byte. The error is for io.ByteReader; Err has it too.
func (r *Reader) ReadByte() (byte, error) {
	b := r.take(1)
	if b == nil {
		return 0, r.err
	}
	return b[0], nil
}

// ReadBool reads a boolean; any non-zero byte is true, as in Java.
func (r *Reader) ReadBool() bool {
	b := r.take(1)
	return b != nil && b[0] != 0
}

// ReadInt reads a 32-bit integer.
func (r *Reader) ReadInt() int32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

// ReadLong reads a 64-bit integer.
func (r *Reader) ReadLong() int64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// readLen reads a length prefix and checks it against the remaining input.
// It returns -1 for null.
func (r *Reader) readLen(what string) int {
	n := r.ReadInt()
	if r.err != nil {
		return -1
	}
	if n == -1 {
		return -1
	}
	if n < 0 || int(n) > len(r.buf)-r.off {
		r.err = fmt.Errorf("%w: %s length %d at offset %d with %d bytes left", ErrBadLength, what, n, r.off-4, len(r.buf)-r.off)
		return -1
	}
	return int(n)
}

// ReadBuffer reads a length-prefixed buffer; -1 yields nil. The result
// aliases the Reader's input: copy it if the input will be reused.
func (r *Reader) ReadBuffer() []byte {
	n := r.readLen("buffer")
	if n < 0 {
		return nil
	}
	return r.take(n)
}

// ReadString reads a length-prefixed string; null reads as "".
func (r *Reader) ReadString() string {
	n := r.readLen("string")
	if n < 0 {
		return ""
	}
	return string(r.take(n))
}

// ReadStrings reads a vector of strings; -1 yields nil.
func (r *Reader) ReadStrings() []string {
	n := r.readCount("vector<ustring>", 4)
	if n < 0 {
		return nil
	}
	v := make([]string, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		v = append(v, r.ReadString())
	}
	return v
}

// readCount reads a vector count and checks that the remaining input could
// hold that many elements of at least minSize bytes each, so a hostile count
// cannot make us allocate gigabytes.
func (r *Reader) readCount(what string, minSize int) int {
	n := r.ReadInt()
	if r.err != nil || n == -1 {
		return -1
	}
	if n < 0 || (minSize > 0 && int64(n)*int64(minSize) > int64(len(r.buf)-r.off)) {
		r.err = fmt.Errorf("%w: %s count %d at offset %d", ErrBadLength, what, n, r.off-4)
		return -1
	}
	return int(n)
}

// Record is a jute record: fields encoded back to back in declaration order.
type Record interface {
	Encode(w *Writer)
	Decode(r *Reader)
}

// Marshal encodes rec into a new slice.
func Marshal(rec Record) []byte {
	w := &Writer{buf: make([]byte, 0, 64)}
	rec.Encode(w)
	return w.buf
}

// AppendRecords appends the encoding of each record to buf.
func AppendRecords(buf []byte, recs ...Record) []byte {
	w := &Writer{buf: buf}
	for _, rec := range recs {
		if rec != nil {
			rec.Encode(w)
		}
	}
	return w.buf
}

// Unmarshal decodes rec from b. Trailing bytes are allowed (ZooKeeper ignores
// them too); a short or malformed input is an error.
func Unmarshal(b []byte, rec Record) error {
	r := NewReader(b)
	rec.Decode(r)
	return r.Err()
}

// UnmarshalExact decodes rec from b and fails if bytes remain.
func UnmarshalExact(b []byte, rec Record) error {
	r := NewReader(b)
	rec.Decode(r)
	if r.err != nil {
		return r.err
	}
	if r.Remaining() != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadLength, r.Remaining())
	}
	return nil
}

// MaxInt32 is a convenience for length checks.
const MaxInt32 = math.MaxInt32

// SetBytes makes the writer append to buf, so a long-lived Writer can
// encode into a caller-owned buffer without allocating.
func (w *Writer) SetBytes(buf []byte) { w.buf = buf }
