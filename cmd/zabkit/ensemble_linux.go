package main

import "syscall"

// memberProcAttr puts a member in its own process group, so a Ctrl-C in
// the terminal reaches only `zabkit ensemble`, which then stops the
// members itself (and can tell a member that died from one it stopped),
// and has the kernel kill it if `zabkit ensemble` dies without stopping
// it (SIGKILL from an OOM killer, say): no orphaned servers holding the
// ports.
func memberProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
