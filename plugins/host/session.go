package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	pb "github.com/zabkit/zabkit/plugins/proto/zabkit/v1"
)

// ErrPluginFailed means the plugin process died, hung past a deadline or
// failed a write: what the failed call did is unknown. Every call fails
// with it, at once, until the store is restarted.
var ErrPluginFailed = errors.New("store plugin failed")

// session is one plugin process serving one open store. It fails once and
// for good: a restart makes a new session.
type session struct {
	proc *launched
	rpc  pb.StoreClient
	log  *slog.Logger

	// ctx ends when the session fails, aborting every call in flight.
	ctx    context.Context
	cancel context.CancelFunc

	once   sync.Once
	failed chan struct{}
	cause  error
}

func newSession(proc *launched, rpc pb.StoreClient, log *slog.Logger) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{proc: proc, rpc: rpc, log: log, ctx: ctx, cancel: cancel, failed: make(chan struct{})}
}

// fail marks the session failed (the first cause wins), aborts the calls
// in flight and kills the process: a plugin that stalled must not finish
// a write behind the restarted one's back, nor keep its files locked.
func (s *session) fail(cause error) {
	s.once.Do(func() {
		s.cause = cause
		s.log.Error("store plugin failed; no further writes until it is restarted", "err", cause)
		close(s.failed)
		s.cancel()
		s.proc.kill()
	})
}

// err is the error calls get once the session failed.
func (s *session) err() error {
	select {
	case <-s.failed:
		return fmt.Errorf("%w: %w", ErrPluginFailed, s.cause)
	default:
		return nil
	}
}

// callCtx is a context for one call: it ends with parent, with the
// session, or after timeout (0: no deadline).
func (s *session) callCtx(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	var ctx context.Context
	var cancel context.CancelFunc
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, timeout)
	} else {
		ctx, cancel = context.WithCancel(parent)
	}
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// watchdog fails the session if a step of a stream (one Send or Recv)
// takes longer than timeout: a plugin stalled mid-stream is as dead as one
// that stopped answering pings. arm starts the clock for one step and
// returns the function that stops it.
func (s *session) watchdog(timeout time.Duration, what string) (arm func() (disarm func())) {
	return func() func() {
		if timeout <= 0 {
			return func() {}
		}
		t := time.AfterFunc(timeout, func() {
			s.fail(fmt.Errorf("%s: no progress for %s", what, timeout))
		})
		return func() { t.Stop() }
	}
}

// health pings the plugin every interval until the session fails or ctx
// ends; a ping that fails or takes longer than timeout, or a process that
// exited, fails the session.
func (s *session) health(ctx context.Context, interval, timeout time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.failed:
			return
		case <-t.C:
		}
		if s.proc.client.Exited() {
			s.fail(errors.New("plugin process exited"))
			return
		}
		cctx, cancel := s.callCtx(ctx, timeout)
		_, err := s.rpc.Health(cctx, &pb.Empty{})
		cancel()
		if err != nil && ctx.Err() == nil && s.ctx.Err() == nil {
			s.fail(fmt.Errorf("health ping: %w", err))
			return
		}
	}
}
