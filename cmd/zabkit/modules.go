package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/zabkit/zabkit/core/registry"
	"github.com/zabkit/zabkit/election/fle"
	"github.com/zabkit/zabkit/election/fleadaptive"
	"github.com/zabkit/zabkit/election/raftprevote"
	"github.com/zabkit/zabkit/plugins/host"
	"github.com/zabkit/zabkit/stores/file"
	"github.com/zabkit/zabkit/stores/mem"
	"github.com/zabkit/zabkit/stores/pebble"
	memtransport "github.com/zabkit/zabkit/transports/mem"
	"github.com/zabkit/zabkit/transports/tcp"
	"github.com/zabkit/zabkit/transports/yamux"
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
		ID:  "store.pebble",
		Doc: "Pebble LSM holding the txn log and metadata, snapshots as files beside it (not readable by ZooKeeper)",
		New: func() any { return &pebbleStore{} },
	})
	registry.Register(registry.Module{
		ID:  "store.external",
		Doc: "a store served by a plugin binary over gRPC (option plugin; restarted within a budget if it dies; docs/plugins.md)",
		New: func() any { return &host.StoreModule{} },
	})
	registry.Register(registry.Module{
		ID:  "store.mem",
		Doc: "in-memory store for tests: NOT durable, loses everything on exit",
		New: func() any { return &memStore{} },
	})
	registry.Register(registry.Module{
		ID:  "transport.tcp",
		Doc: "ZooKeeper 3.8's own election and quorum (learner) wire protocol over TCP; can talk to Java peers",
		New: func() any { return &tcpTransport{} },
	})
	registry.Register(registry.Module{
		ID:  "transport.yamux",
		Doc: "zabkit's own framing: one TCP connection per peer pair multiplexed with yamux (election, broadcast, bulk streams); not for Java peers",
		New: func() any { return &yamuxTransport{} },
	})
	registry.Register(registry.Module{
		ID:  "transport.mem",
		Doc: "in-process network for tests: servers in one process reach each other by id (option network)",
		New: func() any { return &memTransport{Network: "default"} },
	})
	registry.Register(registry.Module{
		ID:  "election.fle",
		Doc: "ZooKeeper's fast leader election, wire-compatible with Java peers (options: finalizeWait, minNotificationInterval, maxNotificationInterval)",
		New: func() any { return fle.DefaultOptions() },
	})
	registry.Register(registry.Module{
		ID:  "election.fleadaptive",
		Doc: "FLE whose finalize wait and first re-send follow measured round trips; zabkit-only messages (options: minFinalizeWait, maxFinalizeWait, minNotificationInterval, maxNotificationInterval, adaptiveResend)",
		New: func() any { return fleadaptive.DefaultOptions() },
	})
	registry.Register(registry.Module{
		ID:  "election.external",
		Doc: "an election algorithm served by a plugin binary over gRPC (option plugin; restarted within a budget if it dies, resuming its round from the persisted vote; docs/plugins.md)",
		New: func() any { return &host.ElectionModule{} },
	})
	registry.Register(registry.Module{
		ID:  "election.raftprevote",
		Doc: "Raft-style election with pre-vote: randomised timeouts, one persisted vote per term, votes only for an up-to-date candidate; zabkit-only messages (options: electionTimeoutMin, electionTimeoutMax, preVote)",
		New: func() any { return raftprevote.DefaultOptions() },
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

// pebbleStore is store.pebble's options (configs/README.md lists them).
// dataDir, dataLogDir and forceSync come from the server config, as for
// store.file; every option here defaults from them or from Pebble.
type pebbleStore struct {
	// Dir holds the database and the snapshots. Default <dataDir>/pebble.
	Dir string `json:"dir"`
	// WALDir holds Pebble's write-ahead log: the bytes synced on every
	// commit. Default <dataLogDir>/pebble-wal when dataLogDir is not
	// dataDir (a dedicated log device), else inside Dir.
	WALDir string `json:"walDir"`
	// CacheSize is the block cache in MiB. Default 32.
	CacheSize int64 `json:"cacheSize"`
	// MemTableSize is one memtable in MiB. Default 16.
	MemTableSize int64 `json:"memTableSize"`
	// WALMinSyncInterval delays each WAL sync to gather more commits.
	// Default 0 (zabkit's pipeline already batches).
	WALMinSyncInterval time.Duration `json:"walMinSyncInterval"`
	// L0CompactionThreshold and L0StopWritesThreshold are Pebble's L0
	// read-amplification triggers; 0 keeps Pebble's 4 and 12.
	L0CompactionThreshold int `json:"l0CompactionThreshold"`
	L0StopWritesThreshold int `json:"l0StopWritesThreshold"`
	// Sync syncs the WAL on every commit. Default: the server's forceSync.
	Sync *bool `json:"sync"`

	*pebble.Store `json:"-"`
}

func (p *pebbleStore) Provision(ctx registry.Context) error {
	c := ctx.Config
	if p.CacheSize < 0 || p.MemTableSize < 0 || p.WALMinSyncInterval < 0 || p.L0CompactionThreshold < 0 || p.L0StopWritesThreshold < 0 {
		return errors.New("cacheSize, memTableSize, walMinSyncInterval and the L0 thresholds must not be negative")
	}
	dir := p.Dir
	if dir == "" {
		dir = filepath.Join(c.DataDir, "pebble")
	}
	walDir := p.WALDir
	if walDir == "" && filepath.Clean(c.LogDir()) != filepath.Clean(c.DataDir) {
		walDir = filepath.Join(c.LogDir(), "pebble-wal")
	}
	sync := c.ForceSync
	if p.Sync != nil {
		sync = *p.Sync
	}
	st, err := pebble.Open(pebble.Options{
		Dir:                   dir,
		WALDir:                walDir,
		CacheSize:             p.CacheSize << 20,
		MemTableSize:          uint64(p.MemTableSize) << 20,
		WALMinSyncInterval:    p.WALMinSyncInterval,
		L0CompactionThreshold: p.L0CompactionThreshold,
		L0StopWritesThreshold: p.L0StopWritesThreshold,
		ForceSync:             sync,
		Logger:                ctx.Logger,
	})
	if err != nil {
		return err
	}
	p.Store = st
	return nil
}

type memStore struct {
	*mem.Store `json:"-"`
}

func (m *memStore) Provision(registry.Context) error {
	m.Store = mem.New()
	return nil
}

// tcpTransport is transport.tcp's options (defaults in transports/tcp).
type tcpTransport struct {
	// ConnectTimeout bounds a dial plus handshake (zookeeper.cnxTimeout).
	ConnectTimeout time.Duration `json:"connectTimeout"`
	// SendQueue and SendQueueBytes bound what is queued per peer on the
	// quorum port before a slow peer is dropped.
	SendQueue      int `json:"sendQueue"`
	SendQueueBytes int `json:"sendQueueBytes"`

	*tcp.Transport `json:"-"`
}

func (t *tcpTransport) Provision(ctx registry.Context) error {
	t.Transport = tcp.New(tcp.Options{
		ConnectTimeout: cnxTimeout(t.ConnectTimeout, ctx),
		SendQueue:      t.SendQueue,
		SendQueueBytes: t.SendQueueBytes,
		MaxBuffer:      ctx.Config.JuteMaxBuffer,
		Logger:         ctx.Logger,
	})
	return nil
}

// cnxTimeout is a transport's connectTimeout, defaulting to the server's
// zookeeper.cnxTimeout.
func cnxTimeout(d time.Duration, ctx registry.Context) time.Duration {
	if d <= 0 && ctx.Config != nil {
		d = time.Duration(ctx.Config.CnxTimeoutMs) * time.Millisecond
	}
	return d
}

// yamuxTransport is transport.yamux's options (defaults and trade-offs in
// transports/yamux and configs/README.md).
type yamuxTransport struct {
	ConnectTimeout         time.Duration `json:"connectTimeout"`
	SendQueue              int           `json:"sendQueue"`
	SendQueueBytes         int           `json:"sendQueueBytes"`
	KeepAliveInterval      time.Duration `json:"keepAliveInterval"`
	ConnectionWriteTimeout time.Duration `json:"connectionWriteTimeout"`
	StreamOpenTimeout      time.Duration `json:"streamOpenTimeout"`
	StreamCloseTimeout     time.Duration `json:"streamCloseTimeout"`
	MaxStreamWindow        int           `json:"maxStreamWindow"`

	*yamux.Transport `json:"-"`
}

func (t *yamuxTransport) Provision(ctx registry.Context) error {
	if t.MaxStreamWindow != 0 && t.MaxStreamWindow < yamux.DefaultMaxStreamWindow {
		return fmt.Errorf("maxStreamWindow: %d is below yamux's minimum %d", t.MaxStreamWindow, yamux.DefaultMaxStreamWindow)
	}
	t.Transport = yamux.New(yamux.Options{
		ConnectTimeout:         cnxTimeout(t.ConnectTimeout, ctx),
		SendQueue:              t.SendQueue,
		SendQueueBytes:         t.SendQueueBytes,
		MaxBuffer:              ctx.Config.JuteMaxBuffer,
		KeepAliveInterval:      t.KeepAliveInterval,
		ConnectionWriteTimeout: t.ConnectionWriteTimeout,
		StreamOpenTimeout:      t.StreamOpenTimeout,
		StreamCloseTimeout:     t.StreamCloseTimeout,
		MaxStreamWindow:        t.MaxStreamWindow,
		Logger:                 ctx.Logger,
	})
	return nil
}

// memTransport is transport.mem's options.
type memTransport struct {
	// Network names the in-process network to attach to; servers in one
	// process on the same network reach each other by id.
	Network   string `json:"network"`
	SendQueue int    `json:"sendQueue"`

	*memtransport.Transport `json:"-"`
}

func (t *memTransport) Provision(registry.Context) error {
	t.Transport = memtransport.Shared(t.Network).NewTransport(memtransport.Options{SendQueue: t.SendQueue})
	return nil
}
