package admin

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func getJSON(t *testing.T, srv *httptest.Server, path string) map[string]any {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: status %d, type %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// hasExactly checks ZooKeeper's CommandsTest rule: exactly these data keys
// plus "command" and "error".
func hasExactly(t *testing.T, m map[string]any, name string, errWant any, keys ...string) {
	t.Helper()
	if m["command"] != name {
		t.Errorf("command = %v, want %s", m["command"], name)
	}
	if e, ok := m["error"]; !ok || e != errWant {
		t.Errorf("%s: error = %v (present %v), want %v", name, e, ok, errWant)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: missing %q in %v", name, k, m)
		}
	}
	if len(m) != len(keys)+2 {
		t.Errorf("%s: %d keys, want %d: %v", name, len(m), len(keys)+2, m)
	}
}

func TestHTTPCommands(t *testing.T) {
	defer traceMask.Store(306)
	f := leaderSource()
	srv := httptest.NewServer(Handler(digestSource{f}))
	defer srv.Close()

	m := getJSON(t, srv, "/commands/srvr")
	hasExactly(t, m, "server_stats", nil, "version", "read_only", "server_stats", "client_response", "proposal_stats", "node_count")
	ss := m["server_stats"].(map[string]any)
	if ss["server_state"] != "leader" || ss["avg_latency"] != 2.6364 || ss["packets_received"] != 14.0 || ss["last_processed_zxid"] != float64(0x100000007) {
		t.Errorf("server_stats = %v", ss)
	}

	m = getJSON(t, srv, "/commands/stats")
	hasExactly(t, m, "stats", nil, "version", "read_only", "server_stats", "client_response", "proposal_stats", "node_count", "connections", "secure_connections")
	if conns := m["connections"].([]any); len(conns) != 3 || len(conns[1].(map[string]any)) != 5 {
		t.Errorf("stats connections should be brief: %v", conns)
	}

	m = getJSON(t, srv, "/commands/cons")
	hasExactly(t, m, "connections", nil, "connections", "secure_connections")
	c1 := m["connections"].([]any)[1].(map[string]any)
	if c1["remote_socket_address"] != "127.0.0.1:50532" || c1["session_id"] != float64(sid0) ||
		c1["last_operation"] != "PING" || c1["established"] != 1795409415245.0 || c1["avg_latency"] != 4.0 {
		t.Errorf("connection info = %v", c1)
	}

	m = getJSON(t, srv, "/commands/monitor")
	if m["command"] != "monitor" || m["server_state"] != "leader" || m["znode_count"] != 8.0 ||
		m["avg_latency"] != 2.6364 || m["peer_state"] != "leading - broadcast" || m["fsync_count"] != 9.0 {
		t.Errorf("monitor = %v", m)
	}
	for k := range m {
		if strings.HasPrefix(k, "zk_") {
			t.Errorf("monitor key %q keeps the zk_ prefix", k)
		}
	}

	m = getJSON(t, srv, "/commands/conf")
	hasExactly(t, m, "configuration", nil, "client_port", "data_dir", "data_log_dir", "tick_time", "max_client_cnxns",
		"min_session_timeout", "max_session_timeout", "server_id", "client_port_listen_backlog")

	m = getJSON(t, srv, "/commands/wchc")
	hasExactly(t, m, "watches", nil, "session_id_to_watched_paths")
	w := m["session_id_to_watched_paths"].(map[string]any)
	if p := w[strconv.FormatInt(sid1, 10)]; len(p.([]any)) != 2 || p.([]any)[0] != "/a" {
		t.Errorf("watches = %v", w)
	}
	m = getJSON(t, srv, "/commands/watches_by_path")
	hasExactly(t, m, "watches_by_path", nil, "path_to_session_ids")
	if ids := m["path_to_session_ids"].(map[string]any)["/a"].([]any); len(ids) != 2 || ids[0] != float64(sid0) {
		t.Errorf("path_to_session_ids = %v", m)
	}
	m = getJSON(t, srv, "/commands/wchs")
	hasExactly(t, m, "watch_summary", nil, "num_connections", "num_paths", "num_total_watches")
	if m["num_connections"] != 2.0 || m["num_paths"] != 2.0 || m["num_total_watches"] != 3.0 {
		t.Errorf("watch_summary = %v", m)
	}

	m = getJSON(t, srv, "/commands/dump")
	hasExactly(t, m, "dump", nil, "expiry_time_to_session_ids", "session_id_to_ephemeral_paths")
	if e := m["session_id_to_ephemeral_paths"].(map[string]any); len(e) != 2 {
		t.Errorf("ephemerals = %v", e)
	}

	hasExactly(t, getJSON(t, srv, "/commands/dirs"), "dirs", nil, "datadir_size", "logdir_size")
	hasExactly(t, getJSON(t, srv, "/commands/isro"), "is_read_only", nil, "read_only")
	hasExactly(t, getJSON(t, srv, "/commands/ruok"), "ruok", nil)
	hasExactly(t, getJSON(t, srv, "/commands/lsnp"), "last_snapshot", nil, "zxid", "timestamp")
	hasExactly(t, getJSON(t, srv, "/commands/lead"), "leader", nil, "is_leader", "leader_id", "leader_ip")
	hasExactly(t, getJSON(t, srv, "/commands/obsr"), "observers", nil, "synced_observers", "observers")
	hasExactly(t, getJSON(t, srv, "/commands/hash"), "hash", nil, "digests")
	hasExactly(t, getJSON(t, srv, "/commands/gtmk"), "get_trace_mask", nil, "tracemask")
	hasExactly(t, getJSON(t, srv, "/commands/icfg"), "initial_configuration", nil, "initial_configuration")

	m = getJSON(t, srv, "/commands/zabstate")
	hasExactly(t, m, "zabstate", nil, "myid", "is_leader", "voting", "last_zxid", "zab_epoch", "zab_counter", "zabstate")
	if m["last_zxid"] != "0x100000007" || m["zab_epoch"] != 1.0 || m["zab_counter"] != 7.0 {
		t.Errorf("zabstate = %v", m)
	}

	m = getJSON(t, srv, "/commands/voting_view")
	cc := m["current_config"].(map[string]any)
	if len(cc) != 2 || cc["3"] != nil {
		t.Errorf("voting view should hold the two participants: %v", cc)
	}
	if s2 := cc["2"].(map[string]any); s2["client_address"] != "127.0.0.1:2182" ||
		s2["server_addresses"].([]any)[0] != "127.0.0.1:2889" || s2["election_addresses"].([]any)[0] != "127.0.0.1:3889" {
		t.Errorf("server.2 view = %v", s2)
	}

	m = getJSON(t, srv, "/commands/set_trace_mask?traceMask=99")
	hasExactly(t, m, "set_trace_mask", nil, "tracemask")
	if m["tracemask"] != 99.0 || traceMask.Load() != 99 {
		t.Errorf("stmk over HTTP: %v", m)
	}
	m = getJSON(t, srv, "/commands/stmk?traceMask=x")
	if m["error"] != "setTraceMask requires long traceMask argument, got x" || m["command"] != "set_trace_mask" {
		t.Errorf("bad stmk = %v", m)
	}

	hasExactly(t, getJSON(t, srv, "/commands/srst"), "stat_reset", nil)
	hasExactly(t, getJSON(t, srv, "/commands/crst"), "connection_stat_reset", nil)
	if f.serverReset != 1 || f.connReset != 1 {
		t.Errorf("HTTP resets: server=%d conn=%d", f.serverReset, f.connReset)
	}

	m = getJSON(t, srv, "/commands/bogus")
	hasExactly(t, m, "bogus", "Unknown command: bogus")
}

