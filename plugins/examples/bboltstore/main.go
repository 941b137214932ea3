// Command bboltstore is a zabkit store plugin on bbolt: a zabkit server
// runs it with
//
//	store:
//	  module: store.external
//	  options:
//	    plugin: /path/to/bboltstore
//	    options:            # this plugin's own options (all optional)
//	      dir: /var/lib/zabkit/bbolt
//
// It is an example of a third-party plugin: its own Go module, importing
// only zabkit's public packages (core/ext, core/registry, plugins/sdk).
package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/zabkit/zabkit/core/registry"
	"github.com/zabkit/zabkit/plugins/sdk"

	"example.com/bboltstore/boltstore"
)

// options are store.options.options, decoded with zabkit's own strict
// rules (unknown keys are an error naming them).
type options struct {
	// Dir holds the database and the snapshots. Default <dataDir>/bbolt.
	Dir string `json:"dir"`
	// Sync syncs every commit. Default: the server's forceSync.
	Sync *bool `json:"sync"`
	// LockTimeout bounds the wait for the database's file lock. Default 10s.
	LockTimeout time.Duration `json:"lockTimeout"`
}

func openStore(_ context.Context, req sdk.StoreRequest) (sdk.Store, error) {
	var o options
	if err := registry.DecodeOptions(req.Options, &o); err != nil {
		return nil, err
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(req.DataDir, "bbolt")
	}
	sync := req.ForceSync
	if o.Sync != nil {
		sync = *o.Sync
	}
	st, err := boltstore.Open(boltstore.Options{Dir: o.Dir, Sync: sync, LockTimeout: o.LockTimeout})
	if err != nil {
		return nil, err
	}
	req.Logger.Info("bbolt store open", "dir", o.Dir, "sync", sync, "db_id", st.DBID(), "last_zxid", st.LastZxid())
	return st, nil
}

func main() { sdk.ServeStore(openStore) }
