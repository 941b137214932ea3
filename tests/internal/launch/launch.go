// Package launch starts real server processes for end-to-end tests: zabkit
// built from this module, or Debian's Apache ZooKeeper 3.8 in a JVM, with
// the same zoo.cfg. Tests pick their targets with ZABKIT_E2E_TARGET so one
// test proves both that zabkit behaves and that the expectation itself is
// what Apache ZooKeeper does.
package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zabkit/zabkit/internal/zkraw"
)

// Kind names a server implementation.
type Kind string

// The two implementations tests run against.
const (
	Zabkit    Kind = "zabkit"
	ZooKeeper Kind = "zookeeper"
)

// TargetEnv selects the e2e targets: zabkit (default), zookeeper or both.
const TargetEnv = "ZABKIT_E2E_TARGET"

// BinEnv, when set, names a prebuilt zabkit binary to run instead of
// building one.
const BinEnv = "ZABKIT_BIN"

// StoreEnv, when set, is the store module zabkit runs with (e.g.
// store.pebble), so the same tests cover another store; zabkit gets it as
// ZABKIT_STORE_MODULE, Apache ZooKeeper ignores it.
const StoreEnv = "ZABKIT_E2E_STORE"

// Paths of Debian's Apache ZooKeeper packages.
const (
	JavaBin       = "java"
	ZooKeeperJar  = "/usr/share/java/zookeeper.jar"
	ZooKeeperConf = "/etc/zookeeper/conf"
	SLF4JSimple   = "/usr/share/java/slf4j-simple.jar"
)

// Targets returns the kinds selected by ZABKIT_E2E_TARGET.
func Targets(t testing.TB) []Kind {
	t.Helper()
	switch v := os.Getenv(TargetEnv); v {
	case "", "zabkit":
		return []Kind{Zabkit}
	case "zookeeper":
		return []Kind{ZooKeeper}
	case "both":
		return []Kind{Zabkit, ZooKeeper}
	default:
		t.Fatalf("%s=%q: want zabkit, zookeeper or both", TargetEnv, v)
		return nil
	}
}

// Options configure a server. The zero value is the standard test setup.
type Options struct {
	// Port is the client port; 0 picks a free one.
	Port int
	// DataDir reuses a data directory (to restart on the same state); empty
	// means a fresh one.
	DataDir string
	// TickTime in ms; 0 means 2000.
	TickTime int
	// ContainerCheckMs is the container/TTL reaper interval; 0 means 1000.
	ContainerCheckMs int
	// SuperDigest, e.g. "super:<b64>", enables the digest superuser.
	SuperDigest string
	// Extra zoo.cfg keys.
	Extra map[string]string
	// JVMProps are extra -D properties for Apache ZooKeeper only.
	JVMProps map[string]string
	// Quorum makes the server an ensemble member (Extra carries its
	// server.N lines and dataDir its myid); NoWait returns as soon as the
	// process runs, since a member serves only once a quorum is up.
	Quorum bool
	NoWait bool
	// PeerProxies (StartEnsemble) routes every member-to-member connection
	// through a proxy, so a test can partition members (Isolate, Heal).
	PeerProxies bool
	// Env adds environment variables (zabkit only), e.g.
	// ZABKIT_TRANSPORT_MODULE=transport.yamux.
	Env map[string]string
}

// Server is a running server process.
type Server struct {
	Kind    Kind
	Addr    string
	Port    int
	DataDir string
	// Dir holds zoo.cfg and the process log.
	Dir  string
	Opts Options

	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
	stopMu  sync.Mutex
	stopped bool

	// ensemble is the ensemble this server is member number member of;
	// nil for a standalone server.
	ensemble *Ensemble
	member   int
}

// Start launches a server of kind and waits until it serves sessions. It
// fails the test (never skips) when a required binary is missing, and
// stops the server when the test ends.
func Start(t testing.TB, kind Kind, opts Options) *Server {
	t.Helper()
	s, err := Launch(kind, opts, t.TempDir())
	if err != nil {
		t.Fatalf("start %s: %v", kind, err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("%s log tail (%s):\n%s", kind, s.logPath, s.LogTail(60))
			if errs := s.LogErrors(20); errs != "" {
				// A JVM repeating one stack trace can push the cause
				// out of the tail: show the first errors too.
				t.Logf("%s first errors in its log:\n%s", kind, errs)
			}
		}
	})
	return s
}

