package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/plugins/internal/wire"
	pb "github.com/zabkit/zabkit/plugins/proto/zabkit/v1"
)

// electionServer serves election instances made by one factory. An
// ext.Election is a state machine that is not safe for concurrent use;
// each instance has its own lock, so calls for one instance are serialised
// while instances stay independent.
type electionServer struct {
	pb.UnimplementedElectionServer
	factory ext.ElectionFactory
	log     *slog.Logger

	mu        sync.Mutex
	next      uint64
	instances map[uint64]*instance
}

type instance struct {
	mu sync.Mutex
	el ext.Election
}

func newElectionServer(f ext.ElectionFactory, log *slog.Logger) *electionServer {
	return &electionServer{factory: f, log: log, instances: map[uint64]*instance{}}
}

func (s *electionServer) NewElection(_ context.Context, req *pb.NewElectionRequest) (*pb.NewElectionResponse, error) {
	if err := wire.CheckVersion("host", req.GetProtocolVersion()); err != nil {
		return nil, wire.StatusError(err)
	}
	opts, err := wire.FromOptions(req.GetOptionsJson())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	el, err := s.factory.NewElection(ext.ElectionConfig{
		Self: req.GetSelf(), Members: wire.FromMembers(req.GetMembers()), Seed: req.GetSeed(), Options: opts,
	})
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.instances[s.next] = &instance{el: el}
	return &pb.NewElectionResponse{ProtocolVersion: ProtocolVersion, Instance: s.next}, nil
}

// with runs fn on instance id under its lock.
func (s *electionServer) with(id uint64, fn func(ext.Election) *pb.ElectionOutput) (*pb.ElectionOutput, error) {
	s.mu.Lock()
	in := s.instances[id]
	s.mu.Unlock()
	if in == nil {
		return nil, status.Error(codes.NotFound, fmt.Sprintf("election plugin: no instance %d", id))
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return fn(in.el), nil
}

func (s *electionServer) Start(_ context.Context, req *pb.StartRequest) (*pb.ElectionOutput, error) {
	return s.with(req.GetInstance(), func(el ext.Election) *pb.ElectionOutput {
		rs := ext.RoundStart{LastZxid: req.GetLastZxid(), CurrentEpoch: req.GetCurrentEpoch()}
		if req.LastVote != nil {
			rs.LastVote = req.LastVote
		}
		return wire.Output(el.Start(wire.FromNanos(req.GetNowNanos()), rs))
	})
}

func (s *electionServer) Step(_ context.Context, req *pb.StepRequest) (*pb.ElectionOutput, error) {
	return s.with(req.GetInstance(), func(el ext.Election) *pb.ElectionOutput {
		return wire.Output(el.Step(wire.FromNanos(req.GetNowNanos()), req.GetFrom(), req.GetMsg()))
	})
}

func (s *electionServer) Tick(_ context.Context, req *pb.TickRequest) (*pb.ElectionOutput, error) {
	return s.with(req.GetInstance(), func(el ext.Election) *pb.ElectionOutput {
		return wire.Output(el.Tick(wire.FromNanos(req.GetNowNanos())))
	})
}

func (s *electionServer) Established(_ context.Context, req *pb.EstablishedRequest) (*pb.ElectionOutput, error) {
	return s.with(req.GetInstance(), func(el ext.Election) *pb.ElectionOutput {
		return wire.Output(el.Established(wire.FromNanos(req.GetNowNanos()), ext.PeerState(req.GetState()), req.GetEpoch()))
	})
}

func (s *electionServer) State(_ context.Context, req *pb.InstanceRequest) (*pb.StateResponse, error) {
	var resp *pb.StateResponse
	_, err := s.with(req.GetInstance(), func(el ext.Election) *pb.ElectionOutput {
		st, v := el.State()
		resp = &pb.StateResponse{State: int32(st), Vote: wire.Vote(v)}
		return nil
	})
	return resp, err
}

func (s *electionServer) CloseElection(_ context.Context, req *pb.InstanceRequest) (*pb.Empty, error) {
	s.mu.Lock()
	delete(s.instances, req.GetInstance())
	s.mu.Unlock()
	return &pb.Empty{}, nil
}

func (s *electionServer) Health(context.Context, *pb.Empty) (*pb.HealthResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &pb.HealthResponse{Open: len(s.instances) > 0}, nil
}
