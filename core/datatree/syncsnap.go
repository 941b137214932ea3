package datatree

import (
	"fmt"
	"io"
)

// SyncSignature ends the SNAP payload. ZooKeeper's LearnerHandler writes
// it after the tree and Learner refuses a payload without it.
const SyncSignature = "BenWasHere"

// DefaultMaxBuffer is ZooKeeper's default jute.maxbuffer.
const DefaultMaxBuffer = 0xfffff

// WriteSyncSnapshot writes the payload a leader streams to a learner after
// QuorumPacket SNAP (spec 6.4), as ZooKeeper's ZKDatabase.serializeSnapshot
// followed by the signature: the sessions, the tree as in the snapshot
// file but with no file header, no checksum seals and no digest trailer,
// then ustring SyncSignature.
//
// The payload must be the state at the SNAP zxid, so the caller keeps
// txns from being applied during the call. The walk still takes the
// tree's locks as WriteSnapshot does, so a mistake there costs exactness,
// never memory safety.
func (t *Tree) WriteSyncSnapshot(w io.Writer, sessions map[int64]int32) error {
	sw := newSnapWriter(w, false)
	defer sw.close()
	writeSessions(sw.buf, sessions)
	if _, _, _, err := t.writeTree(sw); err != nil {
		return err
	}
	sw.buf.WriteString(SyncSignature)
	if err := sw.close(); err != nil {
		return fmt.Errorf("datatree: write sync snapshot: %w", err)
	}
	return nil
}

// ReadSyncSnapshot parses one SNAP payload (see WriteSyncSnapshot) and
// returns the tree and the sessions with their timeouts, with length
// fields bounded as ZooKeeper bounds them with the default jute.maxbuffer
// (see ReadSyncSnapshotLimit).
func ReadSyncSnapshot(r io.Reader) (*Tree, map[int64]int32, error) {
	return ReadSyncSnapshotLimit(r, DefaultMaxBuffer)
}

// ReadSyncSnapshotLimit is ReadSyncSnapshot for a server configured with
// another jute.maxbuffer. Like ZooKeeper's BinaryInputArchive it refuses a
// path, data or ACL string longer than maxBuffer plus max(maxBuffer, 1024),
// so a corrupt length fails at once rather than waiting for bytes the
// leader will never send.
//
// r is a network stream with no end after the payload. The parse reads
// only when it needs bytes the payload must still hold, in the calling
// goroutine, so it returns as soon as the signature has been read, with no
// Read in flight; it never waits for later bytes. A Read may return more
// than the payload's remainder if r has it already; a chunkio.Reader fed
// each payload in chunks of its own never does (its Reads stop at chunk
// boundaries). Closing r unblocks a parse stuck on a stalled leader.
//
// The tree's digest is computed from the loaded nodes and LastZxid is the
// highest zxid in them: the caller sets the SNAP zxid with SetLastZxid.
// A malformed payload (bad counts, lengths or paths, a wrong signature, or
// the stream ending early) gives an error wrapping ErrCorrupt; a failing
// Read gives its error. maxBuffer <= 0 means DefaultMaxBuffer.
func ReadSyncSnapshotLimit(r io.Reader, maxBuffer int) (*Tree, map[int64]int32, error) {
	if maxBuffer <= 0 {
		maxBuffer = DefaultMaxBuffer
	}
	l := newLoader(r, true, maxBuffer+max(maxBuffer, 1024))
	defer l.close()
	sessions, b, err := readBody(l)
	if err != nil {
		return nil, nil, err
	}
	sums := l.sums()
	// Check the signature's length before reading it: a wrong one must
	// not make the parse wait for bytes that may never come.
	n := l.int("signature length")
	if l.err == nil && n != int32(len(SyncSignature)) {
		l.fail("signature length %d, want %d", n, len(SyncSignature))
	}
	if l.err != nil {
		return nil, nil, l.err
	}
	var ok bool
	if l.pos, ok = l.need(l.pos, len(SyncSignature), "signature"); !ok {
		return nil, nil, l.err
	}
	if sig := string(l.cur.buf[l.pos : l.pos+len(SyncSignature)]); sig != SyncSignature {
		l.fail("signature %q, want %q", sig, SyncSignature)
		return nil, nil, l.err
	}
	l.pos += len(SyncSignature)
	b.finish(sums.digest)
	return b.t, sessions, nil
}
