package host

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrRestartBudget means the plugin failed more often than the restart
// budget allows; the server gives up and exits.
var ErrRestartBudget = errors.New("store plugin restart budget exhausted")

// Restart replaces a failed (or closed) plugin: it kills what is left of
// the old process, waits a back-off that doubles with every restart in
// the window, starts a new process and reopens the store, which must be
// the same database. A start that fails counts against the budget and is
// retried; a different database, a protocol mismatch or a wrong checksum
// is not retried. Past the budget it returns ErrRestartBudget, naming the
// last failure.
func (s *Store) Restart(ctx context.Context) error {
	s.mu.Lock()
	old, stop := s.sess, s.stopHealth
	s.sess, s.stopHealth = nil, nil
	cause := s.cause
	if old != nil && old.err() != nil {
		cause = old.err()
	}
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if old != nil {
		old.fail(errors.New("restarting"))
		old.proc.client.Kill()
	}
	for {
		n, ok := s.spend(time.Now())
		if !ok {
			return fmt.Errorf("%w: %d restarts within %s; last failure: %v", ErrRestartBudget, s.cfg.Restarts, s.cfg.RestartWindow, cause)
		}
		wait := min(s.cfg.BackoffMin<<min(n-1, 20), s.cfg.BackoffMax)
		s.log.Warn("restarting the store plugin", "attempt", n, "of", s.cfg.Restarts, "window", s.cfg.RestartWindow, "backoff", wait, "after", cause)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		err := s.start(ctx)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrIdentity) || errors.Is(err, ErrProtocol) || errors.Is(err, ErrChecksum) {
			return err
		}
		s.log.Error("store plugin did not come back", "attempt", n, "err", err)
		cause = err
		s.mu.Lock()
		s.cause = err
		s.mu.Unlock()
	}
}

// spend takes one restart from the budget: it forgets restarts older than
// the window and reports how many the window now holds, or false when the
// budget is spent.
func (s *Store) spend(now time.Time) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.restarts[:0]
	for _, t := range s.restarts {
		if now.Sub(t) < s.cfg.RestartWindow {
			kept = append(kept, t)
		}
	}
	s.restarts = kept
	if len(s.restarts) >= s.cfg.Restarts {
		return len(s.restarts), false
	}
	s.restarts = append(s.restarts, now)
	return len(s.restarts), true
}
