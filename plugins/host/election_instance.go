package host

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/plugins/internal/wire"
	pb "github.com/zabkit/zabkit/plugins/proto/zabkit/v1"
)

// NewElection makes an instance in the plugin; cfg.Options defaults to
// the factory's Options. A refusal (bad options, another protocol) is an
// error; a plugin that is down is not: the instance comes into being on
// the next process, at its first call.
//
// The instance's methods are RPCs with the factory's deadline. The host
// owns the time: every call carries its `now`, so the algorithm in the
// plugin stays pure. While the plugin is down a call answers with nothing
// to do but a Tick RetryDelay later. When a new process runs, the
// instance is made again with the same ElectionConfig and, if a round had
// started, resumes it: Start with the RoundStart the host last gave and
// the last vote the host persisted (every PersistVote passed back through
// here), then Established if the host had reported one since. What that
// resumption outputs is prepended to the answer of the call that caused
// it.
func (f *ElectionFactory) NewElection(cfg ext.ElectionConfig) (ext.Election, error) {
	if cfg.Options == nil {
		cfg.Options = f.cfg.Options
	}
	cfg.Members = slices.Clone(cfg.Members)
	e := &election{f: f, cfg: cfg, where: &placement{}, state: ext.Looking}
	if p := f.current(); p != nil {
		id, err := f.newInstance(p, cfg)
		if err != nil && p.ctx.Err() == nil {
			return nil, err
		}
		if err == nil {
			e.where.set(p.gen, id)
		}
	}
	// An instance the host dropped is closed in the plugin too.
	runtime.AddCleanup(e, func(w *placement) {
		if gen, id := w.get(); gen != 0 {
			go f.forget(gen, id)
		}
	}, e.where)
	return e, nil
}

// placement is where an instance lives: the process generation and its
// id there (0, 0: nowhere yet).
type placement struct {
	mu      sync.Mutex
	gen, id uint64
}

func (w *placement) get() (gen, id uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gen, w.id
}

func (w *placement) set(gen, id uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen, w.id = gen, id
}

// election is an ext.Election in the plugin. It remembers what the
// algorithm needs to resume on a new process.
type election struct {
	f     *ElectionFactory
	cfg   ext.ElectionConfig
	where *placement

	mu      sync.Mutex
	started bool
	round   ext.RoundStart // the last Start's, LastVote kept at the last persisted vote
	est     *established   // reported since the last Start
	state   ext.PeerState  // last known, for State while the plugin is down
	vote    ext.Vote
}

type established struct {
	state ext.PeerState
	epoch int64
}

var _ ext.Election = (*election)(nil)

// rpcFunc is one election call on instance id.
type rpcFunc func(ctx context.Context, rpc pb.ElectionClient, id uint64) (*pb.ElectionOutput, error)

func (e *election) Start(now time.Duration, r ext.RoundStart) ext.ElectionOutput {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.LastVote = slices.Clone(r.LastVote) // keeps nil apart from empty
	e.started, e.round, e.est = true, r, nil
	e.state = ext.Looking
	return e.run(now, false, func(ctx context.Context, rpc pb.ElectionClient, id uint64) (*pb.ElectionOutput, error) {
		return rpc.Start(ctx, e.startRequest(id, now))
	})
}

func (e *election) Step(now time.Duration, from int64, msg []byte) ext.ElectionOutput {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.run(now, true, func(ctx context.Context, rpc pb.ElectionClient, id uint64) (*pb.ElectionOutput, error) {
		return rpc.Step(ctx, &pb.StepRequest{Instance: id, NowNanos: wire.Nanos(now), From: from, Msg: msg})
	})
}

func (e *election) Tick(now time.Duration) ext.ElectionOutput {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.run(now, true, func(ctx context.Context, rpc pb.ElectionClient, id uint64) (*pb.ElectionOutput, error) {
		return rpc.Tick(ctx, &pb.TickRequest{Instance: id, NowNanos: wire.Nanos(now)})
	})
}

func (e *election) Established(now time.Duration, state ext.PeerState, epoch int64) ext.ElectionOutput {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.run(now, true, establishCall(now, state, epoch))
	e.est = &established{state: state, epoch: epoch} // after the call: a resumption replays only older news
	return out
}

func establishCall(now time.Duration, state ext.PeerState, epoch int64) rpcFunc {
	return func(ctx context.Context, rpc pb.ElectionClient, id uint64) (*pb.ElectionOutput, error) {
		return rpc.Established(ctx, &pb.EstablishedRequest{Instance: id, NowNanos: wire.Nanos(now), State: int32(state), Epoch: epoch})
	}
}

