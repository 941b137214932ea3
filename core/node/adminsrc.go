package node

import (
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/zabkit/zabkit/core/admin"
	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/ext"
)

// AdminSource adapts a node to the operations surface (four-letter words,
// HTTP admin).
type AdminSource struct{ N *Node }

var _ admin.Source = AdminSource{}

// Serving reports whether clients are being served. A node whose store
// failed still serves reads (mode read-only), so it is serving; an
// ensemble member between roles is not.
func (a AdminSource) Serving() bool {
	return a.N.srv != nil && a.N.proc != nil && a.N.srv.Serving()
}

// ServerStats snapshots server-wide counters.
func (a AdminSource) ServerStats() admin.ServerStats {
	n := a.N
	ts := n.tree.Stats()
	st := admin.ServerStats{
		Mode:            admin.ModeStandalone,
		Zxid:            n.tree.LastZxid(),
		NodeCount:       int64(ts.NodeCount),
		ApproxDataSize:  ts.ApproxDataSize,
		EphemeralsCount: int64(ts.EphemeralCount),
		WatchCount:      int64(ts.WatchCount),
		GlobalSessions:  int64(n.sessions.Len()),
		Uptime:          time.Since(n.started),
	}
	st.DataDirSize, st.LogDirSize = n.store.Usage()
	if n.proc != nil {
		st.Outstanding = n.proc.Outstanding()
	}
	if n.srv != nil {
		s := n.srv.Stats()
		st.PacketsReceived = s.PacketsReceived.Load()
		st.PacketsSent = s.PacketsSent.Load()
		st.Latency = n.srv.LatencyMs()
		st.AliveConnections = int64(len(n.srv.Connections()))
		st.LocalSessions = n.srv.LocalSessions()
	}
	st.OpenFileDescriptors, st.MaxFileDescriptors = admin.FileDescriptorCounts()
	if snaps, err := n.store.Snapshots(); err == nil && len(snaps) > 0 {
		st.LastSnapshotZxid = snaps[0].Zxid
	}
	if es, ok := n.EnsembleStatus(); ok {
		st.Mode, st.Quorum = quorumStats(n, es)
	}
	n.storeExtra(&st)
	return st
}

// quorumStats renders the ensemble state as ZooKeeper reports it.
func quorumStats(n *Node, es EnsembleStatus) (admin.Mode, *admin.QuorumStats) {
	q := &admin.QuorumStats{LeaderID: -1, ZabState: "election", PeerState: "looking"}
	for _, s := range n.cfg.Servers {
		if s.Role != config.Observer {
			q.QuorumSize++
		}
	}
	mode := admin.Mode("")
	switch es.State {
	case ext.Leading:
		mode = admin.ModeLeader
		q.PeerState = "leading"
	case ext.Following:
		mode = admin.ModeFollower
		q.PeerState = "following"
	case ext.Observing:
		mode = admin.ModeObserver
		q.PeerState = "observing"
	}
	if es.State != ext.Looking {
		q.LeaderID = es.LeaderID
		if s, ok := n.cfg.Servers[es.LeaderID]; ok {
			q.LeaderAddress = net.JoinHostPort(s.Host, strconv.Itoa(s.QuorumPort))
		}
		q.ZabState = "synchronization"
		if es.Serving {
			q.ZabState = "broadcast"
		}
		q.PeerState += " - " + q.ZabState
	}
	q.Learners = int64(len(es.Followers) + len(es.Observers))
	q.SyncedFollowers = int64(len(es.Synced))
	q.SyncedObservers = int64(len(es.Observers))
	return mode, q
}

// Connections describes every live client connection.
func (a AdminSource) Connections() []admin.ConnStats {
	if a.N.srv == nil {
		return nil
	}
	conns := a.N.srv.Connections()
	out := make([]admin.ConnStats, 0, len(conns))
	for _, c := range conns {
		i := c.Info()
		cs := admin.ConnStats{
			Remote: i.Remote, InterestOps: 1, Queued: i.Queued, Received: i.Received, Sent: i.Sent,
			SessionID: i.SessionID, LastOp: "NA", Established: i.Established, SessionTimeout: i.Timeout,
			LastCxid: int64(i.LastCxid), LastZxid: i.LastZxid, LastResponse: i.LastResponse,
			LastLatency: i.LastLatencyMs, Latency: i.Latency,
		}
		if i.LastOp != -1000 {
			cs.LastOp = admin.OpName(i.LastOp)
		}
		out = append(out, cs)
	}
	return out
}

// WatchesBySession maps sessions to watched paths.
func (a AdminSource) WatchesBySession() map[int64][]string { return a.N.tree.WatchesByWatcher() }

// Sessions is the expiry and ephemeral picture for dump.
func (a AdminSource) Sessions() admin.SessionDump {
	n := a.N
	d := admin.SessionDump{Ephemerals: n.tree.SessionsWithEphemerals()}
	for at, ids := range n.sessions.Buckets() {
		wall := n.mono.Add(time.Duration(at) * time.Millisecond)
		d.Expiry = append(d.Expiry, admin.ExpiryBucket{At: wall, Key: at, Sessions: ids})
	}
	return d
}

// Config is what conf prints.
func (a AdminSource) Config() admin.Config {
	c := a.N.cfg
	port := c.ClientPort
	if a.N.srv != nil {
		if _, p, err := splitPort(a.N.srv.Addr().String()); err == nil {
			port = p
		}
	}
	ac := admin.Config{
		ClientPort: port, SecureClientPort: -1,
		DataDir: filepath.Join(c.DataDir, "version-2"), DataLogDir: filepath.Join(c.LogDir(), "version-2"),
		TickTime: c.TickTime, MaxClientCnxns: c.MaxClientCnxns,
		MinSessionTimeout: c.MinSessionTimeoutMs(), MaxSessionTimeout: c.MaxSessionTimeoutMs(),
		ClientPortListenBacklog: -1, ServerID: 0,
	}
	if c.Distributed() {
		// conf and voting_view print the membership as ZooKeeper does.
		ac.ServerID = c.MyID
		me := c.Servers[c.MyID]
		q := &admin.QuorumConfig{InitLimit: c.InitLimit, SyncLimit: c.SyncLimit, ElectionAlg: c.ElectionAlg,
			ElectionPort: []int{me.ElectionPort}, QuorumPort: []int{me.QuorumPort}, Observer: me.Role == config.Observer}
		q.Members = memberLines(c)
		ac.Quorum = q
	}
	return ac
}

// ResetServerStats zeroes server-wide counters.
func (a AdminSource) ResetServerStats() {
	if a.N.srv != nil {
		a.N.srv.ResetStats()
	}
}

// ResetConnectionStats zeroes every connection's counters.
func (a AdminSource) ResetConnectionStats() {
	if a.N.srv == nil {
		return
	}
	for _, c := range a.N.srv.Connections() {
		c.ResetStats()
	}
}

func splitPort(addr string) (string, int, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			p, err := strconv.Atoi(addr[i+1:])
			return addr[:i], p, err
		}
	}
	return addr, 0, strconv.ErrSyntax
}

// Digests is the digest history for `hash`: zabkit keeps only the current
// tree digest (ZooKeeper's algorithm, so the value matches a ZooKeeper
// replica with the same data).
func (a AdminSource) Digests() []admin.Digest {
	return []admin.Digest{{Zxid: a.N.tree.LastZxid(), Digest: a.N.tree.Digest()}}
}

var _ admin.DigestSource = AdminSource{}
