package host_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/electiontest"
	"github.com/zabkit/zabkit/core/registry"
	"github.com/zabkit/zabkit/plugins/host"
	"github.com/zabkit/zabkit/plugins/sdk/sdktest"
)

// TestElectionPlugin runs election.external's engine against
// internal/electionplugin (FLE with faults to inject), built once for
// its subtests.
func TestElectionPlugin(t *testing.T) {
	// sdktest.Build hands back the binary an earlier Build in this process
	// named (TestMain's store plugin); clear that so this one is built.
	t.Setenv(sdktest.BinaryEnv, "")
	bin, cleanup, err := sdktest.Build("./internal/electionplugin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	open := func(t *testing.T, cfg host.ElectionConfig) (*host.ElectionFactory, *syncBuffer) {
		t.Helper()
		logs := &syncBuffer{}
		cfg.Launch.Path = bin
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("plugin", "electionplugin")
		if cfg.BackoffMin == 0 {
			cfg.BackoffMin = time.Millisecond
		}
		f, err := host.OpenElection(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			f.Close()
			if t.Failed() {
				t.Logf("host log:\n%s", logs.String())
			}
		})
		return f, logs
	}
	t.Run("Kit", func(t *testing.T) {
		f, _ := open(t, host.ElectionConfig{})
		electiontest.Run(t, f.NewElection, electiontest.Options{UpToDate: true, Seeds: 3})
	})
	t.Run("KilledMidElection", func(t *testing.T) { killedMidElection(t, open) })
	t.Run("StalledCall", func(t *testing.T) { stalledCall(t, open) })
	t.Run("RestartBudget", func(t *testing.T) { electionRestartBudget(t, open) })
	t.Run("IdleDeathNoticed", func(t *testing.T) {
		f, _ := open(t, host.ElectionConfig{HealthInterval: 20 * time.Millisecond})
		pid := f.PluginPID()
		syscall.Kill(pid, syscall.SIGKILL)
		waitNewProcess(t, f, pid)
	})
	t.Run("OptionsAndRefusals", func(t *testing.T) { optionsAndRefusals(t, open, bin) })
	t.Run("StartRefused", func(t *testing.T) {
		_, err := host.OpenElection(context.Background(), host.ElectionConfig{Launch: host.LaunchConfig{Path: bin, SHA256: strings.Repeat("ab", 32)}})
		if !errors.Is(err, host.ErrChecksum) {
			t.Fatalf("wrong checksum: %v, want host.ErrChecksum", err)
		}
		t.Setenv("ELECTIONPLUGIN_PROTOCOL", "99")
		_, err = host.OpenElection(context.Background(), host.ElectionConfig{Launch: host.LaunchConfig{Path: bin}})
		if !errors.Is(err, host.ErrProtocol) {
			t.Fatalf("a plugin speaking protocol 99: %v, want host.ErrProtocol", err)
		}
	})
}

type openFunc func(t *testing.T, cfg host.ElectionConfig) (*host.ElectionFactory, *syncBuffer)

// fiveServers boots an ensemble of five on the kit's simulator whose
// instances live in f's plugin.
func fiveServers(t *testing.T, f *host.ElectionFactory) *electiontest.Cluster {
	t.Helper()
	var ms []ext.Member
	for id := int64(1); id <= 5; id++ {
		ms = append(ms, ext.Member{ID: id, Weight: 1})
	}
	c, err := electiontest.NewCluster(electiontest.Config{Members: ms, Factory: f.NewElection, Seed: 1, Net: electiontest.Reliable})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range c.IDs() {
		c.Boot(id, electiontest.Disk{CurrentEpoch: 1, LastZxid: 1<<32 | id})
	}
	return c
}

// settle runs c until it has one leader.
func settle(t *testing.T, c *electiontest.Cluster) {
	t.Helper()
	if !c.RunUntil((*electiontest.Cluster).Stable, 3*time.Minute) {
		t.Fatalf("no stable leader after the plugin came back (err: %v)", c.Err())
	}
	if l, _ := c.Leader(); l != 5 {
		t.Fatalf("leader %d, want 5 (the most up to date)", l)
	}
}