// StartZooKeeper starts Apache ZooKeeper (Debian's 3.8 jars).
func StartZooKeeper(t testing.TB, opts Options) *Server { return Start(t, ZooKeeper, opts) }

// StartZabkit builds zabkit once per test process and starts it.
func StartZabkit(t testing.TB, opts Options) *Server { return Start(t, Zabkit, opts) }

// Launch is Start without a testing.TB: dir is where the config and log go
// (and the data, unless opts.DataDir is set). The caller must Stop it.
func Launch(kind Kind, opts Options, dir string) (*Server, error) {
	if opts.TickTime == 0 {
		opts.TickTime = 2000
	}
	if opts.ContainerCheckMs == 0 {
		opts.ContainerCheckMs = 1000
	}
	var lastErr error
	// A port picked free can be taken before the server binds it; retry
	// with another one a few times.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := launchOnce(kind, opts, dir, attempt)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if opts.Port != 0 || errors.Is(err, ErrMissing) {
			break
		}
	}
	return nil, lastErr
}

// ErrMissing means a required external program or file is not installed.
var ErrMissing = errors.New("launch: required external missing")

func launchOnce(kind Kind, opts Options, dir string, attempt int) (*Server, error) {
	port := opts.Port
	if port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	runDir := filepath.Join(dir, fmt.Sprintf("%s-%d-%d", kind, port, attempt))
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, err
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = filepath.Join(runDir, "data")
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, err
		}
	}
	s := &Server{
		Kind: kind, Port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		DataDir: dataDir, Dir: runDir, Opts: opts,
		logPath: filepath.Join(runDir, "server.log"), exited: make(chan struct{}),
	}
	s.Opts.DataDir = dataDir
	cfgPath := filepath.Join(runDir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(ZooCfg(opts, dataDir, port)), 0o644); err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	switch kind {
	case ZooKeeper:
		args, err := javaArgs(opts, cfgPath)
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(JavaBin, args...)
	case Zabkit:
		bin, err := ZabkitBinary()
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(bin, "server", "--config", cfgPath)
		cmd.Env = serverEnv()
		if m := os.Getenv(StoreEnv); m != "" {
			cmd.Env = append(cmd.Env, "ZABKIT_STORE_MODULE="+m)
		}
		for k, v := range opts.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	default:
		return nil, fmt.Errorf("launch: unknown kind %q", kind)
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	cmd.Dir = runDir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("launch %s: %w", kind, err)
	}
	s.cmd = cmd
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	if opts.NoWait {
		return s, nil
	}
	if err := s.waitReady(60 * time.Second); err != nil {
		s.Kill()
		return nil, fmt.Errorf("%s on %s not ready: %w\nlog tail:\n%s", kind, s.Addr, err, s.LogTail(40))
	}
	return s, nil
}

// ZooCfg renders the zoo.cfg both implementations read. Keys ZooKeeper
// only takes as JVM properties are written too, under the names zabkit
// reads; javaArgs passes them to the JVM as -D.
func ZooCfg(opts Options, dataDir string, port int) string {
	if opts.TickTime == 0 {
		opts.TickTime = 2000
	}
	if opts.ContainerCheckMs == 0 {
		opts.ContainerCheckMs = 1000
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\n", opts.TickTime)
	fmt.Fprintf(&b, "dataDir=%s\n", dataDir)
	fmt.Fprintf(&b, "clientPort=%d\n", port)
	b.WriteString("clientPortAddress=127.0.0.1\n")
	b.WriteString("maxClientCnxns=0\n")
	b.WriteString("4lw.commands.whitelist=*\n")
	b.WriteString("forceSync=yes\n")
	b.WriteString("zookeeper.extendedTypesEnabled=true\n")
	fmt.Fprintf(&b, "znode.container.checkIntervalMs=%d\n", opts.ContainerCheckMs)
	b.WriteString("admin.enableServer=false\n")
	if opts.SuperDigest != "" {
		fmt.Fprintf(&b, "zookeeper.DigestAuthenticationProvider.superDigest=%s\n", opts.SuperDigest)
	}
	keys := make([]string, 0, len(opts.Extra))
	for k := range opts.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, opts.Extra[k])
	}
	return b.String()
}

