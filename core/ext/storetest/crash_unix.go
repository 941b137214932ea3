//go:build unix

package storetest

import (
	"errors"
	"os/exec"
	"syscall"
)

// ownProcessGroup puts the child in a process group of its own, so that
// killGroup also reaches the processes it starts (an out-of-process store).
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup SIGKILLs the child's process group.
func killGroup(cmd *exec.Cmd) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// killedBySignal reports whether Wait's error says SIGKILL ended the child.
func killedBySignal(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
