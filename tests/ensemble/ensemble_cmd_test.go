package ensemble_test

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/tests/internal/launch"
)

// ensembleCmd is a running `zabkit ensemble` and what it has printed.
type ensembleCmd struct {
	cmd     *exec.Cmd
	lines   chan string // stdout, line by line; closed at EOF
	pending []string    // lines read but not yet returned by until
	logPath string      // the members' prefixed logs (its stderr)
	exited  chan struct{}
	waitErr error
}

// freeRange picks a base port with n free consecutive loopback ports.
// Another process may still take one before the command binds it; the
// caller retries then.
func freeRange(n int) (int, error) {
	for range 50 {
		base := 20000 + rand.IntN(40000)
		free := true
		for p := base; p < base+n && free; p++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				free = false
				continue
			}
			ln.Close()
		}
		if free {
			return base, nil
		}
	}
	return 0, errors.New("no free port range")
}

func startEnsembleCmd(t *testing.T, dir string, nodes int) (*ensembleCmd, int) {
	t.Helper()
	bin, err := launch.ZabkitBinary()
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		base, err := freeRange(3 * nodes)
		if err != nil {
			t.Fatal(err)
		}
		e := &ensembleCmd{lines: make(chan string, 100), exited: make(chan struct{}),
			logPath: filepath.Join(t.TempDir(), "ensemble.log")}
		logf, err := os.Create(e.logPath)
		if err != nil {
			t.Fatal(err)
		}
		e.cmd = exec.Command(bin, "ensemble", "--nodes", strconv.Itoa(nodes), "--dir", dir,
			"--client-port", strconv.Itoa(base), "--quorum-port", strconv.Itoa(base+nodes),
			"--election-port", strconv.Itoa(base+2*nodes))
		e.cmd.Stderr = logf
		// If the test binary dies, so does the command, and with it (by its
		// own Pdeathsig) every member.
		e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := e.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := e.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				e.lines <- sc.Text()
			}
			close(e.lines)
			e.waitErr = e.cmd.Wait()
			logf.Close()
			close(e.exited)
		}()
		t.Cleanup(func() {
			_ = e.cmd.Process.Kill()
			<-e.exited
		})
		// A port taken between freeRange and the command's own check ends
		// the command before its banner; try another range.
		if first, ok := <-e.lines; ok {
			e.pending = append(e.pending, first)
			return e, base
		}
		<-e.exited
		if attempt < 3 && strings.Contains(e.logTail(5), "needs port") {
			continue
		}
		t.Fatalf("zabkit ensemble printed nothing: %v\n%s", e.waitErr, e.logTail(40))
	}
}

// until reads stdout until a line matches, returning every line read
// since the last call.
func (e *ensembleCmd) until(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	seen := e.pending
	e.pending = nil
	for i, l := range seen {
		if re.MatchString(l) {
			e.pending = seen[i+1:]
			return seen[:i+1]
		}
	}
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-e.lines:
			if !ok {
				<-e.exited
				t.Fatalf("zabkit ensemble ended (%v) before %q; it printed:\n%s\nlog tail:\n%s",
					e.waitErr, re, strings.Join(seen, "\n"), e.logTail(40))
			}
			seen = append(seen, l)
			if re.MatchString(l) {
				return seen
			}
		case <-deadline:
			t.Fatalf("no %q within %v; printed:\n%s\nlog tail:\n%s", re, timeout, strings.Join(seen, "\n"), e.logTail(40))
		}
	}
}

func (e *ensembleCmd) logTail(n int) string {
	b, _ := os.ReadFile(e.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestEnsembleCommand runs the one-command local ensemble a user would
// try: it must come up with a leader, replicate a write from one member
// to another, prefix each member's log, and on Ctrl-C stop every member
// and exit 0.
func TestEnsembleCommand(t *testing.T) {
	dir := t.TempDir()
	e, base := startEnsembleCmd(t, dir, 3)
	banner := e.until(t, regexp.MustCompile(`^zabkit ensemble: ready in `), 30*time.Second)
	ready := banner[len(banner)-1]
	if !regexp.MustCompile(`leader node[123] \(pid \d+\)`).MatchString(ready) || strings.Count(ready, " follower ") != 2 {
		t.Fatalf("ready line does not name one leader and two followers: %s", ready)
	}
	pids := map[string]int{}
	pidRe := regexp.MustCompile(`^\s+(node\d+)\s+pid (\d+)\s`)
	connStr := ""
	for _, l := range banner {
		if m := pidRe.FindStringSubmatch(l); m != nil {
			pids[m[1]], _ = strconv.Atoi(m[2])
		}
		if s, ok := strings.CutPrefix(l, "connect string: "); ok {
			connStr = s
		}
	}
	if len(pids) != 3 {
		t.Fatalf("want 3 member pids in the banner, got %v:\n%s", pids, strings.Join(banner, "\n"))
	}
	want := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", base, base+1, base+2)
	if connStr != want {
		t.Fatalf("connect string %q, want %q", connStr, want)
	}
	for i := 1; i <= 3; i++ {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("node%d.yaml", i))); err != nil {
			t.Fatal(err)
		}
		if id, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("node%d", i), "myid")); err != nil || strings.TrimSpace(string(id)) != strconv.Itoa(i) {
			t.Fatalf("node%d myid %q, %v", i, id, err)
		}
	}

	addrs := strings.Split(connStr, ",")
	w := connect(t, addrs[0])
	if _, err := w.Create("/tried", []byte("replicated"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	r := connect(t, addrs[2])
	if _, err := r.Sync("/tried"); err != nil {
		t.Fatal(err)
	}
	if data, _, err := r.Get("/tried"); err != nil || string(data) != "replicated" {
		t.Fatalf("read through node3: %q, %v", data, err)
	}
	w.Close()
	r.Close()

	if err := e.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	stopped := e.until(t, regexp.MustCompile(`^\s+node3 \(pid \d+\): `), 30*time.Second)
	if n := len(regexp.MustCompile(`node\d \(pid \d+\): exited 0`).FindAllString(strings.Join(stopped, "\n"), -1)); n != 3 {
		t.Errorf("want all 3 members to stop cleanly (exited 0):\n%s", strings.Join(stopped, "\n"))
	}
	for range e.lines { // to EOF
	}
	<-e.exited
	if e.waitErr != nil {
		t.Fatalf("zabkit ensemble exit: %v; printed:\n%s", e.waitErr, strings.Join(stopped, "\n"))
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after the command exited: kill 0 = %v", name, pid, err)
		}
	}
	log, err := os.ReadFile(e.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for name := range pids {
		if !strings.Contains(string(log), "\n["+name+"] ") {
			t.Errorf("no %q-prefixed log line", "["+name+"]")
		}
	}
	for _, l := range strings.Split(string(log), "\n") {
		if l != "" && !strings.HasPrefix(l, "[node") {
			t.Errorf("unprefixed line on stderr: %q", l)
		}
	}
}
