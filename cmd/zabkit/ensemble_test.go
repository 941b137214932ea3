package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/cmd/zabkit/confload"
	"github.com/zabkit/zabkit/core/config"
)

func testPlan(t *testing.T) *ensemblePlan {
	return &ensemblePlan{
		Dir: t.TempDir(), Voters: 3, Observers: 1,
		ClientPort: 2181, QuorumPort: 2888, ElectionPort: 3888,
		Transport: "transport.tcp",
	}
}

// load reads member i's generated file the way `zabkit server` does.
func load(t *testing.T, p *ensemblePlan, i int) *config.Config {
	t.Helper()
	res, err := confload.Load([]string{"--config", p.ConfigPath(i)}, nil)
	if err != nil {
		t.Fatalf("%s: %v\n%s", p.ConfigPath(i), err, p.YAML(i))
	}
	return res.Config
}

func TestEnsembleConfigsLoadAsPlanned(t *testing.T) {
	p := testPlan(t)
	if err := p.Write(); err != nil {
		t.Fatal(err)
	}
	for i := range p.Total() {
		c := load(t, p, i)
		if c.MyID != int64(i+1) {
			t.Errorf("%s: myid %d", p.Name(i), c.MyID)
		}
		if c.DataDir != p.DataDir(i) {
			t.Errorf("%s: dataDir %s, want %s", p.Name(i), c.DataDir, p.DataDir(i))
		}
		if got := c.ClientAddr(); got != p.ClientAddr(i) {
			t.Errorf("%s: client address %s, want %s", p.Name(i), got, p.ClientAddr(i))
		}
		wantRole := config.Participant
		if i == 3 {
			wantRole = config.Observer
		}
		if c.PeerType != wantRole {
			t.Errorf("%s: peerType %s, want %s", p.Name(i), c.PeerType, wantRole)
		}
		if len(c.Servers) != 4 || len(c.Voters()) != 3 {
			t.Errorf("%s: %d servers, %d voters", p.Name(i), len(c.Servers), len(c.Voters()))
		}
		me := c.Servers[int64(i+1)]
		if me.QuorumPort != 2888+i || me.ElectionPort != 3888+i || me.Host != ensembleHost {
			t.Errorf("%s: server line %+v", p.Name(i), me)
		}
		if c.Transport.Module != "transport.tcp" || c.Admin.Enabled {
			t.Errorf("%s: transport %q, admin enabled %v", p.Name(i), c.Transport.Module, c.Admin.Enabled)
		}
		for _, w := range []string{"srvr", "mntr", "stat", "ruok", "conf"} {
			if !slices.Contains(c.FourLetterWhitelist, w) {
				t.Errorf("%s: %s not whitelisted: %v", p.Name(i), w, c.FourLetterWhitelist)
			}
		}
		id, err := os.ReadFile(filepath.Join(p.DataDir(i), "myid"))
		if err != nil || strings.TrimSpace(string(id)) != p.Name(i)[len("node"):] {
			t.Errorf("%s: myid file %q, %v", p.Name(i), id, err)
		}
	}
}

func TestEnsembleSetOverridesEveryMember(t *testing.T) {
	p := testPlan(t)
	p.AdminPort = 9080
	p.Extra = [][2]string{
		{"tickTime", "500"},
		{"4lw.commands.whitelist", "*"},
		{"zookeeper.digest.enabled", "no"},
		{"store.options.recoverCorrupt", "true"},
		{"TICKTIME", "700"}, // the same key again: the last one wins
	}
	if err := p.Write(); err != nil {
		t.Fatal(err)
	}
	for i := range p.Total() {
		c := load(t, p, i)
		if c.TickTime != 700 || !slices.Equal(c.FourLetterWhitelist, []string{"*"}) || c.DigestEnabled {
			t.Errorf("%s: tickTime %d, whitelist %v, digest %v", p.Name(i), c.TickTime, c.FourLetterWhitelist, c.DigestEnabled)
		}
		if c.Store.Options["recovercorrupt"] != "true" {
			t.Errorf("%s: store options %v", p.Name(i), c.Store.Options)
		}
		if !c.Admin.Enabled || c.Admin.Port != 9080+i || c.Admin.Address != ensembleHost {
			t.Errorf("%s: admin %+v", p.Name(i), c.Admin)
		}
	}
}

