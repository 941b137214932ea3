package fle

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zabkit/zabkit/core/ext"
)

// ErrBadVoteRecord is returned by DecodeVote for bytes that are not a vote
// record. Start ignores such a LastVote: a lost round number only costs
// catching up with the peers' rounds.
var ErrBadVoteRecord = errors.New("fle: malformed persisted vote")

const (
	voteRecordFormat = 1
	voteRecordSize   = 1 + 4 + 4*8
)

// EncodeVote is the record FLE hands the host to persist
// (ElectionOutput.PersistVote) whenever its state or vote changes:
//
//	byte format (1) | int32 state | int64 leader | int64 zxid |
//	int64 electionEpoch (the round) | int64 peerEpoch
//
// big-endian. ZooKeeper keeps none of this on disk; zabkit keeps it so a
// restarted server resumes at its old round instead of below every peer.
func EncodeVote(state ext.PeerState, v ext.Vote) []byte {
	b := make([]byte, voteRecordSize)
	b[0] = voteRecordFormat
	binary.BigEndian.PutUint32(b[1:], uint32(state))
	binary.BigEndian.PutUint64(b[5:], uint64(v.Leader))
	binary.BigEndian.PutUint64(b[13:], uint64(v.Zxid))
	binary.BigEndian.PutUint64(b[21:], uint64(v.ElectionEpoch))
	binary.BigEndian.PutUint64(b[29:], uint64(v.PeerEpoch))
	return b
}

// DecodeVote parses a record written by EncodeVote.
func DecodeVote(b []byte) (ext.PeerState, ext.Vote, error) {
	if len(b) != voteRecordSize || b[0] != voteRecordFormat {
		return 0, ext.Vote{}, fmt.Errorf("%w: %d bytes", ErrBadVoteRecord, len(b))
	}
	state := ext.PeerState(int32(binary.BigEndian.Uint32(b[1:])))
	if state < ext.Looking || state > ext.Observing {
		return 0, ext.Vote{}, fmt.Errorf("%w: state %d", ErrBadVoteRecord, state)
	}
	return state, ext.Vote{
		Leader:        int64(binary.BigEndian.Uint64(b[5:])),
		Zxid:          int64(binary.BigEndian.Uint64(b[13:])),
		ElectionEpoch: int64(binary.BigEndian.Uint64(b[21:])),
		PeerEpoch:     int64(binary.BigEndian.Uint64(b[29:])),
	}, nil
}
