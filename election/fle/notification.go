package fle

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/zabkit/zabkit/core/ext"
)

// Sizes of the notification formats ZooKeeper has used. Every form starts
// with state, leader, zxid and election epoch; later versions append.
const (
	// legacySize28 predates peerEpoch (before ZOOKEEPER-107): the epoch is
	// taken from the zxid's high half.
	legacySize28 = 28
	// legacySize40 carries peerEpoch and a version field that receivers
	// ignore: it is read as version 0.
	legacySize40 = 40
	// headerSize is the version-2 header before the config text.
	headerSize = 44

	// CurrentVersion is the format version this package sends (3.4.6+:
	// the ensemble's config text follows the header).
	CurrentVersion = 2
)

// Notification is one FLE message: a server's vote and its state. It is
// exported so election variants and tests speak the same wire format.
type Notification struct {
	State         ext.PeerState
	Leader        int64 // proposed leader sid
	Zxid          int64 // proposed leader's last zxid
	ElectionEpoch int64 // the sender's round (logical clock), or the round it won
	PeerEpoch     int64 // proposed leader's current epoch
	// Version is the format version as received: 0 for the 28- and 40-byte
	// forms, else the header's field. Encode always writes CurrentVersion.
	Version int32
	// Config is the sender's membership text, present from version 2 on.
	Config []byte
}

// Vote is the notification's vote.
func (n Notification) Vote() ext.Vote {
	return ext.Vote{Leader: n.Leader, Zxid: n.Zxid, ElectionEpoch: n.ElectionEpoch, PeerEpoch: n.PeerEpoch}
}

// Encode returns n in the current (version 2) format, 44 + len(Config)
// bytes, big-endian like Java's ByteBuffer.
func (n Notification) Encode() []byte {
	b := make([]byte, headerSize, headerSize+len(n.Config))
	binary.BigEndian.PutUint32(b[0:], uint32(n.State))
	binary.BigEndian.PutUint64(b[4:], uint64(n.Leader))
	binary.BigEndian.PutUint64(b[12:], uint64(n.Zxid))
	binary.BigEndian.PutUint64(b[20:], uint64(n.ElectionEpoch))
	binary.BigEndian.PutUint64(b[28:], uint64(n.PeerEpoch))
	binary.BigEndian.PutUint32(b[36:], CurrentVersion)
	binary.BigEndian.PutUint32(b[40:], uint32(len(n.Config)))
	return append(b, n.Config...)
}

// Decode parses any notification format ZooKeeper has sent. Java reads the
// form from the message length: exactly 28 or 40 bytes are the legacy
// forms, anything else is versioned and from version 2 on carries a
// length-prefixed config text. Trailing bytes are ignored, as Java does.
// A message too short for the form its length and version imply (which
// kills Java's receiver thread) is ext.ErrBadNotification here.
//
// State is returned as sent, even when it is no known state: a receiver
// still answers a non-voter before it drops the message.
func Decode(b []byte) (Notification, error) {
	if len(b) < legacySize28 {
		return Notification{}, fmt.Errorf("%w: %d bytes, want at least %d", ext.ErrBadNotification, len(b), legacySize28)
	}
	n := Notification{
		State:         ext.PeerState(int32(binary.BigEndian.Uint32(b[0:]))),
		Leader:        int64(binary.BigEndian.Uint64(b[4:])),
		Zxid:          int64(binary.BigEndian.Uint64(b[12:])),
		ElectionEpoch: int64(binary.BigEndian.Uint64(b[20:])),
	}
	if len(b) == legacySize28 {
		n.PeerEpoch = n.Zxid >> 32
		return n, nil
	}
	if len(b) < legacySize40 {
		return Notification{}, fmt.Errorf("%w: %d bytes cut inside the peer epoch or version", ext.ErrBadNotification, len(b))
	}
	n.PeerEpoch = int64(binary.BigEndian.Uint64(b[28:]))
	if len(b) == legacySize40 {
		return n, nil
	}
	n.Version = int32(binary.BigEndian.Uint32(b[36:]))
	if n.Version <= 1 {
		return n, nil
	}
	if len(b) < headerSize {
		return Notification{}, fmt.Errorf("%w: version %d, %d bytes cut inside the config length", ext.ErrBadNotification, n.Version, len(b))
	}
	size := int32(binary.BigEndian.Uint32(b[40:]))
	if size < 0 || int64(size) > int64(len(b)-headerSize) {
		return Notification{}, fmt.Errorf("%w: config length %d, %d bytes follow", ext.ErrBadNotification, size, len(b)-headerSize)
	}
	if size > 0 {
		n.Config = slices.Clone(b[headerSize : headerSize+int(size)])
	}
	return n, nil
}

// ConfigText renders the membership the way ZooKeeper's QuorumMaj does in
// every notification: one `server.N=<spec>` line per member in id order,
// then `version=<hex>`. Java parses it on receipt and reconfigures only if
// the version is newer than its own, so zabkit sends version 0 (it does
// not support reconfig). With any member's Spec unknown it returns nil
// (an empty config): a partial membership would be wrong, and Java
// ignores an empty one unless it runs with standaloneEnabled=false.
func ConfigText(members []ext.Member) []byte {
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b ext.Member) int { return cmp.Compare(a.ID, b.ID) })
	var sb strings.Builder
	for _, m := range sorted {
		if m.Spec == "" {
			return nil
		}
		fmt.Fprintf(&sb, "server.%d=%s\n", m.ID, m.Spec)
	}
	if sb.Len() == 0 {
		return nil
	}
	sb.WriteString("version=0")
	return []byte(sb.String())
}

// minVote is what a non-voter proposes: Long.MIN_VALUE for leader, zxid
// and epoch, so that any voter's vote beats it and nobody adopts it.
const minVote = math.MinInt64
