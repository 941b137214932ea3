package config

import (
	"errors"
	"strings"
	"testing"
)

func valid() Config {
	c := Default()
	c.DataDir = "/tmp/zk"
	return c
}

func TestDefaultNeedsOnlyDataDir(t *testing.T) {
	c := Default()
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "dataDir: is required") {
		t.Fatalf("Default().Validate() = %v, want dataDir required", err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	c = valid()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestDerivedValues(t *testing.T) {
	c := valid()
	c.TickTime = 2000
	if got := c.MinSessionTimeoutMs(); got != 4000 {
		t.Errorf("min session timeout = %d, want 4000", got)
	}
	if got := c.MaxSessionTimeoutMs(); got != 40000 {
		t.Errorf("max session timeout = %d, want 40000", got)
	}
	c.MinSessionTimeout, c.MaxSessionTimeout = 0, 0
	if c.MinSessionTimeoutMs() != 4000 || c.MaxSessionTimeoutMs() != 40000 {
		t.Errorf("0 must mean the tick-derived default")
	}
	c.MinSessionTimeout, c.MaxSessionTimeout = 5000, 6000
	if c.MinSessionTimeoutMs() != 5000 || c.MaxSessionTimeoutMs() != 6000 {
		t.Errorf("explicit timeouts not honoured")
	}
	if c.LogDir() != "/tmp/zk" {
		t.Errorf("LogDir = %q, want dataDir", c.LogDir())
	}
	c.DataLogDir = "/logs"
	if c.LogDir() != "/logs" {
		t.Errorf("LogDir = %q, want /logs", c.LogDir())
	}
	c.ClientPortAddress = "::1"
	if c.ClientAddr() != "[::1]:2181" {
		t.Errorf("ClientAddr = %q", c.ClientAddr())
	}
}

func TestFourLetterWordAllowed(t *testing.T) {
	c := valid()
	if !c.FourLetterWordAllowed("srvr") || c.FourLetterWordAllowed("ruok") || c.FourLetterWordAllowed("isro") {
		t.Fatal("default whitelist must be srvr only")
	}
	c.ReadOnlyMode = true
	if !c.FourLetterWordAllowed("isro") {
		t.Fatal("isro must be allowed with read-only mode")
	}
	c.FourLetterWhitelist = []string{"*"}
	if !c.FourLetterWordAllowed("mntr") {
		t.Fatal("* must allow everything")
	}
}

func TestValidateNamesKeys(t *testing.T) {
	cases := []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.TickTime = 0 }, "tickTime: must be > 0"},
		{func(c *Config) { c.ClientPort = 70000 }, "clientPort:"},
		{func(c *Config) { c.MinSessionTimeout, c.MaxSessionTimeout = 9000, 8000 }, "minSessionTimeout:"},
		{func(c *Config) { c.SnapCount = 1 }, "snapCount: must be >= 2"},
		{func(c *Config) { c.AutopurgeSnapRetainCount = 2 }, "autopurge.snapRetainCount:"},
		{func(c *Config) { c.FourLetterWhitelist = []string{"ruok", "stats"} }, "4lw.commands.whitelist:"},
		{func(c *Config) { c.JuteMaxBuffer = 0 }, "jute.maxbuffer:"},
		{func(c *Config) { c.ElectionAlg = 1 }, "electionAlg:"},
		{func(c *Config) { c.Store.Module = "pebble" }, "store.module:"},
		{func(c *Config) { c.Log.Level = "loud" }, "log.level:"},
		{func(c *Config) { c.SuperDigest = "nocolon" }, "superDigest:"},
		{func(c *Config) { c.Admin.CommandURL = "commands" }, "admin.commandURL:"},
	}
	for _, tc := range cases {
		c := valid()
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error containing %q, got %v", tc.want, err)
		}
		var ke *KeyError
		if !errors.As(err, &ke) {
			t.Errorf("%v: not a *KeyError", err)
		}
	}
}

func ensemble(t *testing.T, lines map[int64]string) Config {
	t.Helper()
	c := valid()
	c.InitLimit, c.SyncLimit = 10, 5
	c.Servers = map[int64]ServerSpec{}
	for id, l := range lines {
		s, err := ParseServerSpec(id, l)
		if err != nil {
			t.Fatal(err)
		}
		c.Servers[id] = s
	}
	return c
}

