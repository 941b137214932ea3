package admin

import (
	"encoding/binary"
	"sort"
	"strconv"
	"strings"
)

// tw accumulates a four-letter-word answer. Answers are small and built
// once per (rare) command, so clarity wins over buffer reuse here.
type tw struct{ b []byte }

func (w *tw) s(s string) *tw           { w.b = append(w.b, s...); return w }
func (w *tw) i(v int64) *tw            { w.b = strconv.AppendInt(w.b, v, 10); return w }
func (w *tw) x(v int64) *tw            { w.b = strconv.AppendUint(w.b, uint64(v), 16); return w }
func (w *tw) ln() *tw                  { w.b = append(w.b, '\n'); return w }
func (w *tw) kv(k string, v int64) *tw { return w.s(k).i(v).ln() }

func notServingLine() []byte { return []byte(notServing + "\n") }

func ruokText(Source, []byte) []byte { return []byte("imok") }

func srvrText(src Source, _ []byte) []byte { return statText0(src, false) }
func statText(src Source, _ []byte) []byte { return statText0(src, true) }

func statText0(src Source, withClients bool) []byte {
	if !src.Serving() {
		return notServingLine()
	}
	st := src.ServerStats()
	w := &tw{}
	w.s("Zookeeper version: ").s(Version()).ln()
	if st.Mode == ModeReadOnly {
		w.s("READ-ONLY mode; serving only read-only clients").ln()
	}
	if withClients {
		w.s("Clients:").ln()
		for _, c := range src.Connections() {
			connLine(w, c, true)
			w.ln()
		}
		w.ln()
	}
	w.s("Latency min/avg/max: ").i(st.Latency.MinOrZero()).s("/").s(javaDouble(st.Latency.ServerAvg())).s("/").i(st.Latency.Max).ln()
	w.kv("Received: ", st.PacketsReceived)
	w.kv("Sent: ", st.PacketsSent)
	w.kv("Connections: ", st.AliveConnections)
	w.kv("Outstanding: ", st.Outstanding)
	w.s("Zxid: 0x").x(st.Zxid).ln()
	w.s("Mode: ").s(string(st.Mode)).ln()
	w.kv("Node count: ", st.NodeCount)
	if st.Mode == ModeLeader && st.Quorum != nil {
		l, mn, mx := st.Quorum.ProposalSizes.values()
		w.s("Proposal sizes last/min/max: ").i(l).s("/").i(mn).s("/").i(mx).ln()
	}
	return w.b
}

// remoteJava prints an address the way Java's InetSocketAddress.toString
// does for a resolved address with no host name: "/ip:port".
func remoteJava(r string) string {
	if strings.HasPrefix(r, "[") { // IPv6 "[::1]:2181": Java prints no brackets
		if i := strings.LastIndex(r, "]:"); i > 0 {
			return "/" + r[1:i] + ":" + r[i+2:]
		}
	}
	return "/" + r
}

func connLine(w *tw, c ConnStats, brief bool) {
	w.s(" ").s(remoteJava(c.Remote)).s("[")
	if c.InterestOps == 0 {
		w.s("0")
	} else {
		w.s(strconv.FormatInt(int64(c.InterestOps), 16))
	}
	w.s("](queued=").i(c.Queued).s(",recved=").i(c.Received).s(",sent=").i(c.Sent)
	if !brief && c.SessionID != 0 {
		w.s(",sid=0x").x(c.SessionID)
		w.s(",lop=").s(lastOp(c.LastOp))
		w.s(",est=").i(unixMilli(c.Established))
		w.s(",to=").i(int64(c.SessionTimeout))
		if c.LastCxid >= 0 {
			w.s(",lcxid=0x").x(c.LastCxid)
		}
		w.s(",lzxid=0x").x(c.LastZxid)
		w.s(",lresp=").i(c.LastResponse)
		w.s(",llat=").i(c.LastLatency)
		w.s(",minlat=").i(c.Latency.MinOrZero())
		w.s(",avglat=").i(c.Latency.ConnAvg())
		w.s(",maxlat=").i(c.Latency.Max)
	}
	w.s(")")
}

func lastOp(s string) string {
	if s == "" {
		return "NA"
	}
	return s
}

func consText(src Source, _ []byte) []byte {
	if !src.Serving() {
		return notServingLine()
	}
	w := &tw{}
	for _, c := range src.Connections() {
		connLine(w, c, false)
		w.ln()
	}
	return w.ln().b
}

func crstText(src Source, _ []byte) []byte {
	if !src.Serving() {
		return notServingLine()
	}
	src.ResetConnectionStats()
	return []byte("Connection stats reset.\n")
}

func srstText(src Source, _ []byte) []byte {
	if !src.Serving() {
		return notServingLine()
	}
	src.ResetServerStats()
	return []byte("Server stats reset.\n")
}

