package sdk

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/plugins/internal/wire"
	pb "github.com/zabkit/zabkit/plugins/proto/zabkit/v1"
)

// recorder is an election that remembers its calls and answers with
// what they carried, so the server's translation can be checked.
type recorder struct {
	cfg   ext.ElectionConfig
	start ext.RoundStart
	now   time.Duration
}

func (r *recorder) NewElection(cfg ext.ElectionConfig) (ext.Election, error) {
	r.cfg = cfg
	return r, nil
}

func (r *recorder) Start(now time.Duration, rs ext.RoundStart) ext.ElectionOutput {
	r.now, r.start = now, rs
	return ext.ElectionOutput{PersistVote: rs.LastVote, WakeAt: now + time.Second}
}

func (r *recorder) Step(now time.Duration, from int64, msg []byte) ext.ElectionOutput {
	return ext.ElectionOutput{Send: []ext.Outgoing{{To: from, Data: msg}}}
}

func (r *recorder) Tick(now time.Duration) ext.ElectionOutput { return ext.ElectionOutput{WakeAt: now} }

func (r *recorder) Established(now time.Duration, s ext.PeerState, epoch int64) ext.ElectionOutput {
	return ext.ElectionOutput{Decided: &ext.Decision{State: s, Vote: ext.Vote{PeerEpoch: epoch}}}
}

func (r *recorder) State() (ext.PeerState, ext.Vote) {
	return ext.Leading, ext.Vote{Leader: r.cfg.Self}
}

func TestElectionServer(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	s := newElectionServer(rec, Logger())
	if _, err := s.NewElection(ctx, &pb.NewElectionRequest{ProtocolVersion: 99}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("NewElection with protocol 99: %v, want FAILED_PRECONDITION", err)
	}
	opts, _ := wire.Options(map[string]any{"finalizeWait": "200ms"})
	resp, err := s.NewElection(ctx, &pb.NewElectionRequest{
		ProtocolVersion: ProtocolVersion, Self: 2, Seed: 7, OptionsJson: opts,
		Members: wire.Members([]ext.Member{{ID: 1, Weight: 1}, {ID: 2, Weight: 1, Spec: "h:1:2"}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.cfg.Self != 2 || rec.cfg.Seed != 7 || len(rec.cfg.Members) != 2 || rec.cfg.Members[1].Spec != "h:1:2" || rec.cfg.Options["finalizeWait"] != "200ms" {
		t.Fatalf("the factory got %+v", rec.cfg)
	}
	id := resp.GetInstance()
	out, err := s.Start(ctx, &pb.StartRequest{Instance: id, NowNanos: int64(3 * time.Second), LastZxid: 5, LastVote: []byte{}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.start.LastVote == nil || rec.start.LastZxid != 5 || rec.now != 3*time.Second {
		t.Fatalf("Start got %+v at %v; an empty persisted vote must stay non-nil", rec.start, rec.now)
	}
	if got := wire.FromOutput(out); got.PersistVote == nil || got.WakeAt != 4*time.Second {
		t.Fatalf("Start answered %+v", got)
	}
	step, err := s.Step(ctx, &pb.StepRequest{Instance: id, From: 1, Msg: []byte("hi")})
	if err != nil || len(step.GetSend()) != 1 || step.GetSend()[0].GetTo() != 1 || string(step.GetSend()[0].GetData()) != "hi" {
		t.Fatalf("Step answered %+v, %v", step, err)
	}
	est, err := s.Established(ctx, &pb.EstablishedRequest{Instance: id, State: int32(ext.Leading), Epoch: 4})
	if err != nil || est.GetDecided().GetVote().GetPeerEpoch() != 4 || ext.PeerState(est.GetDecided().GetState()) != ext.Leading {
		t.Fatalf("Established answered %+v, %v", est, err)
	}
	st, err := s.State(ctx, &pb.InstanceRequest{Instance: id})
	if err != nil || ext.PeerState(st.GetState()) != ext.Leading || st.GetVote().GetLeader() != 2 {
		t.Fatalf("State answered %+v, %v", st, err)
	}
	if _, err := s.CloseElection(ctx, &pb.InstanceRequest{Instance: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Tick(ctx, &pb.TickRequest{Instance: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("Tick on a closed instance: %v, want NOT_FOUND", err)
	}
}
