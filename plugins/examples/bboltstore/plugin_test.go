package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/plugins/sdk/sdktest"

	"example.com/bboltstore/boltstore"
)

// The conformance kit out of process: every open starts this plugin's
// binary and talks to it over the same gRPC boundary a zabkit server uses.
var viaPlugin storetest.Opener

func TestMain(m *testing.M) {
	bin, cleanup, err := sdktest.Build(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	viaPlugin = sdktest.StoreOpener(bin, nil)
	storetest.CrashMain(viaPlugin)
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func TestConformance(t *testing.T) { storetest.Run(t, viaPlugin.OpenFunc()) }

// TestCrash SIGKILLs a host process (and with it the plugin) in the middle
// of writes: every acknowledged write must be there after a restart.
func TestCrash(t *testing.T) { storetest.RunCrash(t, viaPlugin, storetest.CrashOptions{}) }

// BenchmarkAppend is the same benchmark as boltstore's, through the
// plugin: the difference is what the process boundary costs.
func BenchmarkAppend(b *testing.B) { storetest.BenchmarkAppend(b, viaPlugin) }

// BenchmarkAppendInProcess is boltstore's own, here for a side-by-side run.
func BenchmarkAppendInProcess(b *testing.B) {
	storetest.BenchmarkAppend(b, func(dir string) (ext.Store, error) {
		s, err := boltstore.Open(boltstore.Options{Dir: dir, Sync: true})
		if err != nil {
			return nil, err
		}
		return s, nil
	})
}
