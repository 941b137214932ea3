// Package config holds zabkit's typed server configuration.
//
// The keys and their meanings follow ZooKeeper 3.8's zoo.cfg and the JVM
// system properties it reads, so an operator's knowledge (and often their
// zoo.cfg) carries over. The core receives a Config value and never parses
// files, environment variables or flags itself; that happens once, in cmd/.
//
// Default returns ZooKeeper's code defaults (tickTime 3000, clientPort on all
// interfaces, AdminServer on 0.0.0.0:8080). Those only show through when a
// zoo.cfg leaves a key out: the embedded default config in configs/ sets
// friendlier values for a plain `zabkit server` (tickTime 2000, 127.0.0.1).
package config

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

// Role is a server's part in an ensemble.
type Role string

const (
	// Participant servers vote in elections and count towards quorums.
	Participant Role = "participant"
	// Observer servers follow the leader but neither vote nor acknowledge.
	Observer Role = "observer"
)

// ServerSpec is one `server.N` line: the addresses another ensemble member
// uses to reach server N, and where N serves clients.
type ServerSpec struct {
	ID           int64
	Host         string // quorum and election host
	QuorumPort   int    // followers connect to the leader here
	ElectionPort int    // fast leader election connections
	Role         Role
	// ClientHost and ClientPort come from the optional `;[host:]port` tail;
	// ClientPort 0 means the line did not name one.
	ClientHost string
	ClientPort int
}

// ModuleConfig selects an implementation from the module registry by its
// namespaced ID (e.g. "store.file") and carries its free-form options, which
// the module decodes strictly.
type ModuleConfig struct {
	Module  string
	Options map[string]any
}

// Admin configures the embedded HTTP admin server (ZooKeeper's AdminServer
// commands plus Prometheus metrics).
type Admin struct {
	Enabled    bool   // admin.enableServer
	Address    string // admin.serverAddress
	Port       int    // admin.serverPort
	CommandURL string // admin.commandURL
	// MetricsPath is where Prometheus metrics are served on the admin
	// listener (zabkit only; ZooKeeper uses a separate metrics provider).
	MetricsPath string // admin.metricsPath
}

// Log configures zabkit's own logging.
type Log struct {
	Level  string // debug | info | warn | error
	Format string // text | json
}

