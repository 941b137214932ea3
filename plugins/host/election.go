package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/plugins/internal/wire"
	pb "github.com/zabkit/zabkit/plugins/proto/zabkit/v1"
	"github.com/zabkit/zabkit/plugins/sdk"
)

// ErrElectionBudget means the election plugin failed more often than its
// restart budget allows; the factory gives up (Failed is closed) and the
// server should exit.
var ErrElectionBudget = errors.New("election plugin restart budget exhausted")

// errDown is what a call meets while the plugin is being restarted.
var errDown = errors.New("election plugin not running")

// ElectionConfig configures an election plugin. Zero durations take the
// defaults in parentheses.
type ElectionConfig struct {
	Launch LaunchConfig
	// Options are the plugin's own options: what its factory gets as
	// ElectionConfig.Options when the host passes none.
	Options map[string]any
	// RPCTimeout bounds every call (2s). Calls come from the node's event
	// loop, so it is short: a plugin that does not answer in time is
	// killed and restarted while the node carries on.
	RPCTimeout time.Duration
	// HealthInterval is how often the plugin is pinged while no election
	// runs (1s); a ping has RPCTimeout.
	HealthInterval time.Duration
	// RetryDelay is how soon a call made while the plugin is down asks to
	// be ticked again (100ms).
	RetryDelay time.Duration
	// Restart budget: at most Restarts restarts (5; negative: none) within
	// RestartWindow (10m), waiting BackoffMin (200ms) doubling up to
	// BackoffMax (10s) before each.
	Restarts               int
	RestartWindow          time.Duration
	BackoffMin, BackoffMax time.Duration
	Logger                 *slog.Logger
}

func (c *ElectionConfig) defaults() {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.RPCTimeout, 2 * time.Second}, {&c.HealthInterval, time.Second}, {&c.RetryDelay, 100 * time.Millisecond}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	// The restart budget and the logger default as store.external's do.
	sc := StoreConfig{Restarts: c.Restarts, RestartWindow: c.RestartWindow, BackoffMin: c.BackoffMin, BackoffMax: c.BackoffMax, Logger: c.Logger}
	sc.defaults()
	c.Restarts, c.RestartWindow, c.BackoffMin, c.BackoffMax = sc.Restarts, sc.RestartWindow, sc.BackoffMin, sc.BackoffMax
	c.Logger, c.Launch.Logger = sc.Logger, sc.Logger
}

// ElectionFactory is an ext.ElectionFactory served by a plugin process:
// one process holds every instance the host makes. It supervises the
// process: a call that fails or passes its deadline, a failed health ping
// or an exit kills it and starts a new one in the background, within the
// restart budget. Instances resume on the new process by themselves (see
// NewElection); past the budget Failed is closed.
type ElectionFactory struct {
	cfg ElectionConfig
	log *slog.Logger

	// ctx ends with Close; it stops restarts and health pings.
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	proc       *electionProc // nil while down
	gen        uint64        // generation of the newest process
	restarting bool
	restarts   []time.Time // within the window
	failed     chan struct{}
	err        error // why the factory gave up
}

// electionProc is one plugin process. It fails once and for good.
type electionProc struct {
	*launched
	rpc  pb.ElectionClient
	gen  uint64
	ctx  context.Context // ends when the process fails
	stop context.CancelFunc
}

// OpenElection starts the plugin. A plugin that cannot start (a missing
// binary, a wrong checksum, another protocol version) is an error here,
// at configuration time.
func OpenElection(ctx context.Context, cfg ElectionConfig) (*ElectionFactory, error) {
	cfg.defaults()
	f := &ElectionFactory{cfg: cfg, log: cfg.Logger, failed: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p, err := f.start()
	if err != nil {
		f.cancel()
		return nil, err
	}
	f.install(p)
	return f, nil
}

// start launches a new process.
func (f *ElectionFactory) start() (*electionProc, error) {
	l, err := launch(f.cfg.Launch, sdk.ElectionPlugin)
	if err != nil {
		return nil, err
	}
	rpc, ok := l.raw.(pb.ElectionClient)
	if !ok {
		l.kill()
		return nil, fmt.Errorf("plugin %s: unexpected election client %T", f.cfg.Launch.Path, l.raw)
	}
	ctx, stop := context.WithCancel(f.ctx)
	return &electionProc{launched: l, rpc: rpc, ctx: ctx, stop: stop}, nil
}

// install makes p the current process and starts pinging it; after
// Close it ends p instead.
func (f *ElectionFactory) install(p *electionProc) {
	f.mu.Lock()
	if f.ctx.Err() != nil {
		f.mu.Unlock()
		p.stop()
		p.kill()
		return
	}
	f.gen++
	p.gen = f.gen
	f.proc, f.restarting = p, false
	f.mu.Unlock()
	f.log.Info("election plugin running", "pid", p.pid(), "generation", p.gen)
	go f.health(p)
}

// current is the process to call, nil while down.
func (f *ElectionFactory) current() *electionProc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.proc
}

// fail kills p and, if it is the current process, starts a restart.
func (f *ElectionFactory) fail(p *electionProc, cause error) {
	f.mu.Lock()
	current := f.proc == p
	if current {
		f.proc = nil
	}
	start := current && !f.restarting && f.ctx.Err() == nil && f.err == nil
	f.restarting = f.restarting || start
	f.mu.Unlock()
	if p.ctx.Err() == nil {
		f.log.Error("election plugin failed; the election waits for a new process", "pid", p.pid(), "err", cause)
	}
	p.stop()
	p.kill()
	if start {
		go f.restart(cause)
	}
}

