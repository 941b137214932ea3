package raftprevote

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zabkit/zabkit/core/ext"
)

// Kind is what a message asks or answers.
type Kind uint8

const (
	// KindPreVote asks "would you vote for me in term Ask?" without
	// anyone changing term (Ongaro's thesis, §9.6). From a non-voter it is
	// only a question for the leader, which answers with KindLeader.
	KindPreVote Kind = 1 + iota
	KindPreVoteReply
	// KindVote is Raft's RequestVote for term Ask (= the sender's term).
	KindVote
	KindVoteReply
	// KindLeader says the sender leads (State LEADING): Vote is the
	// decided vote, Vote.ElectionEpoch the term it won. It goes to every
	// member when a candidate wins, and answers any request a leader gets.
	KindLeader
)

// magic opens every message. An FLE notification starts with its state
// (0–3) and an fleadaptive one with other bytes, so no two algorithms
// read each other's messages.
const magic uint32 = 0x7a6b5256 // "zkRV"

const msgSize = 4 + 1 + 1 + 4 + 8 + 8 + 4*8

// flags
const (
	flagGranted     = 1 << 0
	flagEstablished = 1 << 1
)

// Message is one election message of this algorithm.
type Message struct {
	Kind  Kind
	State ext.PeerState // the sender's state
	Term  int64         // the sender's current term
	// Ask is the term a request is about, echoed by its reply so a reply
	// to an older attempt is not counted.
	Ask int64
	// Granted answers a request.
	Granted bool
	// Established: the leader finished discovery (KindLeader).
	Established bool
	// Vote is the sender's history in requests (Leader = the sender, Zxid
	// and PeerEpoch = its last zxid and current epoch), the decided vote
	// in KindLeader, and unused in replies.
	Vote ext.Vote
}

// Encode returns m as msgSize bytes: magic | kind | flags | state |
// term | ask | leader | zxid | electionEpoch | peerEpoch, big-endian.
func (m Message) Encode() []byte {
	b := make([]byte, msgSize)
	binary.BigEndian.PutUint32(b[0:], magic)
	b[4] = byte(m.Kind)
	if m.Granted {
		b[5] |= flagGranted
	}
	if m.Established {
		b[5] |= flagEstablished
	}
	binary.BigEndian.PutUint32(b[6:], uint32(m.State))
	binary.BigEndian.PutUint64(b[10:], uint64(m.Term))
	binary.BigEndian.PutUint64(b[18:], uint64(m.Ask))
	binary.BigEndian.PutUint64(b[26:], uint64(m.Vote.Leader))
	binary.BigEndian.PutUint64(b[34:], uint64(m.Vote.Zxid))
	binary.BigEndian.PutUint64(b[42:], uint64(m.Vote.ElectionEpoch))
	binary.BigEndian.PutUint64(b[50:], uint64(m.Vote.PeerEpoch))
	return b
}

// Decode parses a message; anything that is not exactly one of this
// algorithm's messages is ext.ErrBadNotification.
func Decode(b []byte) (Message, error) {
	if len(b) != msgSize || binary.BigEndian.Uint32(b) != magic {
		return Message{}, fmt.Errorf("%w: not a raftprevote message (%d bytes)", ext.ErrBadNotification, len(b))
	}
	m := Message{
		Kind:        Kind(b[4]),
		Granted:     b[5]&flagGranted != 0,
		Established: b[5]&flagEstablished != 0,
		State:       ext.PeerState(int32(binary.BigEndian.Uint32(b[6:]))),
		Term:        int64(binary.BigEndian.Uint64(b[10:])),
		Ask:         int64(binary.BigEndian.Uint64(b[18:])),
		Vote: ext.Vote{
			Leader:        int64(binary.BigEndian.Uint64(b[26:])),
			Zxid:          int64(binary.BigEndian.Uint64(b[34:])),
			ElectionEpoch: int64(binary.BigEndian.Uint64(b[42:])),
			PeerEpoch:     int64(binary.BigEndian.Uint64(b[50:])),
		},
	}
	switch {
	case m.Kind < KindPreVote || m.Kind > KindLeader:
		return Message{}, fmt.Errorf("%w: kind %d", ext.ErrBadNotification, m.Kind)
	case b[5]&^(flagGranted|flagEstablished) != 0:
		return Message{}, fmt.Errorf("%w: flags %#x", ext.ErrBadNotification, b[5])
	case m.State < ext.Looking || m.State > ext.Observing:
		return Message{}, fmt.Errorf("%w: state %d", ext.ErrBadNotification, m.State)
	case m.Term < 0 || m.Ask < 0:
		return Message{}, fmt.Errorf("%w: negative term", ext.ErrBadNotification)
	}
	return m, nil
}

// ErrBadRecord is returned by DecodeRecord for bytes that are not a
// persisted record; Start then starts from term 0, which is safe only
// because the record is written before any vote leaves (the host
// persists PersistVote before it sends).
var ErrBadRecord = errors.New("raftprevote: malformed persisted vote")

const (
	recordFormat = 0x52 // 'R'
	recordSize   = 1 + 8 + 8 + 1
)

// Record is Raft's persistent state: the current term and the vote cast
// in it.
type Record struct {
	Term     int64
	Voted    bool
	VotedFor int64
}

// Encode returns r as format | term | votedFor | voted.
func (r Record) Encode() []byte {
	b := make([]byte, recordSize)
	b[0] = recordFormat
	binary.BigEndian.PutUint64(b[1:], uint64(r.Term))
	binary.BigEndian.PutUint64(b[9:], uint64(r.VotedFor))
	if r.Voted {
		b[17] = 1
	}
	return b
}

// DecodeRecord parses a record written by Record.Encode.
func DecodeRecord(b []byte) (Record, error) {
	if len(b) != recordSize || b[0] != recordFormat || b[17] > 1 {
		return Record{}, fmt.Errorf("%w: %d bytes", ErrBadRecord, len(b))
	}
	r := Record{Term: int64(binary.BigEndian.Uint64(b[1:])), VotedFor: int64(binary.BigEndian.Uint64(b[9:])), Voted: b[17] == 1}
	if r.Term < 0 {
		return Record{}, fmt.Errorf("%w: term %d", ErrBadRecord, r.Term)
	}
	return r, nil
}
