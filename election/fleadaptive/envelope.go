package fleadaptive

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/election/fle"
)

// magic opens every message of this variant. An FLE notification starts
// with its state (0–3), so neither algorithm mistakes the other's
// messages for its own: FLE drops a state it does not know, and Decode
// here refuses anything without the magic.
const magic uint32 = 0x7a6b6641 // "zkfA"

// envelopeSize is the clock header in front of the FLE notification.
const envelopeSize = 4 + 4 + 8 + 4 + 8 + 8 + 8

// Envelope is an FLE notification with the sender's clock attached, the
// way TCP's timestamp option carries one (RFC 7323): the receiver echoes
// the newest timestamp it got from a peer, with how long it held it, so
// the peer measures a round trip on its own clock alone.
type Envelope struct {
	// Nonce identifies the sender's instance; a restarted instance picks
	// a new one, so an echo of its previous life's clock is never taken
	// for a sample. Never 0.
	Nonce uint32
	Sent  time.Duration // the sender's clock when it sent this
	// EchoNonce is the receiver's Nonce as last heard (0: nothing to
	// echo); Echo is the receiver's Sent from then, and Held how long the
	// sender kept it before this message.
	EchoNonce uint32
	Echo      time.Duration
	Held      time.Duration
	// RTO is the sender's estimate for the round trip between the two
	// (srtt + 4·rttvar; 0: none yet). A server that has no sample of its
	// own for a peer uses it: round trips are the same both ways, and FLE
	// exchanges too few messages for every pair to measure its own.
	RTO time.Duration
	// Notification is the FLE notification in ZooKeeper's encoding.
	Notification []byte
}

// Encode returns e in the variant's wire format: magic | nonce | sent |
// echoNonce | echo | held | rto (big-endian) | the FLE notification.
func (e Envelope) Encode() []byte {
	b := make([]byte, envelopeSize, envelopeSize+len(e.Notification))
	binary.BigEndian.PutUint32(b[0:], magic)
	binary.BigEndian.PutUint32(b[4:], e.Nonce)
	binary.BigEndian.PutUint64(b[8:], uint64(e.Sent))
	binary.BigEndian.PutUint32(b[16:], e.EchoNonce)
	binary.BigEndian.PutUint64(b[20:], uint64(e.Echo))
	binary.BigEndian.PutUint64(b[28:], uint64(e.Held))
	binary.BigEndian.PutUint64(b[36:], uint64(e.RTO))
	return append(b, e.Notification...)
}

// Decode parses a message of this variant and checks the notification
// inside it. Anything else, an FLE notification from a peer running plain
// FLE included, is ext.ErrBadNotification.
func Decode(b []byte) (Envelope, fle.Notification, error) {
	if len(b) < envelopeSize || binary.BigEndian.Uint32(b) != magic {
		return Envelope{}, fle.Notification{}, fmt.Errorf("%w: not an fleadaptive message (%d bytes)", ext.ErrBadNotification, len(b))
	}
	e := Envelope{
		Nonce:        binary.BigEndian.Uint32(b[4:]),
		Sent:         time.Duration(binary.BigEndian.Uint64(b[8:])),
		EchoNonce:    binary.BigEndian.Uint32(b[16:]),
		Echo:         time.Duration(binary.BigEndian.Uint64(b[20:])),
		Held:         time.Duration(binary.BigEndian.Uint64(b[28:])),
		RTO:          time.Duration(binary.BigEndian.Uint64(b[36:])),
		Notification: b[envelopeSize:],
	}
	if e.Nonce == 0 {
		return Envelope{}, fle.Notification{}, fmt.Errorf("%w: zero nonce", ext.ErrBadNotification)
	}
	n, err := fle.Decode(e.Notification)
	if err != nil {
		return Envelope{}, fle.Notification{}, err
	}
	return e, n, nil
}
