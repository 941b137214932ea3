package admin

import "time"

// Mode is the role a server reports in srvr/stat/mntr ("Mode:" and
// zk_server_state). The values are ZooKeeper's own strings.
type Mode string

// The modes ZooKeeper 3.8 reports.
const (
	ModeStandalone Mode = "standalone"
	ModeLeader     Mode = "leader"
	ModeFollower   Mode = "follower"
	ModeObserver   Mode = "observer"
	ModeReadOnly   Mode = "read-only"
)

// Source is everything the operations surface needs from a running node.
// The node implements it; admin never mutates node state except through the
// two Reset methods. Every method must be safe to call from any goroutine
// at any time (four-letter words and HTTP requests arrive concurrently with
// client traffic) and should return a snapshot the caller may keep: admin
// does not retain or modify returned slices and maps after the call ends.
type Source interface {
	// Serving reports whether the server answers client requests. When it
	// is false most commands print ZooKeeper's "not currently serving"
	// notice instead of their output, as 3.8 does between elections.
	Serving() bool
	// ServerStats is the server-wide counter snapshot behind srvr, stat,
	// mntr and dirs.
	ServerStats() ServerStats
	// Connections lists live client connections, including the one that is
	// asking (ZooKeeper lists the four-letter-word connection itself).
	Connections() []ConnStats
	// WatchesBySession maps a session id to the paths it has data watches
	// on (exists/getData watches). ZooKeeper's wchs/wchc/wchp report only
	// data watches, not child watches; ServerStats.WatchCount counts both.
	// Admin sorts the output; the node need not.
	WatchesBySession() map[int64][]string
	// Sessions is the session-expiry and ephemeral-node picture for dump.
	Sessions() SessionDump
	// Config is what conf prints.
	Config() Config
	// ResetServerStats zeroes server-wide latency and packet counters (srst).
	ResetServerStats()
	// ResetConnectionStats zeroes every connection's counters (crst).
	ResetConnectionStats()
}

// DigestSource is optionally implemented by a Source that keeps a history
// of data-tree digests (the hash command). Without it hash prints nothing,
// which is what ZooKeeper prints with digests disabled.
type DigestSource interface {
	Digests() []Digest
}

// Digest is one entry of the digest history.
type Digest struct {
	Zxid   int64
	Digest int64
}

// Latency aggregates request latencies in milliseconds. A zero Latency means
// "no samples" and prints as 0/0.0/0, as ZooKeeper does after a reset.
type Latency struct {
	Min, Max     int64 // milliseconds; Min is ignored when Count is 0
	Total, Count int64 // sum of samples (ms) and number of samples
}

// ServerAvg is ZooKeeper's server-wide average: total/count rounded half-up
// to four decimal places, 0 without samples.
func (l Latency) ServerAvg() float64 {
	if l.Count <= 0 {
		return 0
	}
	return roundHalfUp4(float64(l.Total) / float64(l.Count))
}

// ConnAvg is ZooKeeper's per-connection average: integer division.
func (l Latency) ConnAvg() int64 {
	if l.Count <= 0 {
		return 0
	}
	return l.Total / l.Count
}

// MinOrZero is Min, or 0 when there are no samples.
func (l Latency) MinOrZero() int64 {
	if l.Count <= 0 {
		return 0
	}
	return l.Min
}

// BufferStats tracks sizes of response (or proposal) buffers in bytes.
// With Count == 0 all three print as -1, ZooKeeper's "never seen" value.
type BufferStats struct {
	Last, Min, Max int64
	Count          int64
}

func (b BufferStats) values() (last, min, max int64) {
	if b.Count <= 0 {
		return -1, -1, -1
	}
	return b.Last, b.Min, b.Max
}

// ServerStats is a snapshot of server-wide state and counters.
type ServerStats struct {
	Mode Mode
	// Zxid is the last processed zxid.
	Zxid int64
	// NodeCount is the number of znodes as ZooKeeper counts them: an empty
	// tree reports 5 (root under both "" and "/", /zookeeper,
	// /zookeeper/quota, /zookeeper/config).
	NodeCount           int64
	ApproxDataSize      int64 // bytes: sum of path lengths plus data lengths
	EphemeralsCount     int64
	WatchCount          int64 // data + child watch registrations
	Outstanding         int64 // requests received but not yet answered
	PacketsReceived     int64
	PacketsSent         int64
	Latency             Latency
	AliveConnections    int64
	GlobalSessions      int64
	LocalSessions       int64
	Uptime              time.Duration
	OpenFileDescriptors int64 // see FileDescriptorCounts
	MaxFileDescriptors  int64
	DataDirSize         int64 // bytes in the snapshot directory
	LogDirSize          int64 // bytes in the txn-log directory
	ClientResponse      BufferStats
	AuthFailed          int64
	// LastSnapshotZxid and LastSnapshotTime describe the newest snapshot on
	// disk (the last_snapshot command); a zero time means none.
	LastSnapshotZxid int64
	LastSnapshotTime time.Time
	// Quorum is nil for a standalone server.
	Quorum *QuorumStats
	// Extra lines appended to mntr (and to the monitor JSON) after the
	// standard keys, e.g. fsync or commit summaries. Keys are written
	// without the "zk_" prefix; admin adds it for mntr.
	Extra []KV
}

