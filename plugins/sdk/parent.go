package sdk

import (
	"log/slog"
	"os"
	"strconv"
	"time"
)

// parentPoll is how often the fallback watch compares the parent pid.
const parentPoll = 500 * time.Millisecond

// exitParentGone is the plugin's exit status when its host died.
const exitParentGone = 2

// watchParent makes the plugin exit when the host that started it dies,
// however it dies: a server killed with SIGKILL must not leave a plugin
// behind that holds the store's files (and its lock) while a new server
// starts. On Linux the kernel delivers SIGKILL to the plugin when the
// parent dies (PR_SET_PDEATHSIG); everywhere, a poll notices that the
// plugin was reparented. The host's pid comes from HostPIDEnv, so a parent
// that died before the plugin looked is noticed too.
func watchParent(log *slog.Logger) {
	host := os.Getppid()
	if v, err := strconv.Atoi(os.Getenv(HostPIDEnv)); err == nil && v > 0 {
		host = v
	}
	if err := deathSignal(); err != nil {
		log.Warn("parent-death signal not available; relying on polling", "err", err)
	}
	gone := func() bool { return os.Getppid() != host }
	if gone() {
		log.Error("host process is gone; exiting", "host_pid", host)
		os.Exit(exitParentGone)
	}
	go func() {
		for range time.Tick(parentPoll) {
			if gone() {
				log.Error("host process is gone; exiting", "host_pid", host)
				os.Exit(exitParentGone)
			}
		}
	}()
}