// Config is the complete, typed server configuration.
//
// Times are in milliseconds and limits in ticks, as in ZooKeeper.
type Config struct {
	TickTime          int    // tickTime: the basic time unit, ms
	DataDir           string // dataDir: snapshots, epochs, myid
	DataLogDir        string // dataLogDir: txn logs; empty = DataDir
	ClientPort        int    // clientPort; 0 = any free port
	ClientPortAddress string // clientPortAddress; empty = all interfaces
	MaxClientCnxns    int    // maxClientCnxns: per client IP; 0 = unlimited
	// Session timeout bounds; values <= 0 mean 2×/20× tickTime (use the
	// MinSessionTimeoutMs/MaxSessionTimeoutMs helpers).
	MinSessionTimeout       int
	MaxSessionTimeout       int
	ClientPortListenBacklog int // clientPortListenBacklog; <= 0 = OS default

	InitLimit                   int // initLimit, ticks; required in a quorum
	SyncLimit                   int // syncLimit, ticks; required in a quorum
	ConnectToLearnerMasterLimit int // connectToLearnerMasterLimit, ticks; 0 = initLimit

	SnapCount                   int   // snapCount (zookeeper.snapCount): txns between snapshots, min 2
	CommitLogCount              int   // zookeeper.commitLogCount: committed txns a leader keeps for DIFF sync
	SnapSizeLimitInKb           int64 // snapSizeLimitInKb: log bytes between snapshots; <= 0 disables
	PreAllocSizeKB              int   // preAllocSize: txn log preallocation in KiB
	ForceSync                   bool  // forceSync: fsync the txn log before acknowledging
	AutopurgeSnapRetainCount    int   // autopurge.snapRetainCount, min 3
	AutopurgePurgeIntervalHours int   // autopurge.purgeInterval; 0 = never purge

	FourLetterWhitelist  []string // 4lw.commands.whitelist; "*" = all
	ExtendedTypesEnabled bool     // zookeeper.extendedTypesEnabled: TTL nodes
	SuperDigest          string   // zookeeper.DigestAuthenticationProvider.superDigest
	SkipACL              bool     // zookeeper.skipACL
	JuteMaxBuffer        int      // jute.maxbuffer: largest packet/znode, bytes

	ContainerCheckIntervalMs        int // znode.container.checkIntervalMs
	ContainerMaxPerMinute           int // znode.container.maxPerMinute
	ContainerMaxNeverUsedIntervalMs int // znode.container.maxNeverUsedIntervalMs; 0 = never

	ReadOnlyMode                  bool // readonlymode.enabled
	GlobalOutstandingLimit        int  // zookeeper.globalOutstandingLimit
	DigestEnabled                 bool // zookeeper.digest.enabled
	LocalSessionsEnabled          bool // localSessionsEnabled
	LocalSessionsUpgradingEnabled bool // localSessionsUpgradingEnabled
	SyncEnabled                   bool // syncEnabled: observers log to disk
	QuorumListenOnAllIPs          bool // quorumListenOnAllIPs
	LeaderServes                  bool // zookeeper.leaderServes
	CnxTimeoutMs                  int  // zookeeper.cnxTimeout: election connect timeout
	SnapshotTrustEmpty            bool // zookeeper.snapshot.trust.empty
	DBAutocreate                  bool // zookeeper.db.autocreate

	// StoreFailure is what the node does once its store fails (a write or
	// fsync error, or an append stalled for StoreStallTimeoutMs): keep
	// serving reads with writes refused (StoreFailureReadOnly) or stop
	// (StoreFailureExit). Either way nothing more is acknowledged.
	StoreFailure string // storeFailure (zabkit only)
	// StoreStallTimeoutMs fails the store when one append has not returned
	// after this many ms; 0 waits forever.
	StoreStallTimeoutMs int // storeStallTimeoutMs (zabkit only)

	Admin Admin

	// Servers is the ensemble membership from `server.N` lines, keyed by
	// sid. Empty means standalone.
	Servers           map[int64]ServerSpec
	MyID              int64  // myid key or dataDir/myid; UnsetMyID = unset
	PeerType          Role   // peerType
	StandaloneEnabled bool   // standaloneEnabled
	ReconfigEnabled   bool   // reconfigEnabled
	DynamicConfigFile string // dynamicConfigFile
	ElectionAlg       int    // electionAlg; only 3 exists

	Store     ModuleConfig // store.module / store.options.*
	Transport ModuleConfig // transport.module / transport.options.*
	Election  ModuleConfig // election.module / election.options.*

	Log Log
}

// ZooKeeper's code defaults and limits.
const (
	DefaultTickTime          = 3000
	DefaultClientPort        = 2181
	DefaultMaxClientCnxns    = 60
	DefaultSnapCount         = 100000
	DefaultCommitLogCount    = 500
	MinSnapCount             = 2
	DefaultSnapSizeLimitInKb = 4 * 1024 * 1024
	DefaultPreAllocSizeKB    = 65536
	MinSnapRetainCount       = 3
	DefaultJuteMaxBuffer     = 0xfffff
	// MaxExtendedTypesServerID is the largest sid allowed with extended
	// types: TTL session ids reserve the top byte value 0xff.
	MaxExtendedTypesServerID = 254
	// UnsetMyID marks a server that has no id (standalone).
	UnsetMyID = -1
	// DefaultStoreStallTimeoutMs: an fsync that has not returned in 30 s
	// is a hung disk, not a slow one.
	DefaultStoreStallTimeoutMs = 30000
)

