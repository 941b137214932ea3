package file

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"path/filepath"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// Exported names of the data directory layout, for offline tools that
// read the files themselves (zabkit dump, verify).
const (
	// VersionDir is the subdirectory of dataDir and dataLogDir that holds
	// the files.
	VersionDir = "version-2"
	// LogPrefix and SnapshotPrefix start txn log and snapshot names; the
	// rest is the zxid in lowercase hex.
	LogPrefix      = logPrefix
	SnapshotPrefix = snapPrefix
)

// Dirs returns the directories the store keeps snapshots and logs in.
func Dirs(dataDir, dataLogDir string) (snapDir, logDir string) {
	if dataLogDir == "" {
		dataLogDir = dataDir
	}
	return filepath.Join(dataDir, VersionDir), filepath.Join(dataLogDir, VersionDir)
}

// ParseName returns the zxid of "<prefix><hex>" (prefix LogPrefix or
// SnapshotPrefix); names with a suffix (compressed snapshots, temp files)
// do not parse.
func ParseName(name, prefix string) (int64, bool) { return parseName(name, prefix) }

// LogItemKind says what a LogScanner found.
type LogItemKind int

const (
	// LogRecord is a record whose framing and checksum verify.
	LogRecord LogItemKind = iota + 1
	// LogBad is damage: a bad file header, or a record that fails its
	// framing or checksum check. Resume is where the next well-formed
	// record starts, or -1 if none follows.
	LogBad
	// LogEnd is the end of the records: end of file or zero padding.
	LogEnd
)

// LogItem is one thing a LogScanner found.
type LogItem struct {
	Kind   LogItemKind
	Offset int64 // where the record (or the damage) starts
	// LogRecord only.
	Zxid     int64  // TxnHeader.zxid
	Data     []byte // TxnHeader + record [+ TxnDigest]; valid until the next call
	Checksum uint32 // the stored Adler32 (it matched)
	// LogBad only.
	Reason string
	Resume int64
	// LogEnd only: zero padding (ZooKeeper's pre-allocation) follows.
	Padding bool
}

// LogScanner reads one txn log file record by record, for offline tools.
// Unlike recovery, which stops at the first bad record, it reports the
// damage and carries on at the next well-formed record (using the same
// resynchronisation as recovery's corruption check), so a dump shows all
// that is readable and says exactly where it is not.
type LogScanner struct {
	f      io.ReaderAt
	size   int64
	hdr    jute.FileHeader
	hdrOK  bool
	r      *entryReader
	prev   int64 // zxid of the last good record
	done   bool
	resume int64 // where to continue after a LogBad; -1 = from the header
}

// NewLogScanner scans f, size bytes long.
func NewLogScanner(f io.ReaderAt, size int64) *LogScanner {
	s := &LogScanner{f: f, size: size, prev: math.MinInt64, resume: -1}
	if size >= fileHeaderSize {
		var b [fileHeaderSize]byte
		if _, err := f.ReadAt(b[:], 0); err == nil {
			s.hdr = jute.FileHeader{
				Magic:   int32(binary.BigEndian.Uint32(b[0:])),
				Version: int32(binary.BigEndian.Uint32(b[4:])),
				DBID:    int64(binary.BigEndian.Uint64(b[8:])),
			}
			s.hdrOK = validFileHeader(b[:])
		}
	}
	return s
}

// Header returns the file header and whether it is a valid txn log header
// (magic ZKLG, version 2).
func (s *LogScanner) Header() (jute.FileHeader, bool) { return s.hdr, s.hdrOK }

// Next returns the next item; io.EOF follows the last one (a LogEnd, or a
// LogBad with nothing valid after it).
func (s *LogScanner) Next() (LogItem, error) {
	if s.done {
		return LogItem{}, io.EOF
	}
	if s.r == nil {
		start := int64(fileHeaderSize)
		if !s.hdrOK && s.resume < 0 {
			reason := fmt.Sprintf("bad file header (magic %#x, version %d)", uint32(s.hdr.Magic), s.hdr.Version)
			if s.size < fileHeaderSize {
				reason = fmt.Sprintf("file of %d bytes is shorter than its header", s.size)
			}
			return s.bad(0, 0, reason)
		}
		if s.resume >= 0 {
			start = s.resume
		}
		s.r = newEntryReader(s.f, start, s.size, nil)
	}
	zxid, data, st, reason, err := s.r.next()
	if err != nil {
		return LogItem{}, fmt.Errorf("store.file: read txn log at offset %d: %w", s.r.rec, err)
	}
	switch st {
	case stopNone:
		s.prev = zxid
		sum := uint32(binary.BigEndian.Uint64(s.r.hdr[:8]))
		return LogItem{Kind: LogRecord, Offset: s.r.rec, Zxid: zxid, Data: data, Checksum: sum}, nil
	case stopEOF:
		s.done = true
		return LogItem{Kind: LogEnd, Offset: s.r.off}, nil
	case stopPad:
		off, found, err := findValidEntry(s.f, s.r.off+1, s.size, s.prev)
		if err != nil {
			return LogItem{}, fmt.Errorf("store.file: read txn log: %w", err)
		}
		if !found {
			s.done = true
			return LogItem{Kind: LogEnd, Offset: s.r.off, Padding: true}, nil
		}
		return s.resumeAt(s.r.off, off, "zero-filled record header")
	default:
		return s.bad(s.r.off, s.r.off+1, reason)
	}
}

// bad reports damage at off and finds where to resume, searching from
// from.
func (s *LogScanner) bad(off, from int64, reason string) (LogItem, error) {
	next, found, err := findValidEntry(s.f, from, s.size, s.prev)
	if err != nil {
		return LogItem{}, fmt.Errorf("store.file: read txn log: %w", err)
	}
	if !found {
		s.done = true
		return LogItem{Kind: LogBad, Offset: off, Reason: reason, Resume: -1}, nil
	}
	return s.resumeAt(off, next, reason)
}

func (s *LogScanner) resumeAt(off, next int64, reason string) (LogItem, error) {
	s.resume = next
	s.r = nil
	return LogItem{Kind: LogBad, Offset: off, Reason: reason, Resume: next}, nil
}