// QuorumStats is the ensemble part of the snapshot.
type QuorumStats struct {
	// PeerState is ZooKeeper's detailed peer state, e.g.
	// "leading - broadcast" or "following - broadcast".
	PeerState  string
	QuorumSize int64 // voting members in the current config
	// ZabState is "election", "discovery", "synchronization" or
	// "broadcast" (the zabstate command).
	ZabState      string
	LeaderID      int64  // -1 when unknown
	LeaderAddress string // "host:port" of the leader's quorum port, "" if unknown
	// The rest are meaningful on the leader only (SyncedObservers also on
	// a follower that serves observers).
	Learners                 int64
	SyncedFollowers          int64
	SyncedNonVotingFollowers int64
	SyncedObservers          int64
	PendingSyncs             int64
	LeaderUptime             time.Duration
	ProposalSizes            BufferStats
}

// KV is one key/value line of mntr extras or the environment. Value should
// be a string, bool, an integer type or a float type.
type KV struct {
	Key   string
	Value any
}

// ConnStats describes one client connection for cons/stat.
type ConnStats struct {
	// Remote is "host:port"; admin prints it Java-style with a leading "/".
	Remote string
	// InterestOps mirrors the NIO interest set ZooKeeper prints in
	// brackets: 1 while the server is reading the connection, 0 when it is
	// throttled or the connection is a four-letter-word one.
	InterestOps int
	Queued      int64 // outstanding requests on this connection
	Received    int64 // packets received
	Sent        int64 // packets sent
	// SessionID is 0 before the handshake completes; the session fields
	// below are printed only when it is non-zero.
	SessionID      int64
	LastOp         string // see OpName; "NA" before the first reply
	Established    time.Time
	SessionTimeout int32 // negotiated, milliseconds
	LastCxid       int64 // -1 = none yet
	LastZxid       int64 // -1 = none yet
	// LastResponse is ZooKeeper's lresp: a millisecond timestamp of the
	// last reply (ZooKeeper uses a monotonic clock; any ms clock will do).
	LastResponse int64
	LastLatency  int64 // milliseconds
	Latency      Latency
}

// SessionDump is what dump prints.
type SessionDump struct {
	// Expiry lists the session-expiry buckets, in any order; admin sorts
	// them by time. Empty buckets are printed as ZooKeeper does.
	Expiry []ExpiryBucket
	// Ephemerals maps a session id to the ephemeral paths it owns.
	Ephemerals map[int64][]string
}

// ExpiryBucket is the set of sessions due to expire at one tick boundary.
type ExpiryBucket struct {
	// At is the wall-clock time of the boundary.
	At time.Time
	// Key is the bucket key ZooKeeper's JSON dump uses (its elapsed-time
	// milliseconds). Zero means "use At in Unix milliseconds".
	Key      int64
	Sessions []int64
}

// Config is what conf prints and the configuration JSON returns.
type Config struct {
	ClientPort              int
	SecureClientPort        int // -1 when not configured
	DataDir                 string
	DataLogDir              string
	TickTime                int
	MaxClientCnxns          int
	MinSessionTimeout       int
	MaxSessionTimeout       int
	ClientPortListenBacklog int // -1 = OS default
	ServerID                int64
	// InitialConfig is the configuration text the server started from
	// (the initial_configuration command).
	InitialConfig string
	// Quorum is nil for a standalone server.
	Quorum *QuorumConfig
}

// QuorumConfig is the ensemble part of conf.
type QuorumConfig struct {
	InitLimit    int
	SyncLimit    int
	ElectionAlg  int   // 3 for fast leader election
	ElectionPort []int // this server's election port(s)
	QuorumPort   []int // this server's quorum port(s)
	Observer     bool  // peerType: 0 participant, 1 observer
	// Members are the "server.N=..." lines of the current config, exactly
	// as they should be printed, e.g.
	// "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181".
	Members []string
	// Version is the config version (printed in hex).
	Version int64
}
