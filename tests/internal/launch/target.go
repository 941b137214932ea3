package launch

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// EnsembleEnv, set to a size n >= 2 (ZABKIT_E2E_ENSEMBLE=3), makes every
// target a suite starts through StartTarget or LaunchTarget an n-member
// ensemble of the selected kind instead of one standalone server. The
// suites stay the same: each test gets one member as its *Server (the
// members in turn, so single-address clients are spread over them) and
// spreads further clients with AddrFor or hands clients that take a host
// list the ConnectString.
const EnsembleEnv = "ZABKIT_E2E_ENSEMBLE"

// EnsembleSize is the size ZABKIT_E2E_ENSEMBLE asks for; 0 means
// standalone (unset, empty or "0").
func EnsembleSize() (int, error) {
	v := os.Getenv(EnsembleEnv)
	if v == "" || v == "0" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		return 0, fmt.Errorf("%s=%q: want an ensemble size of at least 2, or 0 for standalone", EnsembleEnv, v)
	}
	return n, nil
}

// Target is the service a suite runs against: one standalone server, or
// an ensemble whose members stand in for it in turn.
type Target struct {
	Kind Kind
	// Ensemble is nil for a standalone target.
	Ensemble *Ensemble
	single   *Server
	next     atomic.Uint64
}

// LaunchTarget starts what EnsembleEnv asks for: a standalone server of
// kind, or an ensemble of them. Unlike StartEnsemble it keeps the
// standalone default tickTime (2000), so session timeout bounds and conf
// read the same either way. The caller must Stop it; on error it has
// already stopped whatever it had started.
func LaunchTarget(kind Kind, opts Options, dir string) (*Target, error) {
	n, err := EnsembleSize()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		s, err := Launch(kind, opts, dir)
		if err != nil {
			return nil, err
		}
		return &Target{Kind: kind, single: s}, nil
	}
	if opts.TickTime == 0 {
		opts.TickTime = 2000
	}
	e, err := LaunchEnsemble(kind, n, 0, opts, dir)
	if err != nil {
		if e != nil {
			e.Close()
		}
		return nil, fmt.Errorf("%d-member %s ensemble: %w", n, kind, err)
	}
	return &Target{Kind: kind, Ensemble: e}, nil
}

// StartTarget is LaunchTarget for one test: it fails the test on error and
// stops the target when the test ends.
func StartTarget(t testing.TB, kind Kind, opts Options) *Target {
	t.Helper()
	tg, err := LaunchTarget(kind, opts, t.TempDir())
	if err != nil {
		t.Fatalf("start %s: %v", kind, err)
	}
	t.Cleanup(func() {
		tg.Stop()
		if t.Failed() {
			for _, s := range tg.Servers() {
				t.Logf("%s log tail (%s):\n%s", s.Label(), s.logPath, s.LogTail(60))
			}
		}
	})
	return tg
}

// Server returns the server a test's first client should use: the
// standalone server, or the next member in turn.
func (tg *Target) Server() *Server {
	if tg.Ensemble == nil {
		return tg.single
	}
	i := tg.next.Add(1) - 1
	return tg.Ensemble.Members[i%uint64(len(tg.Ensemble.Members))]
}

// Servers are every process of the target.
func (tg *Target) Servers() []*Server {
	if tg.Ensemble == nil {
		return []*Server{tg.single}
	}
	return tg.Ensemble.Members
}

// Stop stops every process of the target.
func (tg *Target) Stop() {
	if tg.Ensemble != nil {
		tg.Ensemble.Close()
		return
	}
	tg.single.Stop()
}

// Ensemble is the ensemble s is a member of, or nil for a standalone
// server.
func (s *Server) Ensemble() *Ensemble { return s.ensemble }

// Myid is s's server id in its ensemble (1-based), 0 when standalone.
func (s *Server) Myid() int {
	if s.ensemble == nil {
		return 0
	}
	return s.member + 1
}

// AddrFor is where a test's client number i connects: s itself for i = 0
// and for a standalone server, otherwise the member i places after s, so
// a test's clients land on different members.
func (s *Server) AddrFor(i int) string {
	if s.ensemble == nil {
		return s.Addr
	}
	ms := s.ensemble.Members
	return ms[(s.member+i)%len(ms)].Addr
}

// Hosts are the addresses of the whole target starting with s: s alone
// when standalone, else every member in AddrFor order.
func (s *Server) Hosts() []string {
	if s.ensemble == nil {
		return []string{s.Addr}
	}
	addrs := make([]string, len(s.ensemble.Members))
	for i := range addrs {
		addrs[i] = s.AddrFor(i)
	}
	return addrs
}

// ConnectString is Hosts as a host list for clients that pick a server
// themselves (kazoo, Curator, zkCli).
func (s *Server) ConnectString() string { return strings.Join(s.Hosts(), ",") }

// Label names s in logs: its kind, and its member number in an ensemble.
func (s *Server) Label() string {
	if s.ensemble == nil {
		return string(s.Kind)
	}
	return fmt.Sprintf("%s member %d", s.Kind, s.member+1)
}