func javaArgs(opts Options, cfgPath string) ([]string, error) {
	if _, err := exec.LookPath(JavaBin); err != nil {
		return nil, fmt.Errorf("%w: java not on PATH (apt-get install default-jre-headless)", ErrMissing)
	}
	if _, err := os.Stat(ZooKeeperJar); err != nil {
		return nil, fmt.Errorf("%w: %s (apt-get install zookeeper): %w", ErrMissing, ZooKeeperJar, err)
	}
	cp := ZooKeeperJar + ":" + ZooKeeperConf
	if _, err := os.Stat(SLF4JSimple); err == nil {
		cp += ":" + SLF4JSimple
	}
	props := map[string]string{
		"zookeeper.extendedTypesEnabled":         "true",
		"znode.container.checkIntervalMs":        strconv.Itoa(opts.ContainerCheckMs),
		"org.slf4j.simpleLogger.defaultLogLevel": "warn",
	}
	if opts.SuperDigest != "" {
		props["zookeeper.DigestAuthenticationProvider.superDigest"] = opts.SuperDigest
	}
	for k, v := range opts.JVMProps {
		props[k] = v
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := []string{"-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto"}
	for _, k := range keys {
		args = append(args, "-D"+k+"="+props[k])
	}
	main := "org.apache.zookeeper.server.ZooKeeperServerMain"
	if opts.Quorum {
		main = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
	}
	args = append(args, "-cp", cp, main, cfgPath)
	return args, nil
}

// serverEnv is this process's environment without the test knobs
// (ZABKIT_E2E_*, ZABKIT_DIFF_*, ZABKIT_BIN), which zabkit would log as
// unknown ZABKIT_ variables.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ZABKIT_E2E_") || strings.HasPrefix(kv, "ZABKIT_DIFF_") || strings.HasPrefix(kv, BinEnv+"=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildDir  string
)

// ZabkitBinary returns the path of a zabkit binary: $ZABKIT_BIN, or one
// built from this module once per test process.
func ZabkitBinary() (string, error) {
	if p := os.Getenv(BinEnv); p != "" {
		return p, nil
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zabkit-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		bin := filepath.Join(dir, "zabkit")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/zabkit/zabkit/cmd/zabkit")
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build zabkit: %w\n%s", err, out.String())
			return
		}
		buildBin = bin
	})
	return buildBin, buildErr
}

// Cleanup removes the binary built by ZabkitBinary; call it from TestMain.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitReady waits until the server serves sessions.
func (s *Server) WaitReady(timeout time.Duration) error { return s.waitReady(timeout) }

// waitReady polls ruok until imok, then requires a full session handshake.
func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("process exited: %v", s.waitErr)
		default:
		}
		out, err := FourLetter(s.Addr, "ruok", time.Second)
		if err == nil && out == "imok" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, err := zkraw.Dial(ctx, s.Addr, zkraw.Options{Timeout: 10 * time.Second})
			if err == nil {
				err = c.CloseSession(ctx)
			}
			cancel()
			if err == nil {
				return nil
			}
			last = err
		} else if err != nil {
			last = err
		} else {
			last = fmt.Errorf("ruok answered %q", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %v: %v", timeout, last)
}

// FourLetter sends a four-letter word on a fresh connection and returns
// everything the server writes before it closes.
func FourLetter(addr, cmd string, timeout time.Duration) (string, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(timeout))
	if _, err := nc.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(nc)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		return buf.String(), err
	}
	return buf.String(), nil
}

// Stop ends the server gracefully (SIGTERM, then SIGKILL after 10 s). It
// is idempotent.
func (s *Server) Stop() { s.signal(syscall.SIGTERM, 10*time.Second) }

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() { s.signal(syscall.SIGKILL, 0) }

func (s *Server) signal(sig syscall.Signal, grace time.Duration) {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if s.stopped || s.cmd == nil {
		return
	}
	s.stopped = true
	_ = s.cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-s.exited:
			return
		case <-time.After(grace):
			_ = s.cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	<-s.exited
}

// Exited is closed when the process has ended.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Restart starts a new process of the same kind on the same data directory
// and port (the old one must be stopped or killed first).
func (s *Server) Restart(t testing.TB) *Server {
	t.Helper()
	opts := s.Opts
	opts.DataDir = s.DataDir
	opts.Port = s.Port
	return Start(t, s.Kind, opts)
}

// LogErrors returns the first n log lines that report an error (ERROR,
// FATAL, an exception or a Go "level=ERROR"), skipping stack frames.
func (s *Server) LogErrors(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if len(out) >= n {
			break
		}
		if strings.Contains(line, "ERROR") || strings.Contains(line, "FATAL") ||
			strings.Contains(line, "level=ERROR") || strings.Contains(line, "Exception:") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// LogTail returns the last n lines of the process log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
