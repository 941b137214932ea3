package sdktest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/zabkit/zabkit/core/ext/electiontest"
	"github.com/zabkit/zabkit/plugins/host"
)

// ElectionFactory starts the election plugin bin once, through the same
// host code a zabkit server uses (election.external), and returns the
// kit's Factory: every instance the kit makes lives in that process and
// every call is an RPC carrying the kit's virtual time. options are the
// plugin's own options (its ElectionConfig.Options). Call close when done.
// An election plugin's test file:
//
//	func TestConformance(t *testing.T) {
//		bin, cleanup, err := sdktest.Build(".")
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer cleanup()
//		factory, closePlugin, err := sdktest.ElectionFactory(bin, nil)
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer closePlugin()
//		electiontest.Run(t, factory, electiontest.Options{UpToDate: true})
//	}
//
// The plugin's log goes to stderr at level WARN and above.
func ElectionFactory(bin string, options map[string]any) (factory electiontest.Factory, close func(), err error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := host.OpenElection(context.Background(), host.ElectionConfig{
		Launch:  host.LaunchConfig{Path: bin},
		Options: options,
		Logger:  log.With("plugin", filepath.Base(bin)),
	})
	if err != nil {
		return nil, nil, err
	}
	return f.NewElection, func() { f.Close() }, nil
}
