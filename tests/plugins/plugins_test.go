// Package plugins tests store.external end to end: a real `zabkit server`
// process whose store is the example bbolt plugin (plugins/examples), real
// clients, and kill -9 of the plugin process in the middle of writes.
package plugins

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/plugins/sdk/sdktest"
	"github.com/zabkit/zabkit/tests/internal/launch"
)

// plugin is the bbolt example plugin, built once.
var plugin string

func TestMain(m *testing.M) {
	bin, cleanup, err := sdktest.Build("../../plugins/examples/bboltstore")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plugin = bin
	code := m.Run()
	cleanup()
	launch.Cleanup()
	os.Exit(code)
}

// server is a zabkit process run by the test itself, which needs its pid
// (to find the plugin) and its exit status.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string
	logPath string
	done    chan struct{}
	err     error
}

// startServer runs `zabkit server` on store.external with the bbolt plugin;
// env adds ZABKIT_* settings (the restart budget).
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	bin, err := launch.ZabkitBinary()
	if err != nil {
		t.Fatal(err)
	}
	port, err := launch.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(launch.ZooCfg(launch.Options{}, data, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, addr: "127.0.0.1:" + strconv.Itoa(port), logPath: filepath.Join(dir, "server.log"), done: make(chan struct{})}
	logf, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "server", "--config", cfg)
	s.cmd.Env = append(os.Environ(),
		"ZABKIT_STORE_MODULE=store.external",
		"ZABKIT_STORE_OPTIONS_PLUGIN="+plugin,
		"ZABKIT_STORE_OPTIONS_RESTART_BACKOFF=50ms")
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); logf.Close(); close(s.done) }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", s.log())
		}
	})
	return s
}

// stop ends the server with SIGTERM (SIGKILL after 15 s) and waits.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// pluginPID waits for the server's plugin child and returns its pid; it
// skips old, a pid killed before.
func (s *server) pluginPID(old int) int {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, pid := range children(s.cmd.Process.Pid) {
			if pid != old && exeBase(pid) == filepath.Base(plugin) {
				return pid
			}
		}
		select {
		case <-s.done:
			s.t.Fatalf("server exited (%v) while waiting for its plugin", s.err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.t.Fatal("no plugin process appeared")
	return 0
}

// children lists the processes whose parent is ppid.
func children(ppid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at ')'.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}

func exeBase(pid int) string {
	p, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
	if err != nil {
		return ""
	}
	return filepath.Base(p)
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// connect opens a session that survives the server's restarts of its
// store (the client reconnects and re-attaches).
func connect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 20*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, _, err := c.Exists("/"); err == nil {
			return c
		} else if time.Now().After(deadline) {
			t.Fatalf("server on %s does not answer: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writer creates /w-<i>, i = 0, 1, ..., recording which creates were
// acknowledged; a create that failed (connection lost while the store
// restarted) has an unknown outcome and is not counted.
type writer struct {
	mu    sync.Mutex
	acked []int
	fails int
}

func (w *writer) run(c *zk.Conn, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		_, err := c.Create(fmt.Sprintf("/w-%06d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll))
		w.mu.Lock()
		if err == nil {
			w.acked = append(w.acked, i)
		} else {
			w.fails++
		}
		w.mu.Unlock()
		if err != nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitAcks waits until the writer has n acknowledged creates.
func waitAcks(t *testing.T, w *writer, n int, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for w.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: only %d acknowledged writes after 60s, want %d", what, w.count(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKillPluginKeepsAcknowledgedWrites SIGKILLs the store plugin twice
// during a write load: the server restarts it, recovers and serves again
// on its own, and every create it acknowledged, before or after the kills,
// is there.
func TestKillPluginKeepsAcknowledgedWrites(t *testing.T) {
	s := startServer(t, "ZABKIT_STORE_OPTIONS_RESTARTS=3")
	c := connect(t, s.addr)
	w := &writer{}
	stop, done := make(chan struct{}), make(chan struct{})
	go w.run(c, stop, done)
	pid := 0
	for round := 1; round <= 2; round++ {
		waitAcks(t, w, 150*round, fmt.Sprintf("before kill %d", round))
		pid = s.pluginPID(pid)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		t.Logf("kill %d: plugin %d killed after %d acknowledged creates", round, pid, w.count())
		waitAcks(t, w, 150*round+100, fmt.Sprintf("after kill %d", round))
	}
	close(stop)
	<-done
	if alive(pid) {
		t.Errorf("killed plugin %d still runs", pid)
	}
	w.mu.Lock()
	acked, fails := w.acked, w.fails
	w.mu.Unlock()
	for _, i := range acked {
		p := fmt.Sprintf("/w-%06d", i)
		if ok, _, err := c.Exists(p); err != nil || !ok {
			t.Fatalf("acknowledged create %s is missing after the plugin restarts (exists=%v, err=%v)", p, ok, err)
		}
	}
	if fails == 0 {
		t.Error("no create failed around the kills: the test did not hit the restart")
	}
	s.stop()
	if s.err != nil {
		t.Errorf("server stopped by SIGTERM after the restarts exited with %v, want 0", s.err)
	}
	log := s.log()
	for _, want := range []string{"store plugin failed", "restarting the store plugin", "bbolt store open"} {
		if !strings.Contains(log, want) {
			t.Errorf("server log lacks %q", want)
		}
	}
	t.Logf("%d acknowledged creates all present; %d failed around two plugin kills", len(acked), fails)
}

// TestRestartBudgetExhaustedExits kills the plugin more often than the
// budget allows: the server gives up with exit code 4 and says why.
func TestRestartBudgetExhaustedExits(t *testing.T) {
	s := startServer(t, "ZABKIT_STORE_OPTIONS_RESTARTS=1", "ZABKIT_STORE_OPTIONS_RESTART_WINDOW=10m")
	connect(t, s.addr)
	first := s.pluginPID(0)
	syscall.Kill(first, syscall.SIGKILL)
	second := s.pluginPID(first)
	connect(t, s.addr) // recovered and serving again
	syscall.Kill(second, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		t.Fatal("server still runs after the plugin failed past its budget")
	}
	var ee *exec.ExitError
	if !errors.As(s.err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("server exited with %v, want exit code 4", s.err)
	}
	if !strings.Contains(s.log(), "restart budget exhausted") {
		t.Errorf("the log does not say the restart budget was exhausted")
	}
	if alive(second) {
		t.Errorf("plugin %d outlived its server", second)
	}
}
