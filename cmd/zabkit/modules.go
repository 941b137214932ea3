package main

import (
	"github.com/zabkit/zabkit/core/registry"
	"github.com/zabkit/zabkit/stores/file"
	"github.com/zabkit/zabkit/stores/mem"
)

// The built-in modules. cmd/ is the only place that knows implementations;
// core/ finds them by name through the registry.
func init() {
	registry.Register(registry.Module{
		ID:  "store.file",
		Doc: "ZooKeeper 3.8 data directory: txn logs + snapshots, byte-compatible with Apache ZooKeeper",
		New: func() any { return &fileStore{} },
	})
	registry.Register(registry.Module{
		ID:  "store.mem",
		Doc: "in-memory store for tests: NOT durable, loses everything on exit",
		New: func() any { return &memStore{} },
	})
}

// fileStore is store.file's options; dataDir, dataLogDir, forceSync and
// preAllocSize come from the server config, as in ZooKeeper.
type fileStore struct {
	// RecoverCorrupt starts even when a txn log is corrupt in the middle,
	// keeping only the valid prefix. Off by default: that would drop
	// acknowledged txns, so an operator must ask for it.
	RecoverCorrupt bool `json:"recoverCorrupt"`

	*file.Store `json:"-"`
}

func (f *fileStore) Provision(ctx registry.Context) error {
	c := ctx.Config
	st, err := file.Open(file.Options{
		DataDir:        c.DataDir,
		DataLogDir:     c.LogDir(),
		ForceSync:      c.ForceSync,
		PreAllocSizeKB: int64(c.PreAllocSizeKB),
		RecoverCorrupt: f.RecoverCorrupt,
		Logger:         ctx.Logger,
	})
	if err != nil {
		return err
	}
	f.Store = st
	return nil
}

type memStore struct {
	*mem.Store `json:"-"`
}

func (m *memStore) Provision(registry.Context) error {
	m.Store = mem.New()
	return nil
}