// The storeFailure modes.
const (
	StoreFailureReadOnly = "readonly"
	StoreFailureExit     = "exit"
)

// Default returns ZooKeeper 3.8's code defaults, with zabkit's module
// choices. DataDir is empty (ZooKeeper requires it); the embedded default
// config sets it.
func Default() Config {
	return Config{
		TickTime:                 DefaultTickTime,
		ClientPort:               DefaultClientPort,
		MaxClientCnxns:           DefaultMaxClientCnxns,
		MinSessionTimeout:        -1,
		MaxSessionTimeout:        -1,
		ClientPortListenBacklog:  -1,
		SnapCount:                DefaultSnapCount,
		CommitLogCount:           DefaultCommitLogCount,
		SnapSizeLimitInKb:        DefaultSnapSizeLimitInKb,
		PreAllocSizeKB:           DefaultPreAllocSizeKB,
		ForceSync:                true,
		AutopurgeSnapRetainCount: MinSnapRetainCount,
		FourLetterWhitelist:      []string{"srvr"},
		JuteMaxBuffer:            DefaultJuteMaxBuffer,

		ContainerCheckIntervalMs: 60000,
		ContainerMaxPerMinute:    10000,

		GlobalOutstandingLimit: 1000,
		DigestEnabled:          true,
		SyncEnabled:            true,
		LeaderServes:           true,
		CnxTimeoutMs:           5000,
		DBAutocreate:           true,

		StoreFailure:        StoreFailureReadOnly,
		StoreStallTimeoutMs: DefaultStoreStallTimeoutMs,

		Admin: Admin{
			Enabled:     true,
			Address:     "0.0.0.0",
			Port:        8080,
			CommandURL:  "/commands",
			MetricsPath: "/metrics",
		},

		MyID:              UnsetMyID,
		PeerType:          Participant,
		StandaloneEnabled: true,
		ElectionAlg:       3,

		Store:     ModuleConfig{Module: "store.file"},
		Transport: ModuleConfig{Module: "transport.tcp"},
		Election:  ModuleConfig{Module: "election.fle"},

		Log: Log{Level: "info", Format: "text"},
	}
}

// MinSessionTimeoutMs is the smallest session timeout the server grants:
// minSessionTimeout, or 2×tickTime when unset (<= 0).
func (c *Config) MinSessionTimeoutMs() int {
	if c.MinSessionTimeout <= 0 {
		return 2 * c.TickTime
	}
	return c.MinSessionTimeout
}

// MaxSessionTimeoutMs is the largest session timeout the server grants:
// maxSessionTimeout, or 20×tickTime when unset (<= 0).
func (c *Config) MaxSessionTimeoutMs() int {
	if c.MaxSessionTimeout <= 0 {
		return 20 * c.TickTime
	}
	return c.MaxSessionTimeout
}

// LogDir is where txn logs live: dataLogDir, or dataDir when unset.
func (c *Config) LogDir() string {
	if c.DataLogDir == "" {
		return c.DataDir
	}
	return c.DataLogDir
}

// ClientAddr is the host:port the client listener binds.
func (c *Config) ClientAddr() string {
	return net.JoinHostPort(c.ClientPortAddress, fmt.Sprint(c.ClientPort))
}

// AdminAddr is the host:port the admin HTTP server binds.
func (c *Config) AdminAddr() string {
	return net.JoinHostPort(c.Admin.Address, fmt.Sprint(c.Admin.Port))
}

// FourLetterWordAllowed reports whether the four-letter word cmd may run.
// As in ZooKeeper, `isro` is always allowed when read-only mode is enabled.
func (c *Config) FourLetterWordAllowed(cmd string) bool {
	if cmd == "isro" && c.ReadOnlyMode {
		return true
	}
	for _, w := range c.FourLetterWhitelist {
		if w == "*" || w == cmd {
			return true
		}
	}
	return false
}

// Voters returns the participant sids, sorted.
func (c *Config) Voters() []int64 { return c.members(Participant) }