func confText(src Source, _ []byte) []byte {
	if !src.Serving() {
		return notServingLine()
	}
	c := src.Config()
	st := src.ServerStats()
	w := &tw{}
	w.kv("clientPort=", int64(c.ClientPort))
	w.kv("secureClientPort=", int64(c.SecureClientPort))
	w.s("dataDir=").s(c.DataDir).ln()
	w.kv("dataDirSize=", st.DataDirSize)
	w.s("dataLogDir=").s(c.DataLogDir).ln()
	w.kv("dataLogSize=", st.LogDirSize)
	w.kv("tickTime=", int64(c.TickTime))
	w.kv("maxClientCnxns=", int64(c.MaxClientCnxns))
	w.kv("minSessionTimeout=", int64(c.MinSessionTimeout))
	w.kv("maxSessionTimeout=", int64(c.MaxSessionTimeout))
	w.kv("clientPortListenBacklog=", int64(c.ClientPortListenBacklog))
	w.kv("serverId=", c.ServerID)
	if q := c.Quorum; q != nil {
		w.kv("initLimit=", int64(q.InitLimit))
		w.kv("syncLimit=", int64(q.SyncLimit))
		w.kv("electionAlg=", int64(q.ElectionAlg))
		w.s("electionPort=").s(joinPorts(q.ElectionPort)).ln()
		w.s("quorumPort=").s(joinPorts(q.QuorumPort)).ln()
		peerType := int64(0)
		if q.Observer {
			peerType = 1
		}
		w.kv("peerType=", peerType)
		// ZooKeeper's membership block ends without a newline.
		w.s("membership: ").ln()
		for _, m := range q.Members {
			w.s(m).ln()
		}
		w.s("version=").x(q.Version)
	}
	return w.b
}

func joinPorts(ps []int) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, "|")
}

func dirsText(src Source, _ []byte) []byte {
	if !src.Serving() {
		return notServingLine()
	}
	st := src.ServerStats()
	w := &tw{}
	w.kv("datadir_size: ", st.DataDirSize)
	w.kv("logdir_size: ", st.LogDirSize)
	return w.b
}

func isroText(src Source, _ []byte) []byte {
	switch {
	case !src.Serving():
		return []byte("null")
	case src.ServerStats().Mode == ModeReadOnly:
		return []byte("ro")
	default:
		return []byte("rw")
	}
}

func gtmkText(Source, []byte) []byte {
	return strconv.AppendInt(nil, traceMask.Load(), 10)
}

func stmkText(_ Source, arg []byte) []byte {
	var b [8]byte
	copy(b[:], arg)
	m := int64(binary.BigEndian.Uint64(b[:]))
	traceMask.Store(m)
	return strconv.AppendInt(nil, m, 10)
}

func hashText(src Source, _ []byte) []byte {
	if !src.Serving() {
		return []byte(notServing)
	}
	ds, ok := src.(DigestSource)
	if !ok {
		return []byte{}
	}
	w := &tw{}
	for _, d := range ds.Digests() {
		w.x(d.Zxid).s(": ").i(d.Digest).ln()
	}
	return w.b
}

func enviText(Source, []byte) []byte {
	w := &tw{}
	w.s("Environment:").ln()
	for _, kv := range environment() {
		w.s(kv.Key).s("=").s(formatValue(kv.Value)).ln()
	}
	return w.b
}

func mntrText(src Source, _ []byte) []byte {
	if !src.Serving() {
		return notServingLine()
	}
	w := &tw{}
	for _, kv := range monitorValues(src.ServerStats()) {
		w.s("zk_").s(kv.Key).s("\t").s(formatValue(kv.Value)).ln()
	}
	return w.b
}

// monitorValues is the ordered key list of mntr and the monitor JSON. The
// order of the core keys is the one Debian's 3.8.0 printed (ZooKeeper's
// own order is a hash-map accident, but keeping it makes side-by-side
// diffs against the reference server readable).
func monitorValues(st ServerStats) []KV {
	lastResp, minResp, maxResp := st.ClientResponse.values()
	kvs := []KV{
		{"version", Version()},
		{"server_state", string(st.Mode)},
	}
	if st.Quorum != nil {
		kvs = append(kvs, KV{"peer_state", st.Quorum.PeerState})
	}
	kvs = append(kvs,
		KV{"ephemerals_count", st.EphemeralsCount},
		KV{"num_alive_connections", st.AliveConnections},
		KV{"avg_latency", st.Latency.ServerAvg()},
		KV{"outstanding_requests", st.Outstanding},
		KV{"znode_count", st.NodeCount},
		KV{"global_sessions", st.GlobalSessions},
		KV{"non_mtls_remote_conn_count", int64(0)},
		KV{"last_client_response_size", lastResp},
		KV{"packets_sent", st.PacketsSent},
		KV{"packets_received", st.PacketsReceived},
		KV{"max_client_response_size", maxResp},
		KV{"connection_drop_probability", 0.0},
		KV{"watch_count", st.WatchCount},
		KV{"auth_failed_count", st.AuthFailed},
		KV{"min_latency", st.Latency.MinOrZero()},
		KV{"max_file_descriptor_count", st.MaxFileDescriptors},
		KV{"approximate_data_size", st.ApproxDataSize},
		KV{"open_file_descriptor_count", st.OpenFileDescriptors},
		KV{"local_sessions", st.LocalSessions},
		KV{"uptime", st.Uptime.Milliseconds()},
		KV{"max_latency", st.Latency.Max},
		KV{"outstanding_tls_handshake", int64(0)},
		KV{"min_client_response_size", minResp},
		KV{"non_mtls_local_conn_count", int64(0)},
	)
	if q := st.Quorum; q != nil {
		kvs = append(kvs, KV{"quorum_size", q.QuorumSize})
		switch st.Mode {
		case ModeLeader:
			last, mn, mx := q.ProposalSizes.values()
			kvs = append(kvs,
				KV{"learners", q.Learners},
				KV{"synced_followers", q.SyncedFollowers},
				KV{"synced_non_voting_followers", q.SyncedNonVotingFollowers},
				KV{"synced_observers", q.SyncedObservers},
				KV{"pending_syncs", q.PendingSyncs},
				KV{"leader_uptime", q.LeaderUptime.Milliseconds()},
				KV{"last_proposal_size", last},
				KV{"max_proposal_size", mx},
				KV{"min_proposal_size", mn},
			)
		case ModeFollower:
			kvs = append(kvs, KV{"synced_observers", q.SyncedObservers})
		}
	}
	return append(kvs, st.Extra...)
}