func TestEnsembleValidation(t *testing.T) {
	c := ensemble(t, map[int64]string{1: "a:2888:3888", 2: "b:2888:3888", 3: "c:2888:3888:observer"})
	if !c.Distributed() {
		t.Fatal("two voters must be distributed")
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "myid: is required") {
		t.Fatalf("missing myid: got %v", err)
	}
	c.MyID = 4
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "myid: 4 has no server.4") {
		t.Fatalf("unknown myid: got %v", err)
	}
	c.MyID = 3
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "peerType:") {
		t.Fatalf("observer line with participant peerType: got %v", err)
	}
	c.PeerType = Observer
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.InitLimit = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "initLimit: is required") {
		t.Fatalf("initLimit: got %v", err)
	}

	one := ensemble(t, map[int64]string{1: "a:2888:3888"})
	if one.Distributed() {
		t.Fatal("a single participant with standaloneEnabled runs standalone")
	}
	if err := one.Validate(); err != nil {
		t.Fatal(err)
	}
	one.StandaloneEnabled = false
	if !one.Distributed() {
		t.Fatal("standaloneEnabled=false makes one server a quorum")
	}

	obs := ensemble(t, map[int64]string{1: "a:2888:3888", 2: "b:2888:3888:observer"})
	if err := obs.Validate(); err == nil || !strings.Contains(err.Error(), "observers without a quorum") {
		t.Fatalf("observer with one voter: got %v", err)
	}

	ext := ensemble(t, map[int64]string{255: "a:2888:3888", 2: "b:2888:3888"})
	ext.MyID, ext.ExtendedTypesEnabled = 255, true
	if err := ext.Validate(); err == nil || !strings.Contains(err.Error(), "myid: must be <= 254") {
		t.Fatalf("extended types with sid 255: got %v", err)
	}
}

func TestParseServerSpec(t *testing.T) {
	cases := []struct {
		in   string
		want ServerSpec
	}{
		{"zk1:2888:3888", ServerSpec{ID: 1, Host: "zk1", QuorumPort: 2888, ElectionPort: 3888, Role: Participant}},
		{" zk1:2888:3888:Observer ", ServerSpec{ID: 1, Host: "zk1", QuorumPort: 2888, ElectionPort: 3888, Role: Observer}},
		{"zk1:2888:3888;2181", ServerSpec{ID: 1, Host: "zk1", QuorumPort: 2888, ElectionPort: 3888, Role: Participant, ClientPort: 2181}},
		{"zk1:2888:3888:participant;127.0.0.1:2182", ServerSpec{ID: 1, Host: "zk1", QuorumPort: 2888, ElectionPort: 3888, Role: Participant, ClientHost: "127.0.0.1", ClientPort: 2182}},
		{"[::1]:2888:3888:observer;[::1]:2181", ServerSpec{ID: 1, Host: "::1", QuorumPort: 2888, ElectionPort: 3888, Role: Observer, ClientHost: "::1", ClientPort: 2181}},
	}
	for _, tc := range cases {
		got, err := ParseServerSpec(1, tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
		back, err := ParseServerSpec(1, got.String())
		if err != nil {
			t.Errorf("re-parse %q: %v", got.String(), err)
		}
		if back.ClientHost == "0.0.0.0" && got.ClientHost == "" {
			back.ClientHost = ""
		}
		if back != got {
			t.Errorf("round trip %q -> %q -> %+v", tc.in, got.String(), back)
		}
	}
	for _, bad := range []string{
		"", "zk1", "zk1:2888", "zk1:2888:2888", "zk1:2888:3888:leader", "zk1:x:3888",
		"zk1:2888:3888:observer:extra", "zk1:2888:3888;", "zk1:2888:3888;a:b:1", "zk1:0:3888",
		"a:1:2|b:1:2", "[::1:2888:3888", ":2888:3888", "zk1:2888:3888;2181;2182", "zk1:2888:99999",
	} {
		if _, err := ParseServerSpec(1, bad); !errors.Is(err, ErrServerSpec) {
			t.Errorf("%q: want ErrServerSpec, got %v", bad, err)
		}
	}
}

func FuzzParseServerSpec(f *testing.F) {
	for _, s := range []string{"zk1:2888:3888", "h:1:2:observer;3", "[::1]:1:2;[::1]:3", "a:1:2;b:3", "x|y", "[", "a:1:2;[::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseServerSpec(7, in)
		if err != nil {
			if !errors.Is(err, ErrServerSpec) {
				t.Fatalf("error %v does not wrap ErrServerSpec", err)
			}
			return
		}
		if err := s.check(); err != nil {
			t.Fatalf("accepted %q but check fails: %v", in, err)
		}
		// Whatever we accept must render to a line we accept again with
		// the same addresses.
		back, err := ParseServerSpec(7, s.String())
		if err != nil {
			t.Fatalf("%q rendered as %q which does not parse: %v", in, s.String(), err)
		}
		if back.Host != s.Host || back.QuorumPort != s.QuorumPort || back.ElectionPort != s.ElectionPort ||
			back.Role != s.Role || back.ClientPort != s.ClientPort {
			t.Fatalf("round trip %q: %+v != %+v", in, back, s)
		}
	})
}
