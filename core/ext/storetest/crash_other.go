//go:build !unix

package storetest

import (
	"errors"
	"os/exec"
)

func ownProcessGroup(*exec.Cmd) {}

// killGroup kills only the child: without process groups, processes it
// started survive it.
func killGroup(cmd *exec.Cmd) { cmd.Process.Kill() }

func killedBySignal(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == -1
}
