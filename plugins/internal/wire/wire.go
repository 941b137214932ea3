// Package wire converts between core/ext's types and the zabkit.v1
// protobuf messages, on both sides of the plugin boundary: the SDK (plugin
// side) and the host adapters use the same functions, so the two cannot
// drift apart.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zabkit/zabkit/core/ext"
	pb "github.com/zabkit/zabkit/plugins/proto/zabkit/v1"
)

// ProtocolVersion is the zabkit plugin protocol this build speaks. It is
// go-plugin's application protocol version (the handshake) and is checked
// again, explicitly, by Store.Open and Election.NewElection. Bump it on any
// incompatible change to plugins/proto.
const ProtocolVersion = 1

// Limits of the boundary. MaxMessageBytes bounds one gRPC message both
// ways; the largest is one Append (a whole group commit). ChunkBytes is
// the size of one ReadLog batch and one snapshot chunk, so a long log or a
// large snapshot never sits in memory whole.
const (
	MaxMessageBytes = 256 << 20
	ChunkBytes      = 1 << 20
)

// ErrProtocol means the two sides do not speak the same protocol version.
var ErrProtocol = errors.New("plugin: protocol version mismatch")

// Entries converts log entries to protobuf (sharing Data).
func Entries(es []ext.Entry) []*pb.Entry {
	out := make([]*pb.Entry, len(es))
	for i, e := range es {
		out[i] = &pb.Entry{Zxid: e.Zxid, Data: e.Data}
	}
	return out
}

// FromEntries converts protobuf entries back (sharing Data).
func FromEntries(es []*pb.Entry) []ext.Entry {
	out := make([]ext.Entry, len(es))
	for i, e := range es {
		out[i] = ext.Entry{Zxid: e.GetZxid(), Data: e.GetData()}
	}
	return out
}

// Meta converts node metadata to protobuf.
func Meta(m ext.Meta) *pb.Meta {
	return &pb.Meta{CurrentEpoch: m.CurrentEpoch, AcceptedEpoch: m.AcceptedEpoch, LastVote: m.LastVote, DbId: m.DBID}
}

// FromMeta converts protobuf metadata back; an empty vote is nil, as the
// stores return it.
func FromMeta(m *pb.Meta) ext.Meta {
	out := ext.Meta{CurrentEpoch: m.GetCurrentEpoch(), AcceptedEpoch: m.GetAcceptedEpoch(), DBID: m.GetDbId()}
	if v := m.GetLastVote(); len(v) > 0 {
		out.LastVote = v
	}
	return out
}

// Options encodes a module's options map for OpenRequest/NewElectionRequest.
func Options(m map[string]any) ([]byte, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("plugin options: %w", err)
	}
	return b, nil
}

// FromOptions decodes what Options encoded (nil for none).
func FromOptions(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("plugin options: %w", err)
	}
	return m, nil
}

// CheckVersion is the explicit protocol check both sides make.
func CheckVersion(side string, got uint32) error {
	if got != ProtocolVersion {
		return fmt.Errorf("%w: the %s speaks zabkit plugin protocol %d, this side %d", ErrProtocol, side, got, ProtocolVersion)
	}
	return nil
}

// storeErrors maps the ext sentinels to their wire kind and gRPC code.
// ErrZxidGap comes before ErrZxidOrder because it wraps it.
var storeErrors = []struct {
	err  error
	kind pb.StoreError_Kind
	code codes.Code
}{
	{ext.ErrZxidGap, pb.StoreError_KIND_ZXID_GAP, codes.FailedPrecondition},
	{ext.ErrZxidOrder, pb.StoreError_KIND_ZXID_ORDER, codes.FailedPrecondition},
	{ext.ErrNoSnapshot, pb.StoreError_KIND_NO_SNAPSHOT, codes.NotFound},
	{ext.ErrCorrupt, pb.StoreError_KIND_CORRUPT, codes.DataLoss},
	{ext.ErrClosed, pb.StoreError_KIND_CLOSED, codes.FailedPrecondition},
}

