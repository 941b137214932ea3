package sdk

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// deathSignal asks the kernel to SIGKILL this process when its parent
// exits. (The kernel ties it to the parent thread that started us; Go
// only ends threads that a goroutine locked and left locked, which the
// host does not do, and the poll in watchParent is the safety net.)
func deathSignal() error {
	return unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0)
}