func TestHTTPStandaloneAndNotServing(t *testing.T) {
	f := refSource()
	srv := httptest.NewServer(Handler(f))
	defer srv.Close()
	m := getJSON(t, srv, "/commands/leader")
	if m["error"] != "server is not initialized" || m["command"] != "leader" || len(m) != 2 {
		t.Errorf("standalone leader = %v", m)
	}
	m = getJSON(t, srv, "/commands/zabstate")
	hasExactly(t, m, "zabstate", nil, "voting", "zabstate")

	f.serving = false
	m = getJSON(t, srv, "/commands/srvr")
	hasExactly(t, m, "srvr", notServing)
	// environment does not need a serving server.
	if m := getJSON(t, srv, "/commands/env"); m["error"] != nil || m["zookeeper.version"] != Version() {
		t.Errorf("env = %v", m)
	}
}

func TestHTTPListAndMethods(t *testing.T) {
	srv := httptest.NewServer(Handler(refSource(), WithCommandURL("admin/cmds/")))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/admin/cmds")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, c := range Commands() {
		if !strings.Contains(string(body), `<a href="/admin/cmds/`+c+`">`+c+"</a>\n<br/>\n") {
			t.Errorf("listing lacks %s:\n%s", c, body)
		}
	}
	resp, err = http.Post(srv.URL+"/admin/cmds/srvr", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status %d", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics without a registry: status %d", resp.StatusCode)
	}
}

func TestHTTPMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "zabkit_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	srv := httptest.NewServer(Handler(refSource(), WithMetrics(reg)))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "zabkit_test_total 3") {
		t.Errorf("/metrics:\n%s", body)
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, Handler(refSource())) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/commands/ruok")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"command": "ruok"`) {
		t.Errorf("ruok body %s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if err := ListenAndServe(context.Background(), "256.0.0.1:1", nil); err == nil {
		t.Error("ListenAndServe on a bad address succeeded")
	}
}
