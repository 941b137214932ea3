// Package sdktest runs zabkit's conformance kits against a plugin binary,
// out of process: the kit talks to the plugin through the same host code
// (plugins/host) and the same gRPC boundary a zabkit server uses. A store
// plugin's test file:
//
//	var open storetest.Opener
//
//	func TestMain(m *testing.M) {
//		bin, cleanup, err := sdktest.Build(".")
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		open = sdktest.StoreOpener(bin, nil)
//		storetest.CrashMain(open)
//		code := m.Run()
//		cleanup()
//		os.Exit(code)
//	}
//
//	func TestConformance(t *testing.T) { storetest.Run(t, open.OpenFunc()) }
//	func TestCrash(t *testing.T)       { storetest.RunCrash(t, open, storetest.CrashOptions{}) }
//
// Every open starts a plugin process; Close ends it. RunCrash's SIGKILL
// hits the crash child's whole process group, the plugin included, and the
// plugin's parent-death watch covers the rest.
package sdktest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/plugins/host"
)

// BinaryEnv carries the built plugin's path from a test binary to the
// children it starts (RunCrash's crash child), so they do not build again.
const BinaryEnv = "ZABKIT_SDKTEST_PLUGIN"

// Build compiles the main package in dir (`go build`, in dir's own
// module) into a temporary directory, naming the binary after dir, and
// returns the binary's path and a cleanup function. In a
// child whose parent already built it, it returns the parent's binary and
// a cleanup that does nothing.
func Build(dir string) (string, func(), error) {
	if bin := os.Getenv(BinaryEnv); bin != "" {
		if _, err := os.Stat(bin); err == nil {
			return bin, func() {}, nil
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	tmp, err := os.MkdirTemp("", "zabkit-plugin-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	bin := filepath.Join(tmp, filepath.Base(abs)) // the name the host labels its log with
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build plugin in %s: %w\n%s", dir, err, out)
	}
	os.Setenv(BinaryEnv, bin)
	return bin, cleanup, nil
}

// StoreOpener opens the plugin's store on the kit's directory (dataDir and
// dataLogDir both, forceSync on) with options as the plugin's options.
// The plugin's log goes to stderr at level WARN and above.
func StoreOpener(bin string, options map[string]any) storetest.Opener {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return func(dir string) (ext.Store, error) {
		s, err := host.OpenStore(context.Background(), host.StoreConfig{
			Launch:  host.LaunchConfig{Path: bin},
			DataDir: dir, DataLogDir: dir, ForceSync: true,
			Options: options,
			Logger:  log.With("plugin", filepath.Base(bin)),
		})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}
