// Package testzk runs Debian's Apache ZooKeeper 3.8 (package `zookeeper`)
// as a standalone server on a loopback port for interoperability and
// differential tests.
//
// A missing java or zookeeper.jar fails the test: these tests exist to
// compare against the real thing, and skipping would hide that they did
// not run.
package testzk

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Default locations of the Debian package.
const (
	DefaultJar     = "/usr/share/java/zookeeper.jar" // its manifest Class-Path lists the deps
	DefaultConfDir = "/etc/zookeeper/conf"           // log4j config
	mainClass      = "org.apache.zookeeper.server.ZooKeeperServerMain"
)

// Options configure a server. The zero value is a plain standalone server
// in a fresh temporary data dir.
type Options struct {
	// DataDir reuses a data dir (e.g. to restart a stopped server on the
	// same data). Empty means a new t.TempDir().
	DataDir string
	// SnapCount is zoo.cfg snapCount (0 = ZooKeeper's default 100000; the
	// minimum it honours is 2).
	SnapCount int
	// ExtendedTypes enables TTL nodes (-Dzookeeper.extendedTypesEnabled).
	ExtendedTypes bool
	// Config adds or overrides zoo.cfg keys.
	Config map[string]string
	// JVMProps adds -D system properties.
	JVMProps map[string]string
	// StartTimeout bounds the wait for the server to answer srvr
	// (default 60s; a loaded 2-core machine can be slow to start a JVM).
	StartTimeout time.Duration
}

// Server is a running Apache ZooKeeper.
type Server struct {
	Addr    string // 127.0.0.1:port
	DataDir string
	LogFile string // the JVM's stdout and stderr

	t    testing.TB
	cmd  *exec.Cmd
	once sync.Once
	done chan struct{}
}

// Start launches a server and waits until it serves. It registers Stop with
// t.Cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("testzk: java not found (install default-jre-headless): %v", err)
	}
	if _, err := os.Stat(DefaultJar); err != nil {
		t.Fatalf("testzk: Apache ZooKeeper not installed (apt-get install zookeeper): %v", err)
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	runDir := t.TempDir()
	port := freePort(t)

	cfg := map[string]string{
		"tickTime":                "2000",
		"dataDir":                 dataDir,
		"clientPort":              fmt.Sprint(port),
		"clientPortAddress":       "127.0.0.1",
		"4lw.commands.whitelist":  "*",
		"admin.enableServer":      "false",
		"maxClientCnxns":          "0",
		"autopurge.purgeInterval": "0",
	}
	if opts.SnapCount > 0 {
		cfg["snapCount"] = fmt.Sprint(opts.SnapCount)
	}
	for k, v := range opts.Config {
		cfg[k] = v
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, cfg[k])
	}
	cfgPath := filepath.Join(runDir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o644); err != nil {
		t.Fatalf("testzk: %v", err)
	}

	args := []string{"-Xmx256m", "-XX:+UseSerialGC", "-Xshare:auto"}
	props := map[string]string{"zookeeper.jmx.log4j.disable": "true"}
	if opts.ExtendedTypes {
		props["zookeeper.extendedTypesEnabled"] = "true"
	}
	for k, v := range opts.JVMProps {
		props[k] = v
	}
	pkeys := make([]string, 0, len(props))
	for k := range props {
		pkeys = append(pkeys, k)
	}
	sort.Strings(pkeys)
	for _, k := range pkeys {
		args = append(args, "-D"+k+"="+props[k])
	}
	classpath := DefaultJar + ":" + DefaultConfDir
	if _, err := os.Stat("/usr/share/java/slf4j-simple.jar"); err == nil {
		classpath += ":/usr/share/java/slf4j-simple.jar"
	}
	args = append(args, "-cp", classpath, mainClass, cfgPath)

	logPath := filepath.Join(runDir, "zookeeper.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("testzk: %v", err)
	}
	cmd := exec.Command(java, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = runDir
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("testzk: start java: %v", err)
	}
	s := &Server{
		Addr:    fmt.Sprintf("127.0.0.1:%d", port),
		DataDir: dataDir,
		LogFile: logPath,
		t:       t,
		cmd:     cmd,
		done:    make(chan struct{}),
	}
	go func() {
		cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	t.Cleanup(s.Stop)

	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		out, err := s.FourLetter("srvr")
		if err == nil && strings.Contains(out, "Zookeeper version") && strings.Contains(out, "Mode:") {
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("testzk: ZooKeeper exited during start-up; log:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			t.Fatalf("testzk: ZooKeeper did not serve within %v; log:\n%s", timeout, s.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FourLetter sends a four-letter word and returns the reply.
func (s *Server) FourLetter(cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var b strings.Builder
	r := bufio.NewReader(c)
	_, err = r.WriteTo(&b)
	return b.String(), err
}

// Stop kills the server (SIGKILL, like a crash: ZooKeeper 3.8 writes no
// snapshot on shutdown anyway) and waits for it to exit. It is idempotent.
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.cmd.Process != nil {
			s.cmd.Process.Kill()
		}
		<-s.done
	})
}

// Log returns what the JVM printed so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogFile)
	return string(b)
}

// Snapshots returns the snapshot files in the data dir, oldest first by
// zxid.
func (s *Server) Snapshots() []string {
	m, _ := filepath.Glob(filepath.Join(s.DataDir, "version-2", "snapshot.*"))
	sort.Slice(m, func(i, j int) bool { return snapZxid(m[i]) < snapZxid(m[j]) })
	return m
}

func snapZxid(path string) uint64 {
	var z uint64
	fmt.Sscanf(strings.TrimPrefix(filepath.Base(path), "snapshot."), "%x", &z)
	return z
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testzk: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
