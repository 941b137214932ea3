package file

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"strconv"
	"strings"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/stores/internal/snapdir"
)

// Txn log format (spec 7.2):
//
//	FileHeader{int magic "ZKLG"; int version 2; long dbid 0}
//	entry*: long checksum | int len | byte[len] entry | byte 'B'
//	zero padding to EOF
//
// The checksum is Adler32 of the entry bytes only, stored in a long (so its
// high 32 bits are zero).
const (
	logMagic       = 0x5A4B4C47 // "ZKLG"
	logVersion     = 2
	fileHeaderSize = 16
	entryOverhead  = 8 + 4 + 1 // checksum, length, 'B'
	endOfRecord    = 'B'
	// zxidOffset is where TxnHeader.zxid sits in an entry (after the
	// long clientId and int cxid).
	zxidOffset = 12
	// maxEntryLen bounds a length field we are willing to believe when
	// reading. ZooKeeper's own bound is jute.maxbuffer (1 MiB by default,
	// but operators raise it); this only protects against allocating
	// gigabytes for a garbage length.
	maxEntryLen = 256 << 20
	// padSlack is ZooKeeper's threshold: extend the file when the write
	// position comes within 4 KiB of its pre-allocated end.
	padSlack = 4096
)

const (
	logPrefix  = "log."
	snapPrefix = snapdir.Prefix
)

// CorruptError reports data that failed a checksum or framing check where a
// torn tail cannot explain it. It wraps ext.ErrCorrupt.
type CorruptError struct {
	File   string
	Offset int64 // byte offset of the first bad record
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("store: corrupt txn log %s at byte offset %d: %s", e.File, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ext.ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ext.ErrCorrupt }

// parseName returns the hex zxid of "<prefix><hex>", rejecting anything with
// a suffix (compressed snapshots, temp files).
func parseName(name, prefix string) (int64, bool) {
	if !strings.HasPrefix(name, prefix) {
		return 0, false
	}
	h := name[len(prefix):]
	if h == "" || len(h) > 16 || strings.ContainsAny(h, "+-") {
		return 0, false
	}
	v, err := strconv.ParseUint(h, 16, 64)
	if err != nil || v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// hexName formats a zxid the way ZooKeeper names files: lowercase, no
// padding.
func hexName(prefix string, zxid int64) string {
	return prefix + strconv.FormatUint(uint64(zxid), 16)
}

func appendFileHeader(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, logMagic)
	b = binary.BigEndian.AppendUint32(b, logVersion)
	return binary.BigEndian.AppendUint64(b, 0) // dbid, always 0 in ZooKeeper logs
}

func validFileHeader(b []byte) bool {
	return len(b) >= fileHeaderSize &&
		binary.BigEndian.Uint32(b) == logMagic &&
		binary.BigEndian.Uint32(b[4:]) == logVersion
}

// appendEntry frames one entry.
func appendEntry(b, data []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(adler32.Checksum(data)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	return append(b, endOfRecord)
}

// entryZxid reads TxnHeader.zxid from an entry.
func entryZxid(data []byte) (int64, bool) {
	if len(data) < zxidOffset+8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(data[zxidOffset:])), true
}

// nextPrealloc is ZooKeeper's padding rule: when pos is within padSlack of
// size, grow by one pre-allocation step (or, if pos is already past the end,
// to the step boundary after pos).
func nextPrealloc(pos, size, step int64) int64 {
	if step > 0 && pos+padSlack >= size {
		if pos > size {
			size = pos + step
			size -= size % step
		} else {
			size += step
		}
	}
	return size
}

// stop says why an entryReader stopped.
type stop int

const (
	stopNone stop = iota
	stopEOF       // clean end: the readable region ended at a record boundary
	stopPad       // zero padding (ZooKeeper's end-of-log marker)
	stopBad       // a record failed framing or checksum checks
)

// entryReader decodes entries sequentially from a file region. It reuses
// one data buffer, so an entry's bytes are valid until the next call.
type entryReader struct {
	br    *bufio.Reader
	off   int64 // offset of the next record
	rec   int64 // offset of the record next returned last
	limit int64 // readable bytes
	hdr   [12]byte
	data  []byte
}

func newEntryReader(r io.ReaderAt, start, limit int64, br *bufio.Reader) *entryReader {
	sr := io.NewSectionReader(r, start, limit-start)
	if br == nil {
		br = bufio.NewReaderSize(sr, 256<<10)
	} else {
		br.Reset(sr)
	}
	return &entryReader{br: br, off: start, limit: limit}
}

// next returns the next entry, or a stop reason. On a stop, off is the
// offset of the record that ended the log and reason explains stopBad.
func (r *entryReader) next() (zxid int64, data []byte, st stop, reason string, err error) {
	r.rec = r.off
	rem := r.limit - r.off
	if rem == 0 {
		return 0, nil, stopEOF, "", nil
	}
	if rem < int64(len(r.hdr)) {
		b := r.hdr[:rem]
		if _, err := io.ReadFull(r.br, b); err != nil {
			return 0, nil, stopNone, "", err
		}
		// Even zeros: no writer leaves less than a record header of
		// padding, so this is the start of a torn record.
		return 0, nil, stopBad, fmt.Sprintf("truncated record header (%d bytes)", rem), nil
	}
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		return 0, nil, stopNone, "", err
	}
	sum := binary.BigEndian.Uint64(r.hdr[:8])
	n := int64(int32(binary.BigEndian.Uint32(r.hdr[8:])))
	switch {
	case n == 0 && sum == 0:
		return 0, nil, stopPad, "", nil
	case n < jute.TxnHeaderSize || n > maxEntryLen:
		return 0, nil, stopBad, fmt.Sprintf("implausible record length %d", n), nil
	case n+1 > rem-12:
		return 0, nil, stopBad, fmt.Sprintf("truncated record (%d bytes declared, %d present)", n, rem-13), nil
	}
	if int64(cap(r.data)) < n {
		r.data = make([]byte, n, n+n/4)
	}
	data = r.data[:n]
	if _, err := io.ReadFull(r.br, data); err != nil {
		return 0, nil, stopNone, "", err
	}
	eor, err := r.br.ReadByte()
	if err != nil {
		return 0, nil, stopNone, "", err
	}
	if sum>>32 != 0 || uint32(sum) != adler32.Checksum(data) {
		return 0, nil, stopBad, "checksum mismatch", nil
	}
	if eor != endOfRecord {
		return 0, nil, stopBad, "missing end-of-record marker", nil
	}
	zxid, _ = entryZxid(data)
	r.off += 12 + n + 1
	return zxid, data, stopNone, "", nil
}

