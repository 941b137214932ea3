package transporttest

import (
	"fmt"
	"math/rand/v2"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// QuorumPacket types the kit sends. Broadcast messages are real encoded
// QuorumPackets because transport.tcp frames the quorum port by parsing
// them, as ZooKeeper does.
const (
	PktPing         int32 = 5
	PktNewLeader    int32 = 10
	PktFollowerInfo int32 = 11
	PktSnap         int32 = 15
	PktObserverInfo int32 = 16
)

// Packet encodes a QuorumPacket.
func Packet(typ int32, zxid int64, data []byte) []byte {
	return jute.Marshal(&jute.QuorumPacket{Type: typ, Zxid: zxid, Data: data})
}

// Hello is a learner's FOLLOWERINFO, the message that opens a ZAB link.
func Hello(sid int64) []byte {
	return Packet(PktFollowerInfo, 0, jute.Marshal(&jute.LearnerInfo{ServerID: sid, ProtocolVersion: 0x10000}))
}

// Decode decodes a QuorumPacket or fails the caller with the reason.
func Decode(b []byte) (jute.QuorumPacket, error) {
	var qp jute.QuorumPacket
	err := jute.UnmarshalExact(b, &qp)
	return qp, err
}

// Ping is a PING whose zxid is seq and whose data is n bytes derived from
// seq, so a receiver can check both order and content.
func Ping(seq int64, n int) []byte {
	return Packet(PktPing, seq, Payload(seq, n))
}

// Payload is n bytes derived from seq.
func Payload(seq int64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seq*7 + int64(i))
	}
	return b
}

// Vote is an election message carrying seq; its length is n (>= 8).
func Vote(seq int64, n int) []byte {
	w := jute.NewWriter(make([]byte, 0, n))
	w.WriteLong(seq)
	w.WriteRaw(Payload(seq, max(n-8, 0)))
	return w.Bytes()
}

// VoteSeq returns the seq of a Vote.
func VoteSeq(b []byte) int64 {
	if len(b) < 8 {
		return -1
	}
	return jute.NewReader(b).ReadLong()
}

// SnapStream returns the bytes a leader streams after SNAP (spec 6.4):
// sessions, the ACL cache, nodes in pre-order ending with "/", and the
// "BenWasHere" signature. Node data sizes are drawn from [0, maxData].
func SnapStream(seed uint64, nodes, maxData int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	w := jute.NewWriter(nil)
	w.WriteInt(3)
	for i := range 3 {
		w.WriteLong(0x1000 + int64(i))
		w.WriteInt(30000)
	}
	w.WriteInt(1) // one ACL list: world:anyone, all perms
	w.WriteLong(1)
	w.WriteInt(1)
	w.WriteInt(31)
	w.WriteString("world")
	w.WriteString("anyone")
	node := func(path string, data []byte, acl int64) {
		w.WriteString(path)
		w.WriteBuffer(data)
		w.WriteLong(acl)
		for range 4 { // czxid, mzxid, ctime, mtime
			w.WriteLong(rng.Int64())
		}
		for range 3 { // version, cversion, aversion
			w.WriteInt(rng.Int32())
		}
		w.WriteLong(0) // ephemeralOwner
		w.WriteLong(rng.Int64())
	}
	node("", nil, -1)
	node("/zookeeper", nil, -1)
	node("/zookeeper/quota", nil, -1)
	for i := range nodes {
		node(fmt.Sprintf("/n%06d", i), Payload(int64(i), rng.IntN(maxData+1)), 1)
	}
	w.WriteString("/")
	w.WriteString("BenWasHere")
	return w.Bytes()
}

// Junk returns byte strings no transport may accept: one looks like a
// QuorumCnxManager handshake with an absurd address length, one like a
// FOLLOWERINFO with an absurd data length, others are noise. None starts
// with a long that is a plausible sid: a ZooKeeper election port takes a
// non-negative first long for a pre-3.5 server's bare sid.
func Junk() [][]byte {
	w := jute.NewWriter(nil)
	w.WriteLong(-65536)
	w.WriteLong(3)
	w.WriteInt(1 << 30)
	handshake := w.Bytes()

	w = jute.NewWriter(nil)
	w.WriteInt(PktFollowerInfo)
	w.WriteLong(0)
	w.WriteInt(1 << 30)
	packet := w.Bytes()

	ff := make([]byte, 64)
	for i := range ff {
		ff[i] = 0xff
	}
	rng := rand.New(rand.NewPCG(7, 7))
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	noise[0] = 0xab
	return [][]byte{handshake, packet, ff, noise}
}
