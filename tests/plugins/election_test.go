package plugins

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/plugins/sdk/sdktest"
	"github.com/zabkit/zabkit/tests/internal/launch"
)

// electionPlugin builds the example election plugin for one test.
func electionPlugin(t *testing.T) string {
	t.Helper()
	t.Setenv(sdktest.BinaryEnv, "") // TestMain's Build named the store plugin there
	bin, cleanup, err := sdktest.Build("../../plugins/examples/bullyelection")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return bin
}

// TestEnsembleOnPlugins runs three zabkit processes whose store and
// election are both plugins (the bbolt and bully examples) under a write
// load, and kill -9s the leader: its plugins die with it, the other two
// elect a leader and go on acknowledging writes, the old leader rejoins
// when restarted, and every acknowledged write is on every member.
func TestEnsembleOnPlugins(t *testing.T) {
	bully := electionPlugin(t)
	e := launch.StartEnsemble(t, launch.Zabkit, 3, 0, launch.Options{TickTime: 300, Env: map[string]string{
		"ZABKIT_STORE_MODULE":                         "store.external",
		"ZABKIT_STORE_OPTIONS_PLUGIN":                 plugin,
		"ZABKIT_ELECTION_MODULE":                      "election.external",
		"ZABKIT_ELECTION_OPTIONS_PLUGIN":              bully,
		"ZABKIT_ELECTION_OPTIONS_OPTIONS_GATHER_WAIT": "150ms",
	}})
	conn, _, err := zk.Connect(e.Addrs(), 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := &writer{}
	stop, done := make(chan struct{}), make(chan struct{})
	go w.run(conn, stop, done)
	waitAcks(t, w, 100, "before the kill")

	lead := e.Leader(10 * time.Second)
	if lead < 0 {
		t.Fatal("no leader")
	}
	server := serverPID(t, e.Members[lead])
	kids := children(server)
	names := map[string]bool{}
	for _, pid := range kids {
		names[exeBase(pid)] = true
	}
	if !names[filepath.Base(plugin)] || !names[filepath.Base(bully)] {
		t.Fatalf("the leader's children %v are not both plugins (%v)", kids, names)
	}
	t.Logf("kill -9 leader (member %d, pid %d, plugins %v)", lead+1, server, kids)
	e.Members[lead].Kill()
	for _, pid := range kids {
		waitGone(t, pid)
	}
	waitAcks(t, w, w.count()+100, "after the leader's kill")
	if l := e.Leader(30 * time.Second); l < 0 || l == lead {
		t.Fatalf("leader after the kill: member %d", l+1)
	}
	if err := e.Restart(lead); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitAcks(t, w, w.count()+50, "after the restart")
	close(stop)
	<-done
	w.mu.Lock()
	acked := w.acked
	w.mu.Unlock()
	for i, addr := range e.Addrs() {
		c := connect(t, addr)
		if _, err := c.Sync("/"); err != nil {
			t.Fatalf("member %d: sync: %v", i+1, err)
		}
		for _, n := range acked {
			p := fmt.Sprintf("/w-%06d", n)
			if ok, _, err := c.Exists(p); err != nil || !ok {
				t.Fatalf("member %d lacks acknowledged create %s (exists=%v, err=%v)", i+1, p, ok, err)
			}
		}
	}
	for i, m := range e.Members {
		if log := m.LogTail(100000); !strings.Contains(log, "plugin=bullyelection") || !strings.Contains(log, "msg=decided") {
			t.Errorf("member %d's log lacks the election plugin's own records", i+1)
		}
	}
	t.Logf("%d acknowledged creates on all 3 members", len(acked))
}

// TestElectionPluginBudgetExits: a one-voter ensemble (standaloneEnabled
// false) whose election plugin is killed more often than its budget
// allows exits with code 4 and says why; the plugin it killed is gone.
func TestElectionPluginBudgetExits(t *testing.T) {
	bully := electionPlugin(t)
	q, err := launch.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	el, err := launch.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "ZABKIT_MYID=1", "ZABKIT_STANDALONEENABLED=false", "ZABKIT_INITLIMIT=10", "ZABKIT_SYNCLIMIT=5",
		fmt.Sprintf("ZABKIT_SERVER_1=127.0.0.1:%d:%d", q, el),
		"ZABKIT_ELECTION_MODULE=election.external",
		"ZABKIT_ELECTION_OPTIONS_PLUGIN="+bully,
		"ZABKIT_ELECTION_OPTIONS_RESTARTS=1",
		"ZABKIT_ELECTION_OPTIONS_RESTART_BACKOFF=10ms",
		"ZABKIT_ELECTION_OPTIONS_HEALTH_INTERVAL=50ms")
	connect(t, s.addr) // elected itself and serves
	first := childNamed(t, s, filepath.Base(bully), 0)
	syscall.Kill(first, syscall.SIGKILL)
	second := childNamed(t, s, filepath.Base(bully), first)
	syscall.Kill(second, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		t.Fatal("server still runs after its election plugin failed past the budget")
	}
	var ee *exec.ExitError
	if !errors.As(s.err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("server exited with %v, want exit code 4", s.err)
	}
	if !strings.Contains(s.log(), "election plugin restart budget exhausted") {
		t.Error("the log does not say the election plugin's restart budget was exhausted")
	}
	for _, pid := range []int{first, second} {
		if alive(pid) {
			t.Errorf("plugin %d outlived its server", pid)
		}
	}
}

// serverPID finds the process of a launched server by the config file on
// its command line.
func serverPID(t *testing.T, s *launch.Server) int {
	t.Helper()
	cfg := filepath.Join(s.Dir, "zoo.cfg")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), cfg) {
			return pid
		}
	}
	t.Fatalf("no process runs %s", cfg)
	return 0
}

// childNamed waits for a child of s running the binary name, other than
// old.
func childNamed(t *testing.T, s *server, name string, old int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, pid := range children(s.cmd.Process.Pid) {
			if pid != old && exeBase(pid) == name {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s child other than %d appeared", name, old)
	return 0
}

// waitGone waits for pid to end. A zombie counts as ended: its parent
// was killed, and whoever inherited it reaps it in its own time.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin %d outlived its killed server", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}
