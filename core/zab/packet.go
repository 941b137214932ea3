package zab

import (
	"errors"
	"fmt"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// QuorumPacket types (Leader.java's constants; the numbers are the wire).
const (
	TypeRequest           int32 = 1
	TypeProposal          int32 = 2
	TypeAck               int32 = 3
	TypeCommit            int32 = 4
	TypePing              int32 = 5
	TypeRevalidate        int32 = 6
	TypeSync              int32 = 7
	TypeInform            int32 = 8
	TypeCommitAndActivate int32 = 9
	TypeNewLeader         int32 = 10
	TypeFollowerInfo      int32 = 11
	TypeUpToDate          int32 = 12
	TypeDiff              int32 = 13
	TypeTrunc             int32 = 14
	TypeSnap              int32 = 15
	TypeObserverInfo      int32 = 16
	TypeLeaderInfo        int32 = 17
	TypeAckEpoch          int32 = 18
	TypeInformAndActivate int32 = 19
)

// ProtocolVersion is the learner protocol version ZooKeeper 3.4+ speaks
// (LearnerInfo.protocolVersion, LEADERINFO's body).
const ProtocolVersion int32 = 0x10000

var typeNames = map[int32]string{
	TypeRequest: "REQUEST", TypeProposal: "PROPOSAL", TypeAck: "ACK", TypeCommit: "COMMIT",
	TypePing: "PING", TypeRevalidate: "REVALIDATE", TypeSync: "SYNC", TypeInform: "INFORM",
	TypeCommitAndActivate: "COMMITANDACTIVATE", TypeNewLeader: "NEWLEADER",
	TypeFollowerInfo: "FOLLOWERINFO", TypeUpToDate: "UPTODATE", TypeDiff: "DIFF",
	TypeTrunc: "TRUNC", TypeSnap: "SNAP", TypeObserverInfo: "OBSERVERINFO",
	TypeLeaderInfo: "LEADERINFO", TypeAckEpoch: "ACKEPOCH", TypeInformAndActivate: "INFORMANDACTIVATE",
}

// TypeName is the packet type as ZooKeeper's logs spell it.
func TypeName(t int32) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("UNKNOWN(%d)", t)
}

// Zxid helpers: zxid = epoch<<32 | counter.
func Zxid(epoch, counter int64) int64 { return epoch<<32 | counter&0xffffffff }
func EpochOf(zxid int64) int64        { return zxid >> 32 }
func CounterOf(zxid int64) int64      { return zxid & 0xffffffff }

// Errors the kernel reports in StepDown; compare with errors.Is.
var (
	ErrFollowerAhead    = errors.New("zab: a follower is ahead of the would-be leader")
	ErrTimeout          = errors.New("zab: peers did not answer within the limit")
	ErrNoQuorum         = errors.New("zab: lost the quorum of synced followers")
	ErrZxidRollover     = errors.New("zab: zxid counter exhausted, forcing a new epoch")
	ErrEpochRegressed   = errors.New("zab: leader proposed an epoch below the accepted one")
	ErrProtocol         = errors.New("zab: unexpected packet")
	ErrUnmatchedCommit  = errors.New("zab: commit for a txn that is not the next pending one")
	ErrLeaderConnection = errors.New("zab: link to the leader went down")
	ErrNotLeading       = errors.New("zab: not leading")
)

// Encode serialises a QuorumPacket.
func Encode(typ int32, zxid int64, data []byte) []byte {
	p := jute.QuorumPacket{Type: typ, Zxid: zxid, Data: data}
	return jute.Marshal(&p)
}

// Decode parses one encoded QuorumPacket.
func Decode(b []byte) (jute.QuorumPacket, error) {
	var p jute.QuorumPacket
	if err := jute.UnmarshalExact(b, &p); err != nil {
		return p, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return p, nil
}

func encodeLearnerInfo(sid int64) []byte {
	return jute.Marshal(&jute.LearnerInfo{ServerID: sid, ProtocolVersion: ProtocolVersion, ConfigVersion: 0})
}

func encodeInt(v int32) []byte {
	w := jute.NewWriter(make([]byte, 0, 4))
	w.WriteInt(v)
	return w.Bytes()
}

func decodeInt(b []byte) (int32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("%w: want a 4-byte int, got %d bytes", ErrProtocol, len(b))
	}
	r := jute.NewReader(b)
	return r.ReadInt(), r.Err()
}