// restart brings a process up within the budget, or gives up.
func (f *ElectionFactory) restart(cause error) {
	for {
		n, ok := f.spend(time.Now())
		if !ok {
			f.giveUp(fmt.Errorf("%w: %d restarts within %s; last failure: %v", ErrElectionBudget, f.cfg.Restarts, f.cfg.RestartWindow, cause))
			return
		}
		wait := min(f.cfg.BackoffMin<<min(n-1, 20), f.cfg.BackoffMax)
		f.log.Warn("restarting the election plugin", "attempt", n, "of", f.cfg.Restarts, "window", f.cfg.RestartWindow, "backoff", wait, "after", cause)
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(wait):
		}
		p, err := f.start()
		if err == nil {
			f.install(p)
			return
		}
		if errors.Is(err, ErrProtocol) || errors.Is(err, ErrChecksum) {
			f.giveUp(err)
			return
		}
		f.log.Error("election plugin did not come back", "attempt", n, "err", err)
		cause = err
	}
}

// spend takes one restart from the budget, forgetting restarts older than
// the window; it reports how many the window holds, or false when none is
// left.
func (f *ElectionFactory) spend(now time.Time) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarts = slices.DeleteFunc(f.restarts, func(t time.Time) bool { return now.Sub(t) >= f.cfg.RestartWindow })
	if len(f.restarts) >= f.cfg.Restarts {
		return len(f.restarts), false
	}
	f.restarts = append(f.restarts, now)
	return len(f.restarts), true
}

func (f *ElectionFactory) giveUp(err error) {
	f.mu.Lock()
	f.err, f.restarting = err, false
	f.mu.Unlock()
	f.log.Error("giving up on the election plugin: the node cannot elect a leader any more", "err", err)
	close(f.failed)
}

// Failed is closed when the factory gave up on the plugin (past the
// restart budget, or a replacement that is not the configured binary or
// speaks another protocol); Err says why. The server exits on it.
func (f *ElectionFactory) Failed() <-chan struct{} { return f.failed }

// Err is why Failed was closed, nil before.
func (f *ElectionFactory) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// health pings p until it fails or the factory closes; a process that
// exited or a ping that fails fails p.
func (f *ElectionFactory) health(p *electionProc) {
	t := time.NewTicker(f.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		if p.client.Exited() {
			f.fail(p, errors.New("plugin process exited"))
			return
		}
		ctx, cancel := context.WithTimeout(p.ctx, f.cfg.RPCTimeout)
		_, err := p.rpc.Health(ctx, &pb.Empty{})
		cancel()
		if err != nil && p.ctx.Err() == nil {
			f.fail(p, fmt.Errorf("health ping: %w", err))
			return
		}
	}
}

// call runs one RPC on p with the deadline. An error that says the
// process is gone, hung or broken fails p; an answer (a refused option,
// an unknown instance) does not.
func call[T any](f *ElectionFactory, p *electionProc, fn func(ctx context.Context, rpc pb.ElectionClient) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, f.cfg.RPCTimeout)
	resp, err := fn(ctx, p.rpc)
	cancel()
	if c := status.Code(err); err != nil && (wire.Transport(err) || c == codes.Unknown || c == codes.Internal) {
		f.fail(p, err)
	}
	return resp, err
}

// Close ends the plugin process; instances answer as if it were down.
func (f *ElectionFactory) Close() error {
	f.mu.Lock()
	f.cancel() // under the lock: install sees it
	p := f.proc
	f.proc = nil
	f.mu.Unlock()
	if p != nil {
		p.stop()
		p.client.Kill()
	}
	return nil
}

// newInstance makes an instance of cfg on p.
func (f *ElectionFactory) newInstance(p *electionProc, cfg ext.ElectionConfig) (uint64, error) {
	opts, err := wire.Options(cfg.Options)
	if err != nil {
		return 0, err
	}
	resp, err := call(f, p, func(ctx context.Context, rpc pb.ElectionClient) (*pb.NewElectionResponse, error) {
		return rpc.NewElection(ctx, &pb.NewElectionRequest{
			ProtocolVersion: wire.ProtocolVersion, Self: cfg.Self, Members: wire.Members(cfg.Members), Seed: cfg.Seed, OptionsJson: opts,
		})
	})
	if err != nil {
		return 0, fmt.Errorf("election plugin %s: new election: %w", f.cfg.Launch.Path, err)
	}
	if err := wire.CheckVersion("plugin", resp.GetProtocolVersion()); err != nil {
		return 0, err
	}
	return resp.GetInstance(), nil
}

// forget closes an instance on the process it lives on, if that still
// runs.
func (f *ElectionFactory) forget(gen, id uint64) {
	p := f.current()
	if p == nil || p.gen != gen {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, f.cfg.RPCTimeout)
	defer cancel()
	_, _ = p.rpc.CloseElection(ctx, &pb.InstanceRequest{Instance: id})
}

// PluginPID is the running plugin process's id, 0 while it is down: what
// an operator looks for in ps, and what tests kill.
func (f *ElectionFactory) PluginPID() int {
	if p := f.current(); p != nil {
		return p.pid()
	}
	return 0
}
