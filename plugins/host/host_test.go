package host_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/plugins/host"
	"github.com/zabkit/zabkit/plugins/sdk/sdktest"
)

// testPlugin is internal/testplugin, built once: a mem store with faults.
var testPlugin string

// orphanHostEnv makes the test binary a host that opens the test plugin,
// prints the plugin's pid and waits to be killed (TestNoOrphans).
const orphanHostEnv = "ZABKIT_HOST_TEST_ORPHAN"

func TestMain(m *testing.M) {
	bin, cleanup, err := sdktest.Build("./internal/testplugin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testPlugin = bin
	if os.Getenv(orphanHostEnv) != "" {
		s, err := host.OpenStore(context.Background(), host.StoreConfig{Launch: host.LaunchConfig{Path: bin}})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(s.PluginPID())
		select {}
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// syncBuffer is a log destination tests read while the plugin writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func open(t *testing.T, cfg host.StoreConfig) (*host.Store, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Launch.Path = testPlugin
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("plugin", "testplugin")
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = time.Millisecond
	}
	s, err := host.OpenStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logs
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStallFailsFastAndRestarts: an Append the plugin never answers fails
// after the RPC deadline with host.ErrPluginFailed, the process is killed,
// every further call fails at once, and Restart brings up a new process
// on the same database.
func TestStallFailsFastAndRestarts(t *testing.T) {
	s, logs := open(t, host.StoreConfig{RPCTimeout: 300 * time.Millisecond, Options: map[string]any{"dbid": "fixed", "stallAfter": 1}})
	storetest.MustAppend(t, s, storetest.Entries(10, 1)...)
	pid := s.PluginPID()
	err := s.Append(context.Background(), storetest.Entries(10, 2))
	if !errors.Is(err, host.ErrPluginFailed) {
		t.Fatalf("stalled Append returned %v, want host.ErrPluginFailed", err)
	}
	select {
	case <-s.Failed():
	default:
		t.Fatal("Failed() not closed after a stall")
	}
	waitDead(t, pid)
	start := time.Now()
	if _, err := s.LoadMeta(); !errors.Is(err, host.ErrPluginFailed) {
		t.Fatalf("LoadMeta on a failed store: %v", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("a call on a failed store took %v; it must fail at once", d)
	}
	if err := s.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.PluginPID() == pid {
		t.Fatal("Restart kept the old process")
	}
	storetest.MustAppend(t, s, storetest.Entries(10, 1)...) // a fresh mem store
	for _, want := range []string{"msg=\"testplugin open\"", "testplugin: a plain stderr line", "plugin=testplugin"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestKilledPluginIsNoticed: a plugin killed while idle is noticed by the
// health pings.
func TestKilledPluginIsNoticed(t *testing.T) {
	s, _ := open(t, host.StoreConfig{HealthInterval: 20 * time.Millisecond})
	syscall.Kill(s.PluginPID(), syscall.SIGKILL)
	select {
	case <-s.Failed():
	case <-time.After(10 * time.Second):
		t.Fatal("a killed plugin was not noticed")
	}
	if err := s.Append(context.Background(), storetest.Entries(1, 1)); !errors.Is(err, host.ErrPluginFailed) {
		t.Fatalf("Append after the kill: %v", err)
	}
}

// TestOtherDatabaseRefused: a plugin that comes back with another db id
// is refused, and not retried.
func TestOtherDatabaseRefused(t *testing.T) {
	s, _ := open(t, host.StoreConfig{}) // a random db id per process
	syscall.Kill(s.PluginPID(), syscall.SIGKILL)
	if err := s.Restart(context.Background()); !errors.Is(err, host.ErrIdentity) {
		t.Fatalf("Restart onto another database: %v, want host.ErrIdentity", err)
	}
}

// TestRestartBudget: past its budget Restart gives up and names the cause.
func TestRestartBudget(t *testing.T) {
	s, _ := open(t, host.StoreConfig{Restarts: 2, Options: map[string]any{"dbid": "fixed"}})
	for i := range 2 {
		syscall.Kill(s.PluginPID(), syscall.SIGKILL)
		if err := s.Restart(context.Background()); err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
	}
	s.FailForTest(errors.New("injected"))
	err := s.Restart(context.Background())
	if !errors.Is(err, host.ErrRestartBudget) || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("third Restart with a budget of 2: %v, want host.ErrRestartBudget naming the cause", err)
	}
}

// TestChecksum: a configured SHA-256 must match the binary.
func TestChecksum(t *testing.T) {
	b, err := os.ReadFile(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	_, err = host.OpenStore(context.Background(), host.StoreConfig{Launch: host.LaunchConfig{Path: testPlugin, SHA256: strings.Repeat("ab", 32)}})
	if !errors.Is(err, host.ErrChecksum) {
		t.Fatalf("wrong checksum: %v, want host.ErrChecksum", err)
	}
	s, _ := open(t, host.StoreConfig{Launch: host.LaunchConfig{SHA256: hex.EncodeToString(sum[:])}})
	storetest.MustAppend(t, s, storetest.Entries(1, 1)...)
}

// TestProtocolMismatch: a plugin of another protocol version is refused
// with host.ErrProtocol.
func TestProtocolMismatch(t *testing.T) {
	t.Setenv("TESTPLUGIN_PROTOCOL", "99")
	_, err := host.OpenStore(context.Background(), host.StoreConfig{Launch: host.LaunchConfig{Path: testPlugin}})
	if !errors.Is(err, host.ErrProtocol) {
		t.Fatalf("plugin speaking protocol 99: %v, want host.ErrProtocol", err)
	}
}

// TestNoOrphans: a host killed with SIGKILL takes its plugin with it.
func TestNoOrphans(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), orphanHostEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		cmd.Process.Kill()
		t.Fatalf("host child said %q (%v)", line, err)
	}
	cmd.Process.Kill() // SIGKILL: no chance to clean up
	cmd.Wait()
	waitDead(t, pid)
}

var _ ext.Store = (*host.Store)(nil)
