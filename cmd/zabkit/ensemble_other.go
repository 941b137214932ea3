//go:build !linux

package main

import "syscall"

// memberProcAttr: only Linux can tie a child's life to its parent's
// (Pdeathsig); elsewhere members outlive a `zabkit ensemble` that is
// killed with SIGKILL and must be stopped by hand.
func memberProcAttr() *syscall.SysProcAttr { return nil }
