package bully

import (
	"encoding/binary"
	"fmt"

	"github.com/zabkit/zabkit/core/ext"
)

// kind says what a message is for.
type kind uint8

const (
	// hello announces the sender's credentials in its round. A looking
	// server sends it when it enters a round and again while the round
	// lasts; a leader answers it with elected.
	hello kind = 1 + iota
	// propose asks the voters of the round to accept the sender as leader.
	propose
	// ack accepts a proposal (leader = the candidate). A voter acks at
	// most one candidate per round, and persists that before it says so.
	ack
	// elected says the sender leads: leader, zxid and peerEpoch are its
	// decided vote, round the round it won.
	elected
)

// magic opens every message, so messages of another algorithm (FLE
// notifications, say, after an operator switched modules on some
// servers) are dropped instead of misread.
const magic uint32 = 0x7a6b424c // "zkBL"

// msgLen is the fixed size of a message: magic, kind, state, round, the
// sender's epoch and zxid, and a vote (leader, zxid, peer epoch).
const msgLen = 4 + 1 + 1 + 8*6

// maxRound bounds a believable round: rounds count elections, so one this
// high is a corrupted message, and refusing it keeps round+1 from
// overflowing.
const maxRound = 1 << 48

// message is one election message.
type message struct {
	kind  kind
	state ext.PeerState // the sender's
	round int64
	cred  cred     // the sender's own credentials
	vote  ext.Vote // elected: the decided vote; ack: Leader is the candidate
}

func (m message) encode() []byte {
	b := make([]byte, 0, msgLen)
	b = binary.BigEndian.AppendUint32(b, magic)
	b = append(b, byte(m.kind), byte(m.state))
	for _, v := range []int64{m.round, m.cred.epoch, m.cred.zxid, m.vote.Leader, m.vote.Zxid, m.vote.PeerEpoch} {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return b
}

// decode parses a message; anything malformed is ext.ErrBadNotification.
func decode(b []byte) (message, error) {
	if len(b) != msgLen || binary.BigEndian.Uint32(b) != magic {
		return message{}, fmt.Errorf("%w: %d bytes", ext.ErrBadNotification, len(b))
	}
	m := message{kind: kind(b[4]), state: ext.PeerState(b[5])}
	if m.kind < hello || m.kind > elected || m.state < ext.Looking || m.state > ext.Observing {
		return message{}, fmt.Errorf("%w: kind %d state %d", ext.ErrBadNotification, b[4], b[5])
	}
	var v [6]int64
	for i := range v {
		v[i] = int64(binary.BigEndian.Uint64(b[6+8*i:]))
	}
	m.round, m.cred = v[0], cred{epoch: v[1], zxid: v[2]}
	m.vote = ext.Vote{Leader: v[3], Zxid: v[4], PeerEpoch: v[5], ElectionEpoch: m.round}
	if m.round < 0 || m.round > maxRound {
		return message{}, fmt.Errorf("%w: round %d", ext.ErrBadNotification, m.round)
	}
	return m, nil
}

// record is the persisted vote: the last round this server acked a
// candidate in, and whom. A restarted server starts past that round, so
// it can never ack twice in one round.
type record struct {
	round int64
	acked int64
}

const recordLen = 4 + 8 + 8

func (r record) encode() []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, recordLen), magic)
	b = binary.BigEndian.AppendUint64(b, uint64(r.round))
	return binary.BigEndian.AppendUint64(b, uint64(r.acked))
}

// decodeRecord reads a persisted vote; a vote some other algorithm
// persisted (or none) reads as round 0.
func decodeRecord(b []byte) record {
	if len(b) != recordLen || binary.BigEndian.Uint32(b) != magic {
		return record{}
	}
	r := record{round: int64(binary.BigEndian.Uint64(b[4:])), acked: int64(binary.BigEndian.Uint64(b[12:]))}
	if r.round < 0 || r.round > maxRound {
		return record{}
	}
	return r
}