// Observers returns the observer sids, sorted.
func (c *Config) Observers() []int64 { return c.members(Observer) }

func (c *Config) members(r Role) []int64 {
	var ids []int64
	for id, s := range c.Servers {
		if s.Role == r {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Distributed reports whether this server runs as an ensemble member rather
// than standalone. As in ZooKeeper, a single participant line still runs
// standalone unless standaloneEnabled is false.
func (c *Config) Distributed() bool {
	if len(c.Servers) == 0 {
		return false
	}
	return !c.StandaloneEnabled || len(c.Voters()) > 1
}

// ErrInvalid is wrapped by every error Validate returns.
var ErrInvalid = errors.New("invalid configuration")

// KeyError names the configuration key whose value is impossible.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Reason }

// Unwrap makes every KeyError match ErrInvalid.
func (e *KeyError) Unwrap() error { return ErrInvalid }

func keyErr(key, format string, args ...any) error {
	return &KeyError{Key: key, Reason: fmt.Sprintf(format, args...)}
}

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
)

// Validate checks every value and the relations between them, returning all
// problems joined; each names its key, e.g. "tickTime: must be > 0".
func (c *Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, keyErr(key, format, args...)) }
	port := func(key string, p int, zeroOK bool) {
		if p < 0 || p > 65535 || (p == 0 && !zeroOK) {
			add(key, "port %d out of range", p)
		}
	}

	if c.TickTime <= 0 {
		add("tickTime", "must be > 0")
	}
	if c.DataDir == "" {
		add("dataDir", "is required")
	}
	port("clientPort", c.ClientPort, true)
	if c.MaxClientCnxns < 0 {
		add("maxClientCnxns", "must be >= 0 (0 = unlimited)")
	}
	if c.TickTime > 0 && c.MinSessionTimeoutMs() > c.MaxSessionTimeoutMs() {
		add("minSessionTimeout", "%d ms is larger than maxSessionTimeout %d ms",
			c.MinSessionTimeoutMs(), c.MaxSessionTimeoutMs())
	}
	if c.InitLimit < 0 {
		add("initLimit", "must be >= 0")
	}
	if c.SyncLimit < 0 {
		add("syncLimit", "must be >= 0")
	}
	if c.ConnectToLearnerMasterLimit < 0 {
		add("connectToLearnerMasterLimit", "must be >= 0")
	}
	if c.SnapCount < MinSnapCount {
		add("snapCount", "must be >= %d", MinSnapCount)
	}
	if c.PreAllocSizeKB <= 0 {
		add("preAllocSize", "must be > 0 (KiB)")
	}
	if c.AutopurgeSnapRetainCount < MinSnapRetainCount {
		add("autopurge.snapRetainCount", "must be >= %d", MinSnapRetainCount)
	}
	if c.AutopurgePurgeIntervalHours < 0 {
		add("autopurge.purgeInterval", "must be >= 0 (0 = off)")
	}
	for _, w := range c.FourLetterWhitelist {
		if w != "*" && len(w) != 4 {
			add("4lw.commands.whitelist", "%q is not a four-letter word", w)
		}
	}
	if c.SuperDigest != "" && !strings.Contains(c.SuperDigest, ":") {
		add("zookeeper.DigestAuthenticationProvider.superDigest", "must be user:base64digest")
	}
	if c.JuteMaxBuffer <= 0 {
		add("jute.maxbuffer", "must be > 0")
	}
	if c.ContainerCheckIntervalMs <= 0 {
		add("znode.container.checkIntervalMs", "must be > 0")
	}
	if c.ContainerMaxPerMinute <= 0 {
		add("znode.container.maxPerMinute", "must be > 0")
	}
	if c.ContainerMaxNeverUsedIntervalMs < 0 {
		add("znode.container.maxNeverUsedIntervalMs", "must be >= 0 (0 = never)")
	}
	if c.GlobalOutstandingLimit <= 0 {
		add("zookeeper.globalOutstandingLimit", "must be > 0")
	}
	if c.CnxTimeoutMs <= 0 {
		add("zookeeper.cnxTimeout", "must be > 0")
	}
	if c.StoreFailure != StoreFailureReadOnly && c.StoreFailure != StoreFailureExit {
		add("storeFailure", "must be %s or %s, not %q", StoreFailureReadOnly, StoreFailureExit, c.StoreFailure)
	}
	if c.StoreStallTimeoutMs < 0 {
		add("storeStallTimeoutMs", "must be >= 0 (0 = never)")
	}
	if c.Admin.Enabled {
		port("admin.serverPort", c.Admin.Port, true)
		if !strings.HasPrefix(c.Admin.CommandURL, "/") {
			add("admin.commandURL", "must start with /")
		}
		if c.Admin.MetricsPath != "" && !strings.HasPrefix(c.Admin.MetricsPath, "/") {
			add("admin.metricsPath", "must start with / (or be empty to disable)")
		}
	}
	if c.ElectionAlg != 3 {
		add("electionAlg", "only 3 (fast leader election) is supported")
	}
	if c.PeerType != Participant && c.PeerType != Observer {
		add("peerType", "must be participant or observer, not %q", c.PeerType)
	}
	if c.MyID < UnsetMyID {
		add("myid", "must be >= 0")
	}
	for name, mc := range map[string]ModuleConfig{"store": c.Store, "transport": c.Transport, "election": c.Election} {
		if !strings.HasPrefix(mc.Module, name+".") {
			add(name+".module", "%q is not a %s module ID (want %s.<name>)", mc.Module, name, name)
		}
	}
	if !slices.Contains(logLevels, c.Log.Level) {
		add("log.level", "must be one of %s", strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		add("log.format", "must be one of %s", strings.Join(logFormats, ", "))
	}
	errs = append(errs, c.validateEnsemble()...)
	return errors.Join(errs...)
}

func (c *Config) validateEnsemble() []error {
	if len(c.Servers) == 0 {
		return nil
	}
	var errs []error
	ids := make([]int64, 0, len(c.Servers))
	for id := range c.Servers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		s := c.Servers[id]
		key := fmt.Sprintf("server.%d", id)
		if s.ID != id {
			errs = append(errs, keyErr(key, "spec has id %d", s.ID))
		}
		if err := s.check(); err != nil {
			errs = append(errs, keyErr(key, "%v", err))
		}
	}
	voters, observers := c.Voters(), c.Observers()
	switch {
	case len(voters) == 0:
		errs = append(errs, keyErr("server.N", "no participants (observers need a quorum to follow)"))
	case len(voters) == 1 && c.StandaloneEnabled && len(observers) > 0:
		errs = append(errs, keyErr("server.N", "observers without a quorum: add participants or set standaloneEnabled=false"))
	}
	if !c.Distributed() {
		return errs
	}
	if c.InitLimit <= 0 {
		errs = append(errs, keyErr("initLimit", "is required in an ensemble"))
	}
	if c.SyncLimit <= 0 {
		errs = append(errs, keyErr("syncLimit", "is required in an ensemble"))
	}
	me, ok := c.Servers[c.MyID]
	switch {
	case c.MyID == UnsetMyID:
		errs = append(errs, keyErr("myid", "is required in an ensemble (set myid or write dataDir/myid)"))
	case !ok:
		errs = append(errs, keyErr("myid", "%d has no server.%d line", c.MyID, c.MyID))
	case me.Role != c.PeerType:
		errs = append(errs, keyErr("peerType", "%s, but server.%d says %s", c.PeerType, c.MyID, me.Role))
	}
	if c.ExtendedTypesEnabled && c.MyID > MaxExtendedTypesServerID {
		errs = append(errs, keyErr("myid", "must be <= %d with zookeeper.extendedTypesEnabled", MaxExtendedTypesServerID))
	}
	return errs
}
