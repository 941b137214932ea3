package tcp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// snapSignature ends the snapshot a leader streams after SNAP.
const snapSignature = "BenWasHere"

// statPersistedSize is StatPersisted{long czxid, mzxid, ctime, mtime; int
// version, cversion, aversion; long ephemeralOwner, pzxid}.
const statPersistedSize = 6*8 + 3*4

// snapScanner finds where the snapshot that follows a SNAP packet ends.
// The quorum port writes it raw between two QuorumPackets, with no length
// anywhere, so the only way to find the next packet is to walk the
// structure (spec 6.4):
//
//	int n; n × {long session; int timeout}
//	int nAcl; nAcl × {long key; vector<ACL{int perms; ustring scheme; ustring id}>}
//	node* {ustring path; buffer data; long aclKey; StatPersisted}, until path "/"
//	ustring "BenWasHere"
//
// It only counts bytes: nothing is decoded into memory, and every byte it
// consumes is passed on in chunks of at most `chunk` bytes (ChanBulk
// messages, which the kernel parses for real). Memory stays bounded by the
// chunk size whatever the counts claim.
type snapScanner struct {
	r      *bufio.Reader
	maxBuf int
	chunk  int
	emit   func([]byte)
	out    []byte
	n      int64
	small  [16]byte
}

// scanSnapshot consumes one snapshot stream from r, passing its bytes to
// emit in chunks, and returns the number of bytes consumed.
func scanSnapshot(r *bufio.Reader, maxBuf, chunk int, emit func([]byte)) (int64, error) {
	s := &snapScanner{r: r, maxBuf: maxBuf, chunk: chunk, emit: emit}
	err := s.scan()
	s.flush()
	return s.n, err
}

func (s *snapScanner) scan() error {
	sessions, err := s.count("sessions")
	if err != nil {
		return err
	}
	for range sessions {
		if _, err := s.fixed(12); err != nil {
			return err
		}
	}
	acls, err := s.count("acl cache")
	if err != nil {
		return err
	}
	for range acls {
		if _, err := s.fixed(8); err != nil {
			return err
		}
		// Java's ReferenceCountedACLCache refuses a null list here.
		n, err := s.count("acl list")
		if err != nil {
			return err
		}
		for range n {
			if _, err := s.fixed(4); err != nil {
				return err
			}
			if _, err := s.blob("acl scheme", true); err != nil {
				return err
			}
			if _, err := s.blob("acl id", true); err != nil {
				return err
			}
		}
	}
	for {
		// A null path would make Java fail on it too.
		path, err := s.blob("path", false)
		if err != nil {
			return err
		}
		if bytes.Equal(path, []byte("/")) {
			break
		}
		if _, err := s.blob("data", true); err != nil {
			return err
		}
		if _, err := s.fixed(8 + statPersistedSize); err != nil {
			return err
		}
	}
	sig, err := s.blob("signature", false)
	if err != nil {
		return err
	}
	if string(sig) != snapSignature {
		return fmt.Errorf("%w: snapshot signature %q", errStream, sig)
	}
	return nil
}

// fixed passes on n bytes (n <= 68) and returns them.
func (s *snapScanner) fixed(n int) ([]byte, error) {
	s.room(n)
	start := len(s.out)
	s.out = append(s.out, make([]byte, n)...)
	if _, err := io.ReadFull(s.r, s.out[start:]); err != nil {
		s.out = s.out[:start]
		return nil, unexpected(err)
	}
	s.n += int64(n)
	return s.out[start:], nil
}

// count reads a non-negative element count.
func (s *snapScanner) count(what string) (int32, error) {
	b, err := s.fixed(4)
	if err != nil {
		return 0, err
	}
	n := jute.NewReader(b).ReadInt()
	if n < 0 {
		return 0, fmt.Errorf("%w: %s count %d", errStream, what, n)
	}
	return n, nil
}

// blob passes on a length-prefixed buffer or string. It returns the bytes
// when they are short enough to matter to the parser (a path that may be
// "/", the signature), nil otherwise.
func (s *snapScanner) blob(what string, nullOK bool) ([]byte, error) {
	b, err := s.fixed(4)
	if err != nil {
		return nil, err
	}
	l := jute.NewReader(b).ReadInt()
	if err := checkLen(l, s.maxBuf, nullOK, what); err != nil {
		return nil, err
	}
	if l <= int32(len(s.small)) {
		if l <= 0 {
			return nil, nil
		}
		b, err := s.fixed(int(l))
		if err != nil {
			return nil, err
		}
		copy(s.small[:], b)
		return s.small[:l], nil
	}
	for left := int(l); left > 0; {
		s.room(1)
		k := min(left, s.chunk-len(s.out))
		start := len(s.out)
		s.out = append(s.out, make([]byte, k)...)
		if _, err := io.ReadFull(s.r, s.out[start:]); err != nil {
			s.out = s.out[:start]
			return nil, unexpected(err)
		}
		s.n += int64(k)
		left -= k
	}
	return nil, nil
}

// room flushes the current chunk unless n more bytes fit in it.
func (s *snapScanner) room(n int) {
	if len(s.out)+n > s.chunk && len(s.out) > 0 {
		s.flush()
	}
	if s.out == nil {
		s.out = make([]byte, 0, max(s.chunk, n))
	}
}

func (s *snapScanner) flush() {
	if len(s.out) > 0 {
		s.emit(s.out)
	}
	s.out = nil
}