// StatusError turns a store's error into the gRPC error the host decodes
// with FromStatus. Errors the ext sentinels do not cover travel as
// UNKNOWN with their message.
func StatusError(err error) error {
	if err == nil {
		return nil
	}
	for _, se := range storeErrors {
		if errors.Is(err, se.err) {
			st, derr := status.New(se.code, err.Error()).WithDetails(&pb.StoreError{Kind: se.kind})
			if derr != nil {
				return status.Error(se.code, err.Error())
			}
			return st.Err()
		}
	}
	if errors.Is(err, ErrProtocol) {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

// FromStatus turns an error from a Store RPC back into one that wraps the
// matching ext sentinel; an error without a StoreError detail is returned
// with its gRPC status intact (see Transport).
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	for _, d := range st.Details() {
		if se, ok := d.(*pb.StoreError); ok {
			for _, e := range storeErrors {
				if e.kind == se.GetKind() {
					return &remoteError{sentinel: e.err, msg: st.Message()}
				}
			}
		}
	}
	return err
}

// remoteError is a store error that came over the wire: its message is the
// plugin's, and errors.Is finds the sentinel the plugin's error wrapped.
type remoteError struct {
	sentinel error
	msg      string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

// Transport reports whether err says the plugin process is gone, hung or
// unreachable (as opposed to an answer from the store): the host treats
// that as a dead plugin.
func Transport(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted:
		return true
	}
	return false
}

// Nanos and FromNanos carry the election's monotonic times.
func Nanos(d time.Duration) int64     { return int64(d) }
func FromNanos(n int64) time.Duration { return time.Duration(n) }

// Vote converts an election vote to protobuf.
func Vote(v ext.Vote) *pb.Vote {
	return &pb.Vote{Leader: v.Leader, Zxid: v.Zxid, ElectionEpoch: v.ElectionEpoch, PeerEpoch: v.PeerEpoch}
}

// FromVote converts a protobuf vote back.
func FromVote(v *pb.Vote) ext.Vote {
	return ext.Vote{Leader: v.GetLeader(), Zxid: v.GetZxid(), ElectionEpoch: v.GetElectionEpoch(), PeerEpoch: v.GetPeerEpoch()}
}

// Output converts what an election call asks the host to do.
func Output(o ext.ElectionOutput) *pb.ElectionOutput {
	out := &pb.ElectionOutput{PersistVote: o.PersistVote, WakeAtNanos: Nanos(o.WakeAt)}
	for _, m := range o.Send {
		out.Send = append(out.Send, &pb.Outgoing{To: m.To, Data: m.Data})
	}
	if d := o.Decided; d != nil {
		out.Decided = &pb.Decision{State: int32(d.State), Vote: Vote(d.Vote)}
	}
	return out
}

// FromOutput converts an election output back; PersistVote keeps its
// presence (nil: nothing to persist).
func FromOutput(o *pb.ElectionOutput) ext.ElectionOutput {
	out := ext.ElectionOutput{WakeAt: FromNanos(o.GetWakeAtNanos())}
	if o.PersistVote != nil {
		out.PersistVote = append([]byte{}, o.PersistVote...)
	}
	for _, m := range o.GetSend() {
		out.Send = append(out.Send, ext.Outgoing{To: m.GetTo(), Data: m.GetData()})
	}
	if d := o.GetDecided(); d != nil {
		out.Decided = &ext.Decision{State: ext.PeerState(d.GetState()), Vote: FromVote(d.GetVote())}
	}
	return out
}

// Members converts an election's membership to protobuf.
func Members(ms []ext.Member) []*pb.Member {
	out := make([]*pb.Member, len(ms))
	for i, m := range ms {
		out[i] = &pb.Member{Id: m.ID, Observer: m.Observer, Weight: m.Weight, Spec: m.Spec}
	}
	return out
}

// FromMembers converts a protobuf membership back.
func FromMembers(ms []*pb.Member) []ext.Member {
	out := make([]ext.Member, len(ms))
	for i, m := range ms {
		out[i] = ext.Member{ID: m.GetId(), Observer: m.GetObserver(), Weight: m.GetWeight(), Spec: m.GetSpec()}
	}
	return out
}
