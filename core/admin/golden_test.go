package admin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func leaderSource() *fakeSource {
	f := refSource()
	f.stats.Mode = ModeLeader
	f.stats.Zxid = 0x100000007
	f.stats.Quorum = &QuorumStats{
		PeerState: "leading - broadcast", QuorumSize: 3, ZabState: "broadcast",
		LeaderID: 1, LeaderAddress: "127.0.0.1:2888",
		Learners: 2, SyncedFollowers: 2, PendingSyncs: 0, LeaderUptime: 5 * time.Second,
		ProposalSizes: BufferStats{Last: 48, Min: 36, Max: 120, Count: 3},
	}
	f.stats.Extra = []KV{{"fsync_count", int64(9)}, {"avg_fsync_ms", 0.25}}
	f.conf.ServerID = 1
	f.conf.Quorum = &QuorumConfig{
		InitLimit: 10, SyncLimit: 5, ElectionAlg: 3,
		ElectionPort: []int{3888}, QuorumPort: []int{2888},
		Members: []string{
			"server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181",
			"server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182",
			"server.3=127.0.0.1:2890:3890:observer;127.0.0.1:2183",
		},
		Version: 0x100000000,
	}
	return f
}

func TestGoldenLeaderSrvr(t *testing.T) {
	got := string(Run("srvr", leaderSource(), Whitelist{}))
	want := "Zookeeper version: " + Version() + "\n" +
		"Latency min/avg/max: 0/2.6364/12\nReceived: 14\nSent: 13\nConnections: 3\nOutstanding: 0\n" +
		"Zxid: 0x100000007\nMode: leader\nNode count: 8\nProposal sizes last/min/max: 48/36/120\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestGoldenReadOnly(t *testing.T) {
	f := refSource()
	f.stats.Mode = ModeReadOnly
	f.stats.Latency = Latency{}
	f.conns = nil
	got := string(Run("stat", f, AllowAll()))
	want := "Zookeeper version: " + Version() + "\nREAD-ONLY mode; serving only read-only clients\n" +
		"Clients:\n\nLatency min/avg/max: 0/0.0/0\nReceived: 14\nSent: 13\nConnections: 3\nOutstanding: 0\n" +
		"Zxid: 0x5\nMode: read-only\nNode count: 8\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := string(Run("isro", f, AllowAll())); got != "ro" {
		t.Errorf("isro = %q", got)
	}
}

func TestGoldenNotServing(t *testing.T) {
	f := refSource()
	f.serving = false
	line := notServing + "\n"
	for _, w := range []string{"srvr", "stat", "cons", "conf", "dirs", "dump", "mntr", "wchs", "wchc", "wchp", "crst", "srst"} {
		if got := string(Run(w, f, AllowAll())); got != line {
			t.Errorf("%s = %q", w, got)
		}
	}
	special := map[string]string{"ruok": "imok", "isro": "null", "hash": notServing}
	for w, want := range special {
		if got := string(Run(w, f, AllowAll())); got != want {
			t.Errorf("%s = %q, want %q", w, got, want)
		}
	}
	if f.serverReset != 0 || f.connReset != 0 {
		t.Error("reset ran on a server that is not serving")
	}
}