// findValidEntry looks for a well-formed record (plausible length, 'B'
// marker, matching checksum, zxid above minZxid) starting anywhere in
// [from, size). Finding one after a bad record means the damage is in the
// middle of the log, not a torn tail: the records after it were written
// (and possibly acknowledged) later. The search is byte-by-byte because a
// damaged length field loses the framing; zero runs are skipped quickly.
func findValidEntry(r io.ReaderAt, from, size, minZxid int64) (int64, bool, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk+12)
	var data []byte
	seeker, _ := r.(dataSeeker)
	for base := from; base+12+jute.TxnHeaderSize+1 <= size; base += chunk {
		if seeker != nil {
			d, err := seeker.SeekData(base)
			if errors.Is(err, io.EOF) {
				return 0, false, nil
			}
			// A record starting in a hole has its length field (which
			// is never zero) in data, at most 11 bytes before d... so
			// no earlier start than d-11 can be valid.
			if err == nil && d-11 > base {
				base = d - 11
				if base+12+jute.TxnHeaderSize+1 > size {
					break
				}
			}
		}
		n := int64(len(buf))
		if base+n > size {
			n = size - base
		}
		b := buf[:n]
		if _, err := r.ReadAt(b, base); err != nil && !errors.Is(err, io.EOF) {
			return 0, false, err
		}
		// Candidate starts are p in [0, min(chunk, n-12)).
		last := min(int64(chunk), n-12)
		for p := int64(0); p < last; p++ {
			// The length field of a candidate at p occupies [p+8, p+12)
			// and is at least 32, so it has a non-zero byte: jump to the
			// first non-zero byte at or after p+8.
			q := nextNonZero(b, p+8)
			if q < 0 {
				break
			}
			if q-11 > p {
				p = q - 11
				if p >= last {
					break
				}
			}
			if binary.BigEndian.Uint32(b[p:]) != 0 {
				continue // checksum's high half is always zero
			}
			ln := int64(int32(binary.BigEndian.Uint32(b[p+8:])))
			if ln < jute.TxnHeaderSize || ln > maxEntryLen || base+p+12+ln+1 > size {
				continue
			}
			off := base + p
			if int64(cap(data)) < ln+1 {
				data = make([]byte, ln+1)
			}
			d := data[:ln+1]
			if _, err := r.ReadAt(d, off+12); err != nil && !errors.Is(err, io.EOF) {
				return 0, false, err
			}
			if d[ln] != endOfRecord || binary.BigEndian.Uint32(b[p+4:]) != adler32.Checksum(d[:ln]) {
				continue
			}
			if z, _ := entryZxid(d[:ln]); z <= minZxid {
				continue
			}
			return off, true, nil
		}
	}
	return 0, false, nil
}

const zeroBlock = 4096

var zeros [zeroBlock]byte

// nextNonZero returns the index of the first non-zero byte of b at or after
// i, or -1.
func nextNonZero(b []byte, i int64) int64 {
	n := int64(len(b))
	// Pre-allocated space is long runs of zeros: skip them a block at a
	// time with the runtime's vectorised compare.
	for i+zeroBlock <= n && bytes.Equal(b[i:i+zeroBlock], zeros[:]) {
		i += zeroBlock
	}
	for ; i < n && i&7 != 0; i++ {
		if b[i] != 0 {
			return i
		}
	}
	for ; i+8 <= n; i += 8 {
		if binary.LittleEndian.Uint64(b[i:]) != 0 {
			break
		}
	}
	for ; i < n; i++ {
		if b[i] != 0 {
			return i
		}
	}
	return -1
}