// waitNewProcess waits for a plugin process other than old.
func waitNewProcess(t *testing.T, f *host.ElectionFactory, old int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if pid := f.PluginPID(); pid != 0 && pid != old {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new plugin process replaced %d", old)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// killedMidElection: the plugin is SIGKILLed while an election is under
// way; calls answer "retry" until a new process runs, every instance
// resumes its round there from its persisted vote, and the ensemble
// elects.
func killedMidElection(t *testing.T, open openFunc) {
	f, logs := open(t, host.ElectionConfig{HealthInterval: 20 * time.Millisecond})
	c := fiveServers(t, f)
	c.RunFor(50 * time.Millisecond) // FLE's finalize wait is 200ms
	if c.AllDecided() {
		t.Fatal("the election ended before the kill")
	}
	pid := f.PluginPID()
	syscall.Kill(pid, syscall.SIGKILL)
	waitDead(t, pid)
	c.RunFor(300 * time.Millisecond) // calls while it is down (or back)
	waitNewProcess(t, f, pid)
	settle(t, c)
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); !strings.Contains(l, "resumes its round") || !strings.Contains(l, "persisted_vote=true") {
		t.Fatalf("no instance resumed from a persisted vote:\n%s", l)
	}
}

// stalledCall: a call the plugin never answers fails at the deadline, the
// process is killed and replaced, and the election completes on the new
// one.
func stalledCall(t *testing.T, open openFunc) {
	marker := filepath.Join(t.TempDir(), "stalled")
	f, logs := open(t, host.ElectionConfig{RPCTimeout: 300 * time.Millisecond,
		Options: map[string]any{"stallAfter": 20, "stallMarker": marker}})
	pid := f.PluginPID()
	c := fiveServers(t, f)
	c.RunFor(time.Second)
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the plugin never stalled: %v", err)
	}
	waitDead(t, pid)
	waitNewProcess(t, f, pid)
	settle(t, c)
	if !strings.Contains(logs.String(), "DeadlineExceeded") {
		t.Fatalf("the log does not name the deadline:\n%s", logs.String())
	}
}

// electionRestartBudget: a plugin that stalls in every process is
// restarted within the budget, then given up on: Failed is closed, Err
// wraps host.ErrElectionBudget, and calls answer "retry" without the
// plugin.
func electionRestartBudget(t *testing.T, open openFunc) {
	f, _ := open(t, host.ElectionConfig{RPCTimeout: 100 * time.Millisecond, Restarts: 2, Options: map[string]any{"stallAfter": 1}})
	el, err := f.NewElection(ext.ElectionConfig{Self: 1, Members: []ext.Member{{ID: 1, Weight: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Duration(0)
	deadline := time.Now().Add(30 * time.Second)
	for f.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the factory did not give up")
		}
		now += 100 * time.Millisecond
		el.Tick(now)
		time.Sleep(5 * time.Millisecond)
	}
	<-f.Failed()
	if err := f.Err(); !errors.Is(err, host.ErrElectionBudget) || !strings.Contains(err.Error(), "DeadlineExceeded") {
		t.Fatalf("Err() = %v, want host.ErrElectionBudget naming the deadline", err)
	}
	out := el.Start(now, ext.RoundStart{})
	if len(out.Send) != 0 || out.Decided != nil || out.WakeAt <= now {
		t.Fatalf("a call without a plugin answered %+v, want only a later wake-up", out)
	}
}

// optionsAndRefusals: the plugin's options reach its factory, a refused
// option is an error that does not cost the process, the plugin's log is
// labelled, and the module's process ends with its context.
func optionsAndRefusals(t *testing.T, open openFunc, bin string) {
	f, logs := open(t, host.ElectionConfig{Options: map[string]any{"finalizeWait": "50ms"}})
	pid := f.PluginPID()
	cfg := ext.ElectionConfig{Self: 1, Members: []ext.Member{{ID: 1, Weight: 1}}}
	el, err := f.NewElection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// FLE alone decides after its finalize wait: 50ms, as configured.
	out := el.Start(0, ext.RoundStart{})
	for out.Decided == nil && out.WakeAt > 0 {
		out = el.Tick(out.WakeAt)
	}
	if out.Decided == nil || out.Decided.State != ext.Leading {
		t.Fatalf("a lone voter did not lead: %+v", out)
	}
	if st, v := el.State(); st != ext.Leading || v.Leader != 1 {
		t.Fatalf("State() = %v %+v", st, v)
	}
	cfg.Options = map[string]any{"finalizeWait": "-1s"}
	if _, err := f.NewElection(cfg); err == nil || !strings.Contains(err.Error(), "finalizeWait") {
		t.Fatalf("a negative finalizeWait: %v, want an error naming it", err)
	}
	if f.PluginPID() != pid {
		t.Fatal("a refused option cost the plugin process")
	}
	for _, want := range []string{`msg="electionplugin instance"`, "plugin=electionplugin"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	m := &host.ElectionModule{}
	if err := m.DecodeOptions(map[string]any{"plugin": bin, "bogus": 1}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("an unknown option: %v, want an error naming it", err)
	}
	m = &host.ElectionModule{}
	if err := m.DecodeOptions(map[string]any{"plugin": bin, "rpcTimeout": "1s", "options_finalizeWait": "50ms"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Provision(registry.Context{Context: ctx, Logger: slog.New(slog.NewTextHandler(logs, nil))}); err != nil {
		t.Fatal(err)
	}
	mpid := m.PluginPID()
	if _, err := m.NewElection(ext.ElectionConfig{Self: 1, Members: []ext.Member{{ID: 1, Weight: 1}}}); err != nil {
		t.Fatal(err)
	}
	cancel() // the node's run ends
	waitDead(t, mpid)
}
