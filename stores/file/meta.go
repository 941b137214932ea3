package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zabkit/zabkit/core/ext"
)

const (
	acceptedEpochFile = "acceptedEpoch"
	currentEpochFile  = "currentEpoch"
	// metaFile holds what ZooKeeper has no file for (last vote, db id)
	// plus a copy of the epochs, so that one atomic rename records every
	// field of ext.Meta together. ZooKeeper ignores unknown files in
	// version-2.
	metaFile    = "zabkit.meta"
	metaMagic   = 0x5A424B4D // "ZBKM"
	metaVersion = 1
	// maxVoteLen bounds the vote a meta file may claim to hold.
	maxVoteLen = 1 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// encodeMeta lays out zabkit.meta:
//
//	int magic "ZBKM" | int version 1 | long currentEpoch | long acceptedEpoch
//	| long dbid | int voteLen | byte[voteLen] vote | int crc32c(all before)
func encodeMeta(m ext.Meta) []byte {
	b := make([]byte, 0, 40+len(m.LastVote)+4)
	b = binary.BigEndian.AppendUint32(b, metaMagic)
	b = binary.BigEndian.AppendUint32(b, metaVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(m.CurrentEpoch))
	b = binary.BigEndian.AppendUint64(b, uint64(m.AcceptedEpoch))
	b = binary.BigEndian.AppendUint64(b, uint64(m.DBID))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.LastVote)))
	b = append(b, m.LastVote...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

// decodeMeta parses zabkit.meta, rejecting anything malformed.
func decodeMeta(b []byte) (ext.Meta, error) {
	var m ext.Meta
	const fixed = 4 + 4 + 8 + 8 + 8 + 4
	if len(b) < fixed+4 {
		return m, fmt.Errorf("%w: %s: %d bytes, too short", ext.ErrCorrupt, metaFile, len(b))
	}
	if binary.BigEndian.Uint32(b) != metaMagic {
		return m, fmt.Errorf("%w: %s: bad magic", ext.ErrCorrupt, metaFile)
	}
	if v := binary.BigEndian.Uint32(b[4:]); v != metaVersion {
		return m, fmt.Errorf("%w: %s: unknown version %d", ext.ErrCorrupt, metaFile, v)
	}
	n := int64(binary.BigEndian.Uint32(b[32:]))
	if n > maxVoteLen || int64(len(b)) != fixed+n+4 {
		return m, fmt.Errorf("%w: %s: vote length %d does not fit %d bytes", ext.ErrCorrupt, metaFile, n, len(b))
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return m, fmt.Errorf("%w: %s: checksum mismatch", ext.ErrCorrupt, metaFile)
	}
	m.CurrentEpoch = int64(binary.BigEndian.Uint64(b[8:]))
	m.AcceptedEpoch = int64(binary.BigEndian.Uint64(b[16:]))
	m.DBID = int64(binary.BigEndian.Uint64(b[24:]))
	if n > 0 {
		m.LastVote = append([]byte(nil), b[fixed:fixed+n]...)
	}
	return m, nil
}

// parseEpoch parses ZooKeeper's epoch file: a decimal long. ZooKeeper reads
// the first line, so a trailing newline (hand-edited files) is tolerated.
func parseEpoch(b []byte) (int64, error) {
	s := strings.TrimRight(string(b), "\r\n")
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: epoch file holds %q", ext.ErrCorrupt, s)
	}
	return v, nil
}

func (s *Store) readFileBytes(path string) ([]byte, error) {
	f, err := s.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxVoteLen+64))
}

// readEpoch returns the value of an epoch file, or -1 if it is missing.
func (s *Store) readEpoch(name string) (int64, error) {
	b, err := s.readFileBytes(filepath.Join(s.snapDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store.file: read %s: %w", name, err)
	}
	v, err := parseEpoch(b)
	if err != nil {
		return 0, fmt.Errorf("store.file: %s: %w", name, err)
	}
	return v, nil
}

// LoadMeta implements ext.Store. See the package doc for how zabkit.meta
// and ZooKeeper's epoch files combine.
func (s *Store) LoadMeta() (ext.Meta, error) {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	m := ext.Meta{CurrentEpoch: -1, AcceptedEpoch: -1}
	b, err := s.readFileBytes(filepath.Join(s.snapDir, metaFile))
	switch {
	case err == nil:
		if m, err = decodeMeta(b); err != nil {
			return m, fmt.Errorf("store.file: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return m, fmt.Errorf("store.file: read %s: %w", metaFile, err)
	}
	acc, err := s.readEpoch(acceptedEpochFile)
	if err != nil {
		return m, err
	}
	cur, err := s.readEpoch(currentEpochFile)
	if err != nil {
		return m, err
	}
	m.AcceptedEpoch = max(m.AcceptedEpoch, acc)
	m.CurrentEpoch = max(m.CurrentEpoch, cur)
	return m, nil
}

// SaveMeta implements ext.Store. It always fsyncs, whatever ForceSync says.
// Negative epochs ("unknown") are not written to ZooKeeper's epoch files.
func (s *Store) SaveMeta(m ext.Meta) error {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ext.ErrClosed
	}
	if len(m.LastVote) > maxVoteLen {
		return fmt.Errorf("store.file: last vote of %d bytes is too large", len(m.LastVote))
	}
	if err := s.writeAtomic(metaFile, encodeMeta(m)); err != nil {
		return err
	}
	if err := s.fs.SyncDir(s.snapDir); err != nil {
		return fmt.Errorf("store.file: save meta: %w", err)
	}
	// acceptedEpoch first: a crash between the two leaves
	// accepted >= current, a state ZooKeeper itself passes through.
	wrote := false
	for _, ep := range []struct {
		name string
		v    int64
	}{{acceptedEpochFile, m.AcceptedEpoch}, {currentEpochFile, m.CurrentEpoch}} {
		if ep.v < 0 {
			continue
		}
		old, err := s.readEpoch(ep.name)
		if err == nil && old == ep.v {
			continue
		}
		if err := s.writeAtomic(ep.name, strconv.AppendInt(nil, ep.v, 10)); err != nil {
			return err
		}
		wrote = true
	}
	if wrote {
		if err := s.fs.SyncDir(s.snapDir); err != nil {
			return fmt.Errorf("store.file: save meta: %w", err)
		}
	}
	return nil
}

// writeAtomic replaces snapDir/name by writing name.tmp, fsyncing it and
// renaming it over (ZooKeeper's AtomicFileOutputStream does the same). The
// caller fsyncs the directory.
func (s *Store) writeAtomic(name string, data []byte) error {
	path := filepath.Join(s.snapDir, name)
	tmp := path + ".tmp"
	f, err := s.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("store.file: write %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.fs.Rename(tmp, path)
	}
	if err != nil {
		s.fs.Remove(tmp)
		return fmt.Errorf("store.file: write %s: %w", name, err)
	}
	return nil
}
