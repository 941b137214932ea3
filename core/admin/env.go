package admin

import (
	"os"
	"os/user"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// environment is what envi prints after its header. It is a variable so
// tests can pin it; everything in it describes the process, not the node,
// which is why it is not part of Source.
var environment = processEnvironment

// processEnvironment mirrors ZooKeeper's Environment.list with Go's
// equivalents: zookeeper.version and host.name first (scripts read those),
// go.* where ZooKeeper has java.*, then os.*, user.* and os.memory.*.
func processEnvironment() []KV {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	uname, home := "", ""
	if u, err := user.Current(); err == nil {
		uname, home = u.Username, u.HomeDir
	}
	osName := runtime.GOOS
	if osName != "" {
		osName = strings.ToUpper(osName[:1]) + osName[1:] // Java says "Linux"
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	const mb = 1 << 20
	total := ms.Sys / mb
	free := (ms.HeapIdle - ms.HeapReleased) / mb
	max := total
	if lim := debug.SetMemoryLimit(-1); lim > 0 && lim < 1<<62 {
		max = uint64(lim) / mb
	}
	return []KV{
		{"zookeeper.version", Version()},
		{"host.name", host},
		{"go.version", runtime.Version()},
		{"go.compiler", runtime.Compiler},
		{"go.maxprocs", runtime.GOMAXPROCS(0)},
		{"os.name", osName},
		{"os.arch", runtime.GOARCH},
		{"os.version", osRelease()},
		{"user.name", uname},
		{"user.home", home},
		{"user.dir", wd},
		{"os.memory.free", strconv.FormatUint(free, 10) + "MB"},
		{"os.memory.max", strconv.FormatUint(max, 10) + "MB"},
		{"os.memory.total", strconv.FormatUint(total, 10) + "MB"},
	}
}

func osRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