func TestYAMLScalarRoundTrips(t *testing.T) {
	for _, v := range []string{"plain", "/a/b c", "yes", "null", "a: b", `q"uote`, "#x", "-1", "1e3", "0x10", "* ", "[x]", ""} {
		p := testPlan(t)
		p.Extra = [][2]string{{"store.options.probe", v}}
		if err := p.Write(); err != nil {
			t.Fatal(err)
		}
		// Module options are kept as the file has them (the module decodes
		// them later), so this is exactly what YAML read.
		if got := load(t, p, 0).Store.Options["probe"]; got != v {
			t.Errorf("--set store.options.probe=%q came back as %#v", v, got)
		}
	}
}

func TestEnsembleRerunKeepsData(t *testing.T) {
	p := testPlan(t)
	if err := p.Write(); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(p.DataDir(0), "version-2", "log.1")
	if err := os.MkdirAll(filepath.Dir(kept), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kept, []byte("txns"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.Extra = [][2]string{{"tickTime", "1000"}}
	if err := p.Write(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(kept); err != nil || string(b) != "txns" {
		t.Fatalf("data lost on re-run: %q, %v", b, err)
	}
	if c := load(t, p, 0); c.TickTime != 1000 {
		t.Fatalf("config not rewritten: tickTime %d", c.TickTime)
	}
}

func TestEnsemblePlanValidate(t *testing.T) {
	for _, key := range []string{"myid", "dataDir", "server.2", "clientPort", "PEERTYPE", "zookeeper.dataLogDir", "admin.serverPort", "transport.module"} {
		p := testPlan(t)
		p.Extra = [][2]string{{key, "1"}}
		if err := p.validate(); !errors.Is(err, errReservedKey) {
			t.Errorf("--set %s: %v, want errReservedKey", key, err)
		}
	}
	bad := map[string]func(*ensemblePlan){
		"no voters":         func(p *ensemblePlan) { p.Voters = 0 },
		"negative":          func(p *ensemblePlan) { p.Observers = -1 },
		"too many":          func(p *ensemblePlan) { p.Voters = 255 },
		"client range":      func(p *ensemblePlan) { p.ClientPort = 65534 },
		"zero quorum port":  func(p *ensemblePlan) { p.QuorumPort = 0 },
		"admin range":       func(p *ensemblePlan) { p.AdminPort = 65535 },
		"election too high": func(p *ensemblePlan) { p.ElectionPort = 70000 },
	}
	for name, mod := range bad {
		p := testPlan(t)
		mod(p)
		if err := p.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := testPlan(t).validate(); err != nil {
		t.Fatal(err)
	}
}

func TestEnsembleCheckPortsNamesTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", ensembleHost+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	p := testPlan(t)
	p.Voters, p.Observers = 1, 0
	p.ClientPort, p.QuorumPort, p.ElectionPort = taken+1, taken+2, taken // node1's election port
	if p.ClientPort > 65535-2 {
		p.ClientPort, p.QuorumPort = taken-1, taken-2
	}
	err = p.CheckPorts()
	if err == nil || !strings.Contains(err.Error(), "node1") || !strings.Contains(err.Error(), "port "+strconv.Itoa(taken)) {
		t.Fatalf("CheckPorts = %v, want node1 and port %d", err, taken)
	}
}

func TestPrefixLines(t *testing.T) {
	var out strings.Builder
	prefixLines(&out, "[node2] ", strings.NewReader("one\ntwo\n\nlast without newline"))
	want := "[node2] one\n[node2] two\n[node2] \n[node2] last without newline\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}
