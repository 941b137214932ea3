package yamux

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/transports/internal/link"
)

// The zabkit handshake runs on the raw TCP connection before yamux starts,
// so a peer that runs another election algorithm or protocol version is
// refused before any stream exists: never half-joined.
//
//	hello  (dialler → acceptor): int magic "ZBKY"; long protocolVersion;
//	        ustring electionAlgorithm; long senderSid; long targetSid;
//	        long incarnation
//	answer (acceptor → dialler): int magic; int status; long sid;
//	        long protocolVersion; ustring electionAlgorithm; ustring reason;
//	        long incarnation
//
// Each is one int-length-prefixed frame of at most maxHandshake bytes.
//
// incarnation is random per transport start, so the larger sid can tell
// that a poke comes from a restarted peer: its session to that peer is
// dead even if no FIN arrived yet.
const (
	magic        int32 = 0x5A424B59 // "ZBKY"
	maxHandshake       = 4096
)

// Answer statuses.
const (
	statusAccept   int32 = 0
	statusDialBack int32 = 1 // you are the smaller sid: I will dial you
	statusRefused  int32 = 2
)

// errHandshake means the bytes were not a zabkit handshake (garbage, or
// another protocol): the connection is dropped without an answer.
var errHandshake = errors.New("yamux: not a zabkit handshake")

type hello struct {
	ProtocolVersion   int64
	ElectionAlgorithm string
	Sender, Target    int64
	Incarnation       int64
}

func (h *hello) Encode(w *jute.Writer) {
	w.WriteInt(magic)
	w.WriteLong(h.ProtocolVersion)
	w.WriteString(h.ElectionAlgorithm)
	w.WriteLong(h.Sender)
	w.WriteLong(h.Target)
	w.WriteLong(h.Incarnation)
}

func (h *hello) Decode(r *jute.Reader) {
	if r.ReadInt() != magic {
		r.Fail(errHandshake)
	}
	h.ProtocolVersion = r.ReadLong()
	h.ElectionAlgorithm = r.ReadString()
	h.Sender = r.ReadLong()
	h.Target = r.ReadLong()
	h.Incarnation = r.ReadLong()
}

type answer struct {
	Status            int32
	Sid               int64
	ProtocolVersion   int64
	ElectionAlgorithm string
	Reason            string
	Incarnation       int64
}

func (a *answer) Encode(w *jute.Writer) {
	w.WriteInt(magic)
	w.WriteInt(a.Status)
	w.WriteLong(a.Sid)
	w.WriteLong(a.ProtocolVersion)
	w.WriteString(a.ElectionAlgorithm)
	w.WriteString(a.Reason)
	w.WriteLong(a.Incarnation)
}

func (a *answer) Decode(r *jute.Reader) {
	if r.ReadInt() != magic {
		r.Fail(errHandshake)
	}
	a.Status = r.ReadInt()
	a.Sid = r.ReadLong()
	a.ProtocolVersion = r.ReadLong()
	a.ElectionAlgorithm = r.ReadString()
	a.Reason = r.ReadString()
	a.Incarnation = r.ReadLong()
}

func writeRecord(w io.Writer, rec jute.Record) error {
	_, err := w.Write(link.AppendFrame(nil, jute.Marshal(rec)))
	return err
}

func readRecord(r *bufio.Reader, rec jute.Record) error {
	b, err := link.ReadFrame(r, maxHandshake)
	if err != nil {
		if errors.Is(err, link.ErrFrame) {
			return fmt.Errorf("%w: %w", errHandshake, err)
		}
		return err
	}
	if err := jute.UnmarshalExact(b, rec); err != nil {
		return fmt.Errorf("%w: %w", errHandshake, err)
	}
	return nil
}

// mismatch explains why two servers cannot join, or returns "".
func mismatch(ourVersion, theirVersion int64, ourAlg, theirAlg string) string {
	switch {
	case ourVersion != theirVersion:
		return fmt.Sprintf("protocol version %d, ours is %d", theirVersion, ourVersion)
	case ourAlg != theirAlg:
		return fmt.Sprintf("election algorithm %q, ours is %q", theirAlg, ourAlg)
	}
	return ""
}
