package admin

import (
	"sync"
	"time"
)

// fakeSource is a Source with canned answers; it counts resets so tests
// can see that srst/crst reach the node.
type fakeSource struct {
	mu          sync.Mutex
	serving     bool
	stats       ServerStats
	conns       []ConnStats
	watches     map[int64][]string
	sessions    SessionDump
	conf        Config
	digests     []Digest
	serverReset int
	connReset   int
}

func (f *fakeSource) Serving() bool                        { return f.serving }
func (f *fakeSource) ServerStats() ServerStats             { return f.stats }
func (f *fakeSource) Connections() []ConnStats             { return f.conns }
func (f *fakeSource) WatchesBySession() map[int64][]string { return f.watches }
func (f *fakeSource) Sessions() SessionDump                { return f.sessions }
func (f *fakeSource) Config() Config                       { return f.conf }
func (f *fakeSource) ResetServerStats() {
	f.mu.Lock()
	f.serverReset++
	f.mu.Unlock()
}
func (f *fakeSource) ResetConnectionStats() {
	f.mu.Lock()
	f.connReset++
	f.mu.Unlock()
}

// digestSource adds the optional DigestSource.
type digestSource struct{ *fakeSource }

func (d digestSource) Digests() []Digest { return d.digests }

const (
	sid0 = int64(0x10000068d8e0000)
	sid1 = int64(0x10000068d8e0001)
)

// refSource reproduces the state of the reference ZooKeeper 3.8.0 when
// the captures under testdata/zk-3.8.0 were taken: standalone, two kazoo
// sessions, ephemerals /a/e1 and /e2, data watches on /a (both) and /e2.
func refSource() *fakeSource {
	est0 := time.UnixMilli(1795409415245)
	est1 := time.UnixMilli(1795409415265)
	return &fakeSource{
		serving: true,
		stats: ServerStats{
			Mode:                ModeStandalone,
			Zxid:                5,
			NodeCount:           8,
			ApproxDataSize:      61,
			EphemeralsCount:     2,
			WatchCount:          4,
			PacketsReceived:     14,
			PacketsSent:         13,
			Latency:             Latency{Min: 0, Max: 12, Total: 29, Count: 11},
			AliveConnections:    3,
			GlobalSessions:      2,
			Uptime:              15678 * time.Millisecond,
			DataDirSize:         457,
			LogDirSize:          457,
			ClientResponse:      BufferStats{Last: 16, Min: 16, Max: 93, Count: 7},
			OpenFileDescriptors: 41,
			MaxFileDescriptors:  20000,
		},
		conns: []ConnStats{
			{Remote: "127.0.0.1:53790", Received: 1},
			{Remote: "127.0.0.1:50532", InterestOps: 1, Received: 6, Sent: 6, SessionID: sid0,
				LastOp: "PING", Established: est0, SessionTimeout: 10000, LastCxid: 4, LastZxid: 5,
				LastResponse: 443629, Latency: Latency{Min: 0, Max: 12, Total: 12, Count: 3}},
			{Remote: "127.0.0.1:50542", InterestOps: 1, Received: 5, Sent: 5, SessionID: sid1,
				LastOp: "PING", Established: est1, SessionTimeout: 10000, LastCxid: 3, LastZxid: 5,
				LastResponse: 443381, Latency: Latency{Min: 0, Max: 1, Total: 1, Count: 2}},
		},
		watches: map[int64][]string{sid1: {"/e2", "/a"}, sid0: {"/a"}},
		sessions: SessionDump{
			Expiry: []ExpiryBucket{
				{At: time.Date(2026, 11, 23, 4, 50, 28, 0, time.UTC), Sessions: []int64{sid1, sid0}},
				{At: time.Date(2026, 11, 23, 4, 50, 26, 0, time.UTC)},
			},
			Ephemerals: map[int64][]string{sid1: {"/e2"}, sid0: {"/a/e1"}},
		},
		conf: Config{
			ClientPort: 52329, SecureClientPort: -1,
			DataDir: "/tmp/zkadm/data/version-2", DataLogDir: "/tmp/zkadm/data/version-2",
			TickTime: 2000, MaxClientCnxns: 0, MinSessionTimeout: 4000, MaxSessionTimeout: 40000,
			ClientPortListenBacklog: -1, ServerID: 0,
		},
	}
}