func sortedSessions(m map[int64][]string) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return uint64(ids[i]) < uint64(ids[j]) })
	return ids
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// invertWatches turns session->paths into path->sessions, both sorted.
func invertWatches(m map[int64][]string) (paths []string, byPath map[string][]int64) {
	byPath = map[string][]int64{}
	for _, id := range sortedSessions(m) {
		for _, p := range m[id] {
			if _, seen := byPath[p]; !seen {
				paths = append(paths, p)
			}
			byPath[p] = append(byPath[p], id)
		}
	}
	sort.Strings(paths)
	return paths, byPath
}

func watchTotals(m map[int64][]string) (conns, paths, total int) {
	seen := map[string]struct{}{}
	for _, ps := range m {
		if len(ps) == 0 {
			continue
		}
		conns++
		total += len(ps)
		for _, p := range ps {
			seen[p] = struct{}{}
		}
	}
	return conns, len(seen), total
}

func wchsText(src Source, _ []byte) []byte {
	if !src.Serving() {
		return notServingLine()
	}
	c, p, t := watchTotals(src.WatchesBySession())
	w := &tw{}
	w.i(int64(c)).s(" connections watching ").i(int64(p)).s(" paths").ln()
	w.s("Total watches:").i(int64(t)).ln()
	return w.b
}

func wchcText(src Source, _ []byte) []byte {
	if !src.Serving() {
		return notServingLine()
	}
	m := src.WatchesBySession()
	w := &tw{}
	for _, id := range sortedSessions(m) {
		if len(m[id]) == 0 {
			continue
		}
		w.s("0x").x(id).ln()
		for _, p := range sortedCopy(m[id]) {
			w.s("\t").s(p).ln()
		}
	}
	return w.ln().b
}

func wchpText(src Source, _ []byte) []byte {
	if !src.Serving() {
		return notServingLine()
	}
	paths, byPath := invertWatches(src.WatchesBySession())
	w := &tw{}
	for _, p := range paths {
		w.s(p).ln()
		for _, id := range byPath[p] {
			w.s("\t0x").x(id).ln()
		}
	}
	return w.ln().b
}

func sortedBuckets(bs []ExpiryBucket) []ExpiryBucket {
	out := append([]ExpiryBucket(nil), bs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

func dumpText(src Source, _ []byte) []byte {
	if !src.Serving() {
		return notServingLine()
	}
	d := src.Sessions()
	buckets := sortedBuckets(d.Expiry)
	total := 0
	for _, b := range buckets {
		total += len(b.Sessions)
	}
	w := &tw{}
	w.s("SessionTracker dump:").ln()
	w.s("Session Sets (").i(int64(len(buckets))).s(")/(").i(int64(total)).s("):").ln()
	for _, b := range buckets {
		w.i(int64(len(b.Sessions))).s(" expire at ").s(javaDate(b.At)).s(":").ln()
		ids := append([]int64(nil), b.Sessions...)
		sort.Slice(ids, func(i, j int) bool { return uint64(ids[i]) < uint64(ids[j]) })
		for _, id := range ids {
			w.s("\t0x").x(id).ln()
		}
	}
	w.s("ephemeral nodes dump:").ln()
	w.s("Sessions with Ephemerals (").i(int64(len(d.Ephemerals))).s("):").ln()
	for _, id := range sortedSessions(d.Ephemerals) {
		w.s("0x").x(id).s(":").ln()
		for _, p := range sortedCopy(d.Ephemerals[id]) {
			w.s("\t").s(p).ln()
		}
	}
	// ZooKeeper's NIO factory lists its idle-connection buckets here; its
	// Netty factory, like zabkit, has none to list.
	w.s("Connections dump:").ln()
	return w.b
}
