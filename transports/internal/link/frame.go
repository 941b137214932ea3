package link

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// ErrFrame means a peer sent a length prefix out of range; the connection
// is dropped, since nothing after it can be trusted.
var ErrFrame = errors.New("link: frame length out of range")

// ElectionFrameMax is QuorumCnxManager's PACKETMAXSIZE: the largest
// election message, 512 KiB.
const ElectionFrameMax = 512 * 1024

// ReadFrame reads one int-length-prefixed frame whose length must be in
// (0, max]. The result is a fresh slice the caller owns.
func ReadFrame(r *bufio.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n <= 0 || int64(n) > int64(max) {
		return nil, fmt.Errorf("%w: %d (limit %d)", ErrFrame, n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// AppendFrame appends int length + payload to dst.
func AppendFrame(dst, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	return append(dst, payload...)
}

// QuorumPacket types the transports look at.
const (
	PktFollowerInfo int32 = 11
	PktSnap         int32 = 15
	PktObserverInfo int32 = 16
)

// PacketType is the type of an encoded QuorumPacket, or -1 when msg is too
// short to have one.
func PacketType(msg []byte) int32 {
	if len(msg) < 4 {
		return -1
	}
	return jute.NewReader(msg[:4]).ReadInt()
}

// IsHello reports whether msg opens a ZAB link: a learner's FOLLOWERINFO
// or OBSERVERINFO. Only such a message may open a broadcast link; anything
// else sent where no link exists is ext.ErrNoRoute, because only a learner
// dials its leader.
func IsHello(msg []byte) bool {
	t := PacketType(msg)
	return t == PktFollowerInfo || t == PktObserverInfo
}
