package bench

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The failover mode's mechanics against one real server: it kills the
// given process with SIGKILL, then reports the write its probe got
// acknowledged, with the background writer having written meanwhile, and
// leaves no probe znode behind. (A standalone server never loses a leader,
// so the time measured here is just one write.)
func TestFailoverKillsAndMeasures(t *testing.T) {
	addr := startZooKeeper(t)
	victim := exec.Command("sleep", "600")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- victim.Wait() }()
	t.Cleanup(func() { _ = victim.Process.Kill() })

	rep, code, stderr := runBench(t, "-server", addr, "-writers", addr, "-warmup", "200ms", "-timeout", "20s",
		"-failover-pid", strconv.Itoa(victim.Process.Pid))
	if code != 0 || rep.Failover == nil {
		t.Fatalf("exit %d, report %+v, stderr %s", code, rep.Failover, stderr)
	}
	f := rep.Failover
	if f.Error != "" || f.Ms <= 0 || f.Server != addr || f.KilledPID != victim.Process.Pid || f.Method == "" {
		t.Errorf("result %+v", f)
	}
	if f.WriterOps == 0 {
		t.Errorf("background writer wrote nothing: %+v", f)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("victim ended with %v, want SIGKILL", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("victim still running")
	}
	assertNoRootChild(t, addr, "zabkit-failover-")
}

// A process that does not exist is refused before anything is measured.
func TestFailoverNeedsALiveProcess(t *testing.T) {
	victim := exec.Command("true")
	if err := victim.Run(); err != nil {
		t.Fatal(err)
	}
	rep, code, stderr := runBench(t, "-server", "127.0.0.1:1", "-failover-pid", strconv.Itoa(victim.Process.Pid))
	if code == 0 || rep.Failover != nil || !strings.Contains(stderr, "process") {
		t.Fatalf("exit %d, report %+v, stderr %q", code, rep.Failover, stderr)
	}
}