func TestGoldenMntrStandalone(t *testing.T) {
	got := string(Run("mntr", refSource(), AllowAll()))
	want := "zk_version\t" + Version() + "\n" + `zk_server_state	standalone
zk_ephemerals_count	2
zk_num_alive_connections	3
zk_avg_latency	2.6364
zk_outstanding_requests	0
zk_znode_count	8
zk_global_sessions	2
zk_non_mtls_remote_conn_count	0
zk_last_client_response_size	16
zk_packets_sent	13
zk_packets_received	14
zk_max_client_response_size	93
zk_connection_drop_probability	0.0
zk_watch_count	4
zk_auth_failed_count	0
zk_min_latency	0
zk_max_file_descriptor_count	20000
zk_approximate_data_size	61
zk_open_file_descriptor_count	41
zk_local_sessions	0
zk_uptime	15678
zk_max_latency	12
zk_outstanding_tls_handshake	0
zk_min_client_response_size	16
zk_non_mtls_local_conn_count	0
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestGoldenMntrLeader(t *testing.T) {
	got := string(Run("mntr", leaderSource(), AllowAll()))
	if !strings.HasPrefix(got, "zk_version\t"+Version()+"\nzk_server_state\tleader\nzk_peer_state\tleading - broadcast\nzk_ephemerals_count\t2\n") {
		t.Errorf("leader mntr head wrong:\n%s", got)
	}
	wantTail := `zk_non_mtls_local_conn_count	0
zk_quorum_size	3
zk_learners	2
zk_synced_followers	2
zk_synced_non_voting_followers	0
zk_synced_observers	0
zk_pending_syncs	0
zk_leader_uptime	5000
zk_last_proposal_size	48
zk_max_proposal_size	120
zk_min_proposal_size	36
zk_fsync_count	9
zk_avg_fsync_ms	0.25
`
	if !strings.HasSuffix(got, wantTail) {
		t.Errorf("leader mntr tail wrong:\n%s", got)
	}
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if k, _, ok := strings.Cut(l, "\t"); !ok || !strings.HasPrefix(k, "zk_") {
			t.Errorf("malformed mntr line %q", l)
		}
	}
}

func TestGoldenConfQuorum(t *testing.T) {
	got := string(Run("conf", leaderSource(), AllowAll()))
	want := `clientPort=52329
secureClientPort=-1
dataDir=/tmp/zkadm/data/version-2
dataDirSize=457
dataLogDir=/tmp/zkadm/data/version-2
dataLogSize=457
tickTime=2000
maxClientCnxns=0
minSessionTimeout=4000
maxSessionTimeout=40000
clientPortListenBacklog=-1
serverId=1
initLimit=10
syncLimit=5
electionAlg=3
electionPort=3888
quorumPort=2888
peerType=0
membership: 
server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181
server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182
server.3=127.0.0.1:2890:3890:observer;127.0.0.1:2183
version=100000000`
	if got != want {
		t.Errorf("got:\n%q\nwant:\n%q", got, want)
	}
}

func TestGoldenHash(t *testing.T) {
	f := refSource()
	if got := Run("hash", f, AllowAll()); len(got) != 0 {
		t.Errorf("hash without digests = %q", got)
	}
	d := digestSource{f}
	f.digests = []Digest{{Zxid: 0x100000001, Digest: 1234567}, {Zxid: 0x100000080, Digest: -5}}
	if got, want := string(Run("hash", d, AllowAll())), "100000001: 1234567\n100000080: -5\n"; got != want {
		t.Errorf("hash = %q, want %q", got, want)
	}
}

func TestGoldenEnvi(t *testing.T) {
	defer func(e func() []KV) { environment = e }(environment)
	environment = func() []KV {
		return []KV{{"zookeeper.version", Version()}, {"host.name", "zk1"}, {"go.maxprocs", 2}}
	}
	got := string(Run("envi", refSource(), AllowAll()))
	if want := "Environment:\nzookeeper.version=" + Version() + "\nhost.name=zk1\ngo.maxprocs=2\n"; got != want {
		t.Errorf("envi = %q, want %q", got, want)
	}
}

func TestRealEnvironmentHasScriptKeys(t *testing.T) {
	got := string(Run("envi", refSource(), AllowAll()))
	for _, k := range []string{"Environment:\nzookeeper.version=" + Version() + "\n", "\nhost.name=", "\nos.name=", "\nuser.dir=", "\nos.memory.total="} {
		if !strings.Contains(got, k) {
			t.Errorf("envi lacks %q:\n%s", k, got)
		}
	}
}

func TestResetsReachSource(t *testing.T) {
	f := refSource()
	Run("srst", f, AllowAll())
	Run("crst", f, AllowAll())
	Run("crst", f, ParseWhitelist("srst", false)) // blocked: must not reset
	if f.serverReset != 1 || f.connReset != 1 {
		t.Errorf("resets server=%d conn=%d, want 1 and 1", f.serverReset, f.connReset)
	}
}

func TestVersionBanner(t *testing.T) {
	v := Version()
	if !strings.HasPrefix(v, "3.8.4-zabkit-") {
		t.Errorf("version %q does not lead with 3.8.4-", v)
	}
	_, date, ok := strings.Cut(v, ", built on ")
	if !ok {
		t.Fatalf("no build date in %q", v)
	}
	if _, err := time.Parse(bannerDateLayout, date); err != nil {
		t.Errorf("build date %q not in MM/DD/YYYY HH:MM TZ form: %v", date, err)
	}
	// kazoo's server_version: the part before the first "-", split on dots.
	if major := strings.Split(strings.Split(v, "-")[0], "."); len(major) != 3 || major[0] != "3" || major[1] != "8" {
		t.Errorf("kazoo would parse %v", major)
	}
}

func TestWhitelist(t *testing.T) {
	cases := []struct {
		spec  string
		ro    bool
		allow []string
		deny  []string
	}{
		{"", false, []string{"srvr"}, []string{"ruok", "isro", "mntr", "stat"}},
		{"", true, []string{"srvr", "isro"}, []string{"ruok"}},
		{"*", false, FourLetterWords(), nil},
		{" ruok , mntr,,", false, []string{"srvr", "ruok", "mntr"}, []string{"stat", "isro"}},
		{"stat, *", false, FourLetterWords(), nil},
	}
	for _, c := range cases {
		w := ParseWhitelist(c.spec, c.ro)
		for _, a := range c.allow {
			if !w.Allows(a) {
				t.Errorf("%q ro=%v should allow %s", c.spec, c.ro, a)
			}
		}
		for _, d := range c.deny {
			if w.Allows(d) {
				t.Errorf("%q ro=%v should deny %s", c.spec, c.ro, d)
			}
			if got, want := string(Run(d, refSource(), w)), d+" is not executed because it is not in the whitelist.\n"; got != want {
				t.Errorf("blocked %s = %q", d, got)
			}
		}
	}
	if (Whitelist{}).String() != "srvr" || AllowAll().String() != "*" ||
		ParseWhitelist("stat,ruok", true).String() != "srvr,isro,ruok,stat" {
		t.Errorf("String: %q %q %q", Whitelist{}.String(), AllowAll().String(), ParseWhitelist("stat,ruok", true).String())
	}
}

func TestIsFourLetterWord(t *testing.T) {
	words := []string{"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro",
		"mntr", "ruok", "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs"}
	if got := FourLetterWords(); strings.Join(got, ",") != strings.Join(words, ",") {
		t.Errorf("FourLetterWords = %v", got)
	}
	for _, w := range words {
		n := int32(binary.BigEndian.Uint32([]byte(w)))
		got, ok := IsFourLetterWord(n)
		if !ok || got != w {
			t.Errorf("IsFourLetterWord(%q=%#x) = %q, %v", w, n, got, ok)
		}
		if c, ok := Command(w); !ok || c.Word != w {
			t.Errorf("Command(%q) does not resolve to its word", w)
		}
	}
	if w, ok := IsFourLetterWord(0x72756f6b); !ok || w != "ruok" {
		t.Errorf("spec example ruok=0x72756f6b: %q %v", w, ok)
	}
	for _, n := range []int32{0, 44, 45, 0xfffff, -1, int32(-0xb0003) /* 0xfff4fffd telnet */, 0x52554f4b /* RUOK */} {
		if w, ok := IsFourLetterWord(n); ok {
			t.Errorf("IsFourLetterWord(%#x) = %q", n, w)
		}
	}
}

func TestAliases(t *testing.T) {
	want := map[string][]string{
		"connection_stat_reset": {"crst"}, "configuration": {"conf", "config"}, "connections": {"cons"},
		"hash": nil, "dirs": nil, "dump": nil, "environment": {"env", "envi"}, "get_trace_mask": {"gtmk"},
		"initial_configuration": {"icfg"}, "is_read_only": {"isro"}, "last_snapshot": {"lsnp"},
		"leader": {"lead"}, "monitor": {"mntr"}, "observer_connection_stat_reset": {"orst"}, "ruok": nil,
		"set_trace_mask": {"stmk"}, "server_stats": {"srvr"}, "stats": {"stat"}, "stat_reset": {"srst"},
		"observers": {"obsr"}, "system_properties": {"sysp"}, "voting_view": nil, "watches": {"wchc"},
		"watches_by_path": {"wchp"}, "watch_summary": {"wchs"}, "zabstate": nil,
	}
	if len(Commands()) != len(want) {
		t.Errorf("Commands() = %v", Commands())
	}
	for name, aliases := range want {
		c, ok := Command(name)
		if !ok || c.Name != name {
			t.Errorf("Command(%q) missing", name)
			continue
		}
		for _, a := range aliases {
			if ac, ok := Command(a); !ok || ac != c {
				t.Errorf("alias %q does not resolve to %q", a, name)
			}
		}
	}
	if _, ok := Command("nope"); ok {
		t.Error("Command(nope) resolved")
	}
	if Run("nope", refSource(), AllowAll()) != nil || Run("voting_view", refSource(), AllowAll()) != nil {
		t.Error("Run of unknown or HTTP-only command returned text")
	}
	// An HTTP name with a word runs that word, under that word's whitelist entry.
	if got := string(Run("server_stats", refSource(), Whitelist{})); !strings.HasPrefix(got, "Zookeeper version: ") {
		t.Errorf("Run(server_stats) = %q", got)
	}
}

// blockingReader fails the test if anything reads from it.
type blockingReader struct{ t *testing.T }

func (b blockingReader) Read([]byte) (int, error) {
	b.t.Error("read from connection although the command takes no argument or is blocked")
	return 0, io.EOF
}

func TestRespond(t *testing.T) {
	defer traceMask.Store(306)
	var out bytes.Buffer
	arg := make([]byte, 8)
	binary.BigEndian.PutUint64(arg, 1234)
	if err := Respond(&out, bytes.NewReader(arg), "stmk", refSource(), AllowAll()); err != nil {
		t.Fatal(err)
	}
	if out.String() != "1234" {
		t.Errorf("stmk = %q", out.String())
	}
	out.Reset()
	if err := Respond(&out, blockingReader{t}, "gtmk", refSource(), AllowAll()); err != nil || out.String() != "1234" {
		t.Errorf("gtmk after stmk = %q, %v", out.String(), err)
	}
	out.Reset()
	if err := Respond(&out, blockingReader{t}, "stmk", refSource(), Whitelist{}); err != nil ||
		out.String() != "stmk is not executed because it is not in the whitelist.\n" {
		t.Errorf("blocked stmk = %q, %v", out.String(), err)
	}
	if err := Respond(&out, bytes.NewReader([]byte{1, 2}), "stmk", refSource(), AllowAll()); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short stmk argument: err = %v", err)
	}
	if err := Respond(&out, blockingReader{t}, "server_stats", refSource(), AllowAll()); !errors.Is(err, ErrNotFourLetterWord) {
		t.Errorf("Respond(server_stats) err = %v", err)
	}
}

func TestOpName(t *testing.T) {
	cases := map[int32]string{11: "PING", -10: "SESS", 1: "CREA", 15: "CREA", 19: "CREA", 21: "CREA",
		2: "DELE", 4: "GETD", 8: "GETC", 12: "GETC", 14: "MULT", 22: "MLTR", 3: "EXIS", 104: "GETACN",
		107: "HOMI", -11: "CLOS", 999: "NA"}
	for op, want := range cases {
		if got := OpName(op); got != want {
			t.Errorf("OpName(%d) = %q, want %q", op, got, want)
		}
	}
}

func TestJavaFormatting(t *testing.T) {
	doubles := map[float64]string{0: "0.0", 2.6364: "2.6364", 12: "12.0", 1e7: "1.0E7",
		1.5e-4: "1.5E-4", 0.001: "0.001", 1234567.5: "1234567.5", -3: "-3.0"}
	for f, want := range doubles {
		if got := javaDouble(f); got != want {
			t.Errorf("javaDouble(%v) = %q, want %q", f, got, want)
		}
	}
	rounds := map[float64]float64{29.0 / 11: 2.6364, 0.00005: 0.0001, 0.00004999: 0, 1.23455: 1.2346, 1.00105: 1.001, 2.5: 2.5, 1.0 / 3: 0.3333}
	for in, want := range rounds {
		if got := roundHalfUp4(in); got != want {
			t.Errorf("roundHalfUp4(%v) = %v, want %v", in, got, want)
		}
	}
	if got := javaDate(time.Date(2026, 11, 3, 4, 5, 6, 0, time.UTC)); got != "Tue Nov 03 04:05:06 UTC 2026" {
		t.Errorf("javaDate = %q", got)
	}
	if hex(-1) != "ffffffffffffffff" {
		t.Errorf("hex(-1) = %q", hex(-1))
	}
}