// State asks the plugin; while it is down (or the instance not yet
// resumed) it is the last known state.
func (e *election) State() (ext.PeerState, ext.Vote) {
	e.mu.Lock()
	defer e.mu.Unlock()
	gen, id := e.where.get()
	if p := e.f.current(); p != nil && p.gen == gen {
		resp, err := call(e.f, p, func(ctx context.Context, rpc pb.ElectionClient) (*pb.StateResponse, error) {
			return rpc.State(ctx, &pb.InstanceRequest{Instance: id})
		})
		if err == nil {
			e.state, e.vote = ext.PeerState(resp.GetState()), wire.FromVote(resp.GetVote())
		}
	}
	return e.state, e.vote
}

func (e *election) startRequest(id uint64, now time.Duration) *pb.StartRequest {
	return &pb.StartRequest{Instance: id, NowNanos: wire.Nanos(now), LastZxid: e.round.LastZxid,
		CurrentEpoch: e.round.CurrentEpoch, LastVote: e.round.LastVote}
}

// run makes the call fn on the current process, resuming the instance
// there first if it is new (with resume, the round is replayed). A call
// that cannot be made answers "tick me again soon".
func (e *election) run(now time.Duration, resume bool, fn rpcFunc) ext.ElectionOutput {
	var outs []ext.ElectionOutput
	p, id, err := e.attach(now, resume, &outs)
	if err == nil {
		var resp *pb.ElectionOutput
		resp, err = call(e.f, p, func(ctx context.Context, rpc pb.ElectionClient) (*pb.ElectionOutput, error) { return fn(ctx, rpc, id) })
		if err == nil {
			outs = append(outs, e.note(resp))
		}
	}
	if err != nil {
		if status.Code(err) == codes.NotFound {
			e.where.set(0, 0) // the plugin lost it: make it again next time
		}
		if !errors.Is(err, errDown) {
			e.f.log.Debug("election call failed; retrying later", "self", e.cfg.Self, "err", err)
		}
		outs = append(outs, ext.ElectionOutput{WakeAt: now + e.f.cfg.RetryDelay})
	}
	return merge(outs)
}

// attach returns the process and instance id to call, making the
// instance on a new process first; with resume and a round under way it
// replays the round there, appending what that output to outs.
func (e *election) attach(now time.Duration, resume bool, outs *[]ext.ElectionOutput) (*electionProc, uint64, error) {
	p := e.f.current()
	if p == nil {
		return nil, 0, errDown
	}
	gen, id := e.where.get()
	if gen == p.gen {
		return p, id, nil
	}
	id, err := e.f.newInstance(p, e.cfg)
	if err != nil {
		return nil, 0, err
	}
	e.where.set(p.gen, id)
	if !resume || !e.started {
		return p, id, nil
	}
	e.f.log.Info("election resumes its round on the new plugin process from the persisted vote",
		"self", e.cfg.Self, "generation", p.gen, "persisted_vote", e.round.LastVote != nil)
	replay := []rpcFunc{func(ctx context.Context, rpc pb.ElectionClient, id uint64) (*pb.ElectionOutput, error) {
		return rpc.Start(ctx, e.startRequest(id, now))
	}}
	if e.est != nil {
		replay = append(replay, establishCall(now, e.est.state, e.est.epoch))
	}
	for _, fn := range replay {
		resp, err := call(e.f, p, func(ctx context.Context, rpc pb.ElectionClient) (*pb.ElectionOutput, error) { return fn(ctx, rpc, id) })
		if err != nil {
			return nil, 0, err
		}
		*outs = append(*outs, e.note(resp))
	}
	return p, id, nil
}

// note converts an answer and remembers what resuming needs: the vote to
// be persisted (the host persists every PersistVote it gets) and the
// decision.
func (e *election) note(resp *pb.ElectionOutput) ext.ElectionOutput {
	out := wire.FromOutput(resp)
	if out.PersistVote != nil {
		e.round.LastVote = slices.Clone(out.PersistVote)
	}
	if d := out.Decided; d != nil {
		e.state, e.vote = d.State, d.Vote
	}
	return out
}

// merge joins the outputs of consecutive calls into one the host can act
// on: every message in order, the newest vote to persist (an algorithm's
// later vote supersedes its earlier one, so persisting it before the
// earlier messages go out is as safe), the last decision, and the last
// call's timer, which replaced the earlier ones.
func merge(outs []ext.ElectionOutput) ext.ElectionOutput {
	if len(outs) == 1 {
		return outs[0]
	}
	var m ext.ElectionOutput
	for _, o := range outs {
		m.Send = append(m.Send, o.Send...)
		if o.PersistVote != nil {
			m.PersistVote = o.PersistVote
		}
		if o.Decided != nil {
			m.Decided = o.Decided
		}
		m.WakeAt = o.WakeAt
	}
	return m
}
