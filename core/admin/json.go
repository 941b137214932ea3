package admin

import (
	"bytes"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// member/object give JSON objects a fixed key order. ZooKeeper's responses
// come from insertion-ordered maps, and operators diff them by eye, so a
// stable order is worth the few lines over map[string]any.
type member struct {
	k string
	v any
}

type object []member

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.k)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(m.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (o object) has(k string) bool {
	for _, m := range o {
		if m.k == k {
			return true
		}
	}
	return false
}

// response wraps a command's data the way ZooKeeper's CommandResponse.toMap
// does: data first, then "command", then "error" (null on success). A
// command that reports its own error keeps it where it put it.
func response(name string, data object, errMsg string) object {
	out := append(object(nil), data...)
	if errMsg != "" && !data.has("error") {
		out = append(out, member{"command", name}, member{"error", errMsg})
		return out
	}
	out = append(out, member{"command", name})
	if !data.has("error") {
		out = append(out, member{"error", nil})
	}
	return out
}

// RunJSON runs a command by primary name or alias, as the HTTP endpoint
// does, and returns its JSON document (indented, like ZooKeeper's).
// Unknown names produce ZooKeeper's "Unknown command" error document.
func RunJSON(name string, src Source, query url.Values) []byte {
	var doc object
	c, ok := Command(name)
	switch {
	case !ok:
		doc = response(name, nil, "Unknown command: "+name)
	case c.ServerRequired && !src.Serving():
		doc = response(name, nil, notServing)
	default:
		doc = response(c.Name, c.json(src, query), "")
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil { // only reachable through an unsupported KV value type
		return []byte(`{"error": "Exception writing command response to JSON"}`)
	}
	return append(b, '\n')
}

func emptyJSON(Source, url.Values) object { return object{} }

func crstJSON(src Source, _ url.Values) object {
	src.ResetConnectionStats()
	return object{}
}

func srstJSON(src Source, _ url.Values) object {
	src.ResetServerStats()
	return object{}
}

func confJSON(src Source, _ url.Values) object {
	c := src.Config()
	return object{
		{"client_port", c.ClientPort},
		{"data_dir", c.DataDir},
		{"data_log_dir", c.DataLogDir},
		{"tick_time", c.TickTime},
		{"max_client_cnxns", c.MaxClientCnxns},
		{"min_session_timeout", c.MinSessionTimeout},
		{"max_session_timeout", c.MaxSessionTimeout},
		{"server_id", c.ServerID},
		{"client_port_listen_backlog", c.ClientPortListenBacklog},
	}
}

// connInfo is ServerCnxn.getConnectionInfo. Jackson prints the address
// without Java's leading slash.
func connInfo(c ConnStats, brief bool) object {
	o := object{
		{"remote_socket_address", c.Remote},
		{"interest_ops", c.InterestOps},
		{"outstanding_requests", c.Queued},
		{"packets_received", c.Received},
		{"packets_sent", c.Sent},
	}
	if !brief {
		o = append(o,
			member{"session_id", c.SessionID},
			member{"last_operation", lastOp(c.LastOp)},
			member{"established", unixMilli(c.Established)},
			member{"session_timeout", c.SessionTimeout},
			member{"last_cxid", c.LastCxid},
			member{"last_zxid", c.LastZxid},
			member{"last_response_time", c.LastResponse},
			member{"last_latency", c.LastLatency},
			member{"min_latency", c.Latency.MinOrZero()},
			member{"avg_latency", c.Latency.ConnAvg()},
			member{"max_latency", c.Latency.Max},
		)
	}
	return o
}

func connList(src Source, brief bool) []object {
	cs := src.Connections()
	out := make([]object, 0, len(cs))
	for _, c := range cs {
		out = append(out, connInfo(c, brief))
	}
	return out
}

func consJSON(src Source, _ url.Values) object {
	return object{
		{"connections", connList(src, false)},
		{"secure_connections", []object{}},
	}
}

func hashJSON(src Source, _ url.Values) object {
	list := []object{}
	if ds, ok := src.(DigestSource); ok {
		for _, d := range ds.Digests() {
			list = append(list, object{{"zxid", d.Zxid}, {"digest", d.Digest}})
		}
	}
	return object{{"digests", list}}
}

func dirsJSON(src Source, _ url.Values) object {
	st := src.ServerStats()
	return object{{"datadir_size", st.DataDirSize}, {"logdir_size", st.LogDirSize}}
}

func dumpJSON(src Source, _ url.Values) object {
	d := src.Sessions()
	expiry := object{}
	for _, b := range sortedBuckets(d.Expiry) {
		key := b.Key
		if key == 0 {
			key = b.At.UnixMilli()
		}
		ids := append([]int64{}, b.Sessions...)
		sort.Slice(ids, func(i, j int) bool { return uint64(ids[i]) < uint64(ids[j]) })
		expiry = append(expiry, member{strconv.FormatInt(key, 10), ids})
	}
	eph := object{}
	for _, id := range sortedSessions(d.Ephemerals) {
		eph = append(eph, member{strconv.FormatInt(id, 10), sortedCopy(d.Ephemerals[id])})
	}
	return object{
		{"expiry_time_to_session_ids", expiry},
		{"session_id_to_ephemeral_paths", eph},
	}
}

func kvObject(kvs []KV) object {
	o := make(object, 0, len(kvs))
	for _, kv := range kvs {
		v := kv.Value
		if d, ok := v.(time.Duration); ok {
			v = d.Milliseconds()
		}
		o = append(o, member{kv.Key, v})
	}
	return o
}

func enviJSON(Source, url.Values) object { return kvObject(environment()) }

func syspJSON(Source, url.Values) object {
	kvs := environment()
	sort.SliceStable(kvs, func(i, j int) bool { return kvs[i].Key < kvs[j].Key })
	return kvObject(kvs)
}

func gtmkJSON(Source, url.Values) object {
	return object{{"tracemask", traceMask.Load()}}
}

func stmkJSON(_ Source, q url.Values) object {
	if !q.Has("traceMask") {
		return object{{"error", "setTraceMask requires long traceMask argument"}}
	}
	v := q.Get("traceMask")
	m, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return object{{"error", "setTraceMask requires long traceMask argument, got " + v}}
	}
	traceMask.Store(m)
	return object{{"tracemask", m}}
}

func icfgJSON(src Source, _ url.Values) object {
	return object{{"initial_configuration", src.Config().InitialConfig}}
}

func isroJSON(src Source, _ url.Values) object {
	return object{{"read_only", src.ServerStats().Mode == ModeReadOnly}}
}

func lsnpJSON(src Source, _ url.Values) object {
	st := src.ServerStats()
	zxid, ts := int64(-1), int64(-1)
	if !st.LastSnapshotTime.IsZero() {
		zxid, ts = st.LastSnapshotZxid, st.LastSnapshotTime.UnixMilli()
	}
	return object{{"zxid", hex(zxid)}, {"timestamp", ts}}
}

func leaderJSON(src Source, _ url.Values) object {
	st := src.ServerStats()
	if st.Quorum == nil {
		return object{{"error", "server is not initialized"}}
	}
	return object{
		{"is_leader", st.Mode == ModeLeader},
		{"leader_id", st.Quorum.LeaderID},
		{"leader_ip", st.Quorum.LeaderAddress},
	}
}

func mntrJSON(src Source, _ url.Values) object {
	return kvObject(monitorValues(src.ServerStats()))
}

func bufferJSON(b BufferStats) object {
	l, mn, mx := b.values()
	return object{{"last_buffer_size", l}, {"min_buffer_size", mn}, {"max_buffer_size", mx}}
}

// serverStatsJSON follows the bean ZooKeeper's Jackson mapper makes of its
// ServerStats class (snake-cased getter names, including the odd
// "non_mtlsremote_conn_count").
func serverStatsJSON(st ServerStats) object {
	return object{
		{"packets_sent", st.PacketsSent},
		{"packets_received", st.PacketsReceived},
		{"fsync_threshold_exceed_count", 0},
		{"client_response_stats", bufferJSON(st.ClientResponse)},
		{"data_dir_size", st.DataDirSize},
		{"log_dir_size", st.LogDirSize},
		{"last_processed_zxid", st.Zxid},
		{"outstanding_requests", st.Outstanding},
		{"server_state", string(st.Mode)},
		{"avg_latency", st.Latency.ServerAvg()},
		{"max_latency", st.Latency.Max},
		{"min_latency", st.Latency.MinOrZero()},
		{"num_alive_client_connections", st.AliveConnections},
		{"provider_null", false},
		{"uptime", st.Uptime.Milliseconds()},
		{"auth_failed_count", st.AuthFailed},
		{"non_mtlsremote_conn_count", 0},
		{"non_mtlslocal_conn_count", 0},
	}
}

func srvrJSON(src Source, _ url.Values) object {
	st := src.ServerStats()
	o := object{
		{"version", Version()},
		{"read_only", st.Mode == ModeReadOnly},
		{"server_stats", serverStatsJSON(st)},
		{"client_response", bufferJSON(st.ClientResponse)},
	}
	if st.Mode == ModeLeader && st.Quorum != nil {
		o = append(o, member{"proposal_stats", bufferJSON(st.Quorum.ProposalSizes)})
	}
	return append(o, member{"node_count", st.NodeCount})
}

func statJSON(src Source, q url.Values) object {
	return append(srvrJSON(src, q),
		member{"connections", connList(src, true)},
		member{"secure_connections", []object{}},
	)
}

func observersJSON(src Source, _ url.Values) object {
	var n int64
	if q := src.ServerStats().Quorum; q != nil {
		n = q.SyncedObservers
	}
	return object{{"synced_observers", n}, {"observers", []object{}}}
}

// votingViewJSON rebuilds ZooKeeper's per-member view from the
// "server.N=addr:port:eport[:type][;client]" lines of the config.
func votingViewJSON(src Source, _ url.Values) object {
	view := object{}
	q := src.Config().Quorum
	if q == nil {
		return object{{"current_config", view}}
	}
	for _, line := range q.Members {
		key, val, ok := strings.Cut(line, "=")
		id, found := strings.CutPrefix(key, "server.")
		if !ok || !found {
			continue
		}
		m := parseMember(val)
		if m.observer {
			continue // the voting view holds participants only
		}
		view = append(view, member{id, object{
			{"server_addresses", m.server},
			{"election_addresses", m.election},
			{"client_address", m.client},
			{"learner_type", "participant"},
		}})
	}
	return object{{"current_config", view}}
}

type memberSpec struct {
	server, election []string
	client           string
	observer         bool
}

func parseMember(v string) memberSpec {
	ms := memberSpec{server: []string{}, election: []string{}}
	addrs, client, _ := strings.Cut(v, ";")
	ms.client = client
	for _, a := range strings.Split(addrs, "|") {
		parts := strings.Split(a, ":")
		if n := len(parts); n > 0 && (parts[n-1] == "participant" || parts[n-1] == "observer") {
			ms.observer = parts[n-1] == "observer"
			parts = parts[:n-1]
		}
		if len(parts) < 3 {
			continue
		}
		host := strings.Join(parts[:len(parts)-2], ":")
		ms.server = append(ms.server, host+":"+parts[len(parts)-2])
		ms.election = append(ms.election, host+":"+parts[len(parts)-1])
	}
	return ms
}

func wchcJSON(src Source, _ url.Values) object {
	m := src.WatchesBySession()
	o := object{}
	for _, id := range sortedSessions(m) {
		if len(m[id]) > 0 {
			o = append(o, member{strconv.FormatInt(id, 10), sortedCopy(m[id])})
		}
	}
	return object{{"session_id_to_watched_paths", o}}
}

func wchpJSON(src Source, _ url.Values) object {
	paths, byPath := invertWatches(src.WatchesBySession())
	o := object{}
	for _, p := range paths {
		o = append(o, member{p, byPath[p]})
	}
	return object{{"path_to_session_ids", o}}
}

func wchsJSON(src Source, _ url.Values) object {
	c, p, t := watchTotals(src.WatchesBySession())
	return object{{"num_connections", c}, {"num_paths", p}, {"num_total_watches", t}}
}

func zabstateJSON(src Source, _ url.Values) object {
	st := src.ServerStats()
	if st.Quorum == nil {
		return object{{"voting", false}, {"zabstate", ""}}
	}
	cfg := src.Config()
	voting := cfg.Quorum != nil && !cfg.Quorum.Observer
	return object{
		{"myid", cfg.ServerID},
		{"is_leader", st.Mode == ModeLeader},
		{"voting", voting},
		{"last_zxid", "0x" + hex(st.Zxid)},
		{"zab_epoch", st.Zxid >> 32},
		{"zab_counter", st.Zxid & 0xffffffff},
		{"zabstate", st.Quorum.ZabState},
	}
}
