package host

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/zabkit/zabkit/core/registry"
)

// ElectionModule is the election.external module: an election algorithm
// served by a plugin binary. Its options are store.external's, with the
// same meaning (docs/plugins.md lists them), and shorter defaults where
// the node's event loop waits: rpcTimeout 2s, healthInterval 1s.
//
//	plugin           path of the plugin binary (required)
//	sha256           expected SHA-256 of the binary, hex; checked before every start
//	options          the plugin's own options, given to its factory as ElectionConfig.Options
//	rpcTimeout, healthInterval, restarts, restartWindow, restartBackoff, restartBackoffMax
//
// The plugin process lives as long as the registry context the module was
// provisioned with (one run of the node), or until Cleanup.
type ElectionModule struct {
	// opts decodes the options: a StoreModule splits and checks them
	// exactly as store.external does.
	opts StoreModule

	*ElectionFactory
}

// DecodeOptions takes store.external's options (see StoreModule).
func (m *ElectionModule) DecodeOptions(opts map[string]any) error { return m.opts.DecodeOptions(opts) }

// Provision starts the plugin.
func (m *ElectionModule) Provision(ctx registry.Context) error {
	s := m.opts.settings
	if s.Plugin == "" {
		return errors.New("option plugin (the plugin binary) is required, e.g. ZABKIT_ELECTION_OPTIONS_PLUGIN=/path/to/plugin")
	}
	restarts := 0 // ElectionConfig's default
	if s.Restarts != nil {
		if restarts = *s.Restarts; restarts == 0 {
			restarts = -1 // ElectionConfig's "none"
		}
	}
	if restarts < -1 || s.RPCTimeout < 0 || s.HealthInterval < 0 || s.RestartWindow < 0 || s.RestartBackoff < 0 || s.RestartBackoffMax < 0 {
		return errors.New("restarts, rpcTimeout, healthInterval and the restart durations must not be negative")
	}
	parent := ctx.Context
	if parent == nil {
		parent = context.Background()
	}
	log := ctx.Logger
	if log == nil {
		log = slog.Default()
	}
	f, err := OpenElection(parent, ElectionConfig{
		Launch:     LaunchConfig{Path: s.Plugin, SHA256: s.SHA256},
		Options:    m.opts.options,
		RPCTimeout: s.RPCTimeout, HealthInterval: s.HealthInterval,
		Restarts: restarts, RestartWindow: s.RestartWindow,
		BackoffMin: s.RestartBackoff, BackoffMax: s.RestartBackoffMax,
		Logger: log.With("plugin", filepath.Base(s.Plugin)),
	})
	if err != nil {
		return err
	}
	m.ElectionFactory = f
	context.AfterFunc(parent, func() { f.Close() })
	return nil
}

// Cleanup ends the plugin process.
func (m *ElectionModule) Cleanup() error {
	if m.ElectionFactory == nil {
		return nil
	}
	return m.ElectionFactory.Close()
}
