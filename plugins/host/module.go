package host

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/zabkit/zabkit/core/registry"
)

// StoreModule is the store.external module: a store served by a plugin
// binary. Its options (configs/README.md and docs/plugins.md list them):
//
//	plugin           path of the plugin binary (required)
//	sha256           expected SHA-256 of the binary, hex; checked before every start
//	options          the plugin's own options, passed to its Open as they are
//	rpcTimeout       deadline of every call and stream step (10s)
//	healthInterval   how often the plugin is pinged (500ms)
//	restarts         restarts allowed within restartWindow (5)
//	restartWindow    (10m)
//	restartBackoff   first back-off before a restart, doubling (200ms)
//	restartBackoffMax  (10s)
//
// Environment variables spell the plugin's options with an OPTIONS_
// prefix: ZABKIT_STORE_OPTIONS_OPTIONS_DIR=/x is options.dir.
type StoreModule struct {
	settings storeSettings
	options  map[string]any

	*Store
}

// storeSettings are the module's own options, decoded strictly.
type storeSettings struct {
	Plugin            string        `json:"plugin"`
	SHA256            string        `json:"sha256"`
	RPCTimeout        time.Duration `json:"rpcTimeout"`
	HealthInterval    time.Duration `json:"healthInterval"`
	Restarts          *int          `json:"restarts"`
	RestartWindow     time.Duration `json:"restartWindow"`
	RestartBackoff    time.Duration `json:"restartBackoff"`
	RestartBackoffMax time.Duration `json:"restartBackoffMax"`
}

// DecodeOptions splits the plugin's options (the `options` map, or flat
// keys options_<name> / options.<name> as environment variables and
// zoo.cfg produce them) from the module's own, which are decoded
// strictly.
func (m *StoreModule) DecodeOptions(opts map[string]any) error {
	own := map[string]any{}
	for k, v := range opts {
		lk := strings.ToLower(k)
		switch {
		case lk == "options":
			sub, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("option options must be a map of the plugin's options, not %T", v)
			}
			for sk, sv := range sub {
				m.setOption(sk, sv)
			}
		case strings.HasPrefix(lk, "options_") || strings.HasPrefix(lk, "options."):
			m.setOption(k[len("options_"):], v)
		default:
			own[k] = v
		}
	}
	return registry.DecodeOptions(own, &m.settings)
}

func (m *StoreModule) setOption(k string, v any) {
	if m.options == nil {
		m.options = map[string]any{}
	}
	m.options[k] = v
}

// Provision starts the plugin and opens its store on the server's data
// directories.
func (m *StoreModule) Provision(ctx registry.Context) error {
	s := m.settings
	if s.Plugin == "" {
		return errors.New("option plugin (the plugin binary) is required, e.g. ZABKIT_STORE_OPTIONS_PLUGIN=/path/to/plugin")
	}
	restarts := 0 // StoreConfig's default
	if s.Restarts != nil {
		if restarts = *s.Restarts; restarts == 0 {
			restarts = -1 // StoreConfig's "none"
		}
	}
	if restarts < -1 || s.RPCTimeout < 0 || s.HealthInterval < 0 || s.RestartWindow < 0 || s.RestartBackoff < 0 || s.RestartBackoffMax < 0 {
		return errors.New("restarts, rpcTimeout, healthInterval and the restart durations must not be negative")
	}
	c := ctx.Config
	st, err := OpenStore(ctx, StoreConfig{
		Launch:     LaunchConfig{Path: s.Plugin, SHA256: s.SHA256},
		DataDir:    c.DataDir,
		DataLogDir: c.LogDir(),
		ForceSync:  c.ForceSync,
		Options:    m.options,
		RPCTimeout: s.RPCTimeout, HealthInterval: s.HealthInterval,
		Restarts: restarts, RestartWindow: s.RestartWindow,
		BackoffMin: s.RestartBackoff, BackoffMax: s.RestartBackoffMax,
		Logger: ctx.Logger.With("plugin", filepath.Base(s.Plugin)),
	})
	if err != nil {
		return err
	}
	m.Store = st
	return nil
}

// Cleanup closes the store if it is open.
func (m *StoreModule) Cleanup() error {
	if m.Store == nil {
		return nil
	}
	return m.Store.Close()
}
