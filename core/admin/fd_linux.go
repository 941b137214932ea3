package admin

import (
	"os"
	"syscall"
)

// FileDescriptorCounts returns the process's open descriptors and its soft
// descriptor limit (mntr's zk_open/max_file_descriptor_count), or -1 for a
// value it cannot read. It lists /proc/self/fd, so call it when building a
// ServerStats snapshot, not on a hot path.
func FileDescriptorCounts() (open, max int64) {
	open, max = -1, -1
	if f, err := os.Open("/proc/self/fd"); err == nil {
		names, err := f.Readdirnames(-1)
		f.Close()
		if err == nil {
			open = int64(len(names)) - 1 // minus the descriptor used to list
		}
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		max = int64(rl.Cur)
	}
	return open, max
}
