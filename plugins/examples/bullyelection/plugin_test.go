package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/zabkit/zabkit/core/ext/electiontest"
	"github.com/zabkit/zabkit/plugins/sdk/sdktest"
)

// bin is this plugin's binary, built once.
var bin string

func TestMain(m *testing.M) {
	b, cleanup, err := sdktest.Build(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = b
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// TestConformance runs the election kit out of process: one plugin
// process holds every instance, and every Start, Step, Tick and
// Established is an RPC through the host code a zabkit server uses. The
// boundary is the same for every seed, so fewer seeds run here than in
// process (bully/bully_test.go), where they cost microseconds.
func TestConformance(t *testing.T) {
	factory, closePlugin, err := sdktest.ElectionFactory(bin, map[string]any{"gatherWait": "200ms"})
	if err != nil {
		t.Fatal(err)
	}
	defer closePlugin()
	electiontest.Run(t, factory, electiontest.Options{UpToDate: true, Seeds: 15})
}
