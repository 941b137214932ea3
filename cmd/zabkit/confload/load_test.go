package confload

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/zabkit/zabkit/configs"
	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/registry"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, args, env []string) *Result {
	t.Helper()
	r, err := Load(args, env)
	if err != nil {
		t.Fatalf("Load(%q): %v", args, err)
	}
	return r
}

func loadErr(t *testing.T, args, env []string, wants ...string) {
	t.Helper()
	_, err := Load(args, env)
	if err == nil {
		t.Fatalf("Load(%q, %q) succeeded, want error containing %q", args, env, wants)
	}
	if !errors.Is(err, ErrConfig) {
		t.Errorf("error %v does not wrap ErrConfig", err)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestEmbeddedDefault(t *testing.T) {
	r := mustLoad(t, nil, nil)
	c := r.Config
	if r.Format != "embedded" || r.File != "" {
		t.Errorf("format %q file %q", r.Format, r.File)
	}
	if c.ClientAddr() != "127.0.0.1:2181" || c.DataDir != "./data" || c.LogDir() != "./data" ||
		c.Store.Module != "store.file" || c.Transport.Module != "transport.tcp" || c.Election.Module != "election.fle" ||
		c.TickTime != 2000 || c.Distributed() || c.AdminAddr() != "127.0.0.1:8080" || !c.Admin.Enabled {
		t.Errorf("embedded default: %+v", c)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings: %v", r.Warnings)
	}
}

// Every key zabkit knows is in default.yaml (server/myid as commented
// examples), and every value there carries a comment.
func TestDefaultYAMLDocumentsEveryKey(t *testing.T) {
	entries, err := parseYAML(configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		have[resolveKey(e.key).canon] = true
	}
	text := string(configs.Default)
	for _, d := range keyDefs {
		if !have[strings.ToLower(d.name)] && !strings.Contains(text, "# "+d.name+":") {
			t.Errorf("default.yaml does not set or show %s", d.name)
		}
	}
	if !strings.Contains(text, "# server:") {
		t.Error("default.yaml does not show server.N")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(configs.Default, &doc); err != nil {
		t.Fatal(err)
	}
	var check func(n *yaml.Node, path string)
	check = func(n *yaml.Node, path string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			commented := k.HeadComment != "" || k.LineComment != "" ||
				(i >= 2 && n.Content[i-2].HeadComment != "" && n.Content[i-1].Kind == yaml.ScalarNode)
			if v.Kind == yaml.MappingNode && len(v.Content) > 0 {
				check(v, path+k.Value+".")
				continue
			}
			if !commented && !(k.Value == "options") {
				t.Errorf("default.yaml: %s%s has no comment", path, k.Value)
			}
		}
	}
	check(doc.Content[0], "")
}

func TestReadmeDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range keyDefs {
		if !strings.Contains(string(readme), "`"+d.name+"`") {
			t.Errorf("configs/README.md does not document %s", d.name)
		}
	}
}

func TestYAMLAndZooCfgAreEquivalent(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	write(t, data, "myid", "2\n")
	cfg := write(t, dir, "zoo.cfg", `
tickTime=2000
initLimit=10
syncLimit=5
dataDir=`+data+`
clientPortAddress=127.0.0.1
clientPort=2182
maxClientCnxns=0
autopurge.snapRetainCount=5
autopurge.purgeInterval=1
4lw.commands.whitelist=srvr, ruok ,mntr
extendedTypesEnabled=true
zookeeper.skipACL=yes
jute.maxbuffer=0x200000
forceSync=no
snapCount=5000
admin.serverAddress=127.0.0.1
admin.serverPort=0
znode.container.checkIntervalMs=1000
readonlymode.enabled=true
store.module=store.pebble
store.options.cacheSize=64
store.options.sync=true
server.1=127.0.0.1:2888:3888;127.0.0.1:2181
server.2=127.0.0.1:2889:3889;127.0.0.1:2182
server.3=127.0.0.1:2890:3890;127.0.0.1:2183
server.4=127.0.0.1:2891:3891:observer;127.0.0.1:2184
`)
	yml := write(t, dir, "zabkit.yaml", `
tickTime: 2000
initLimit: 10
syncLimit: 5
dataDir: `+data+`
clientPortAddress: 127.0.0.1
clientPort: 2182
maxClientCnxns: 0
autopurge:
  snapRetainCount: 5
  purgeInterval: 1
4lw.commands.whitelist: [srvr, ruok, mntr]
zookeeper:
  extendedTypesEnabled: true
  skipACL: yes
jute:
  maxbuffer: 0x200000
forceSync: no
zookeeper.snapCount: 5000
admin: {serverAddress: 127.0.0.1, serverPort: 0}
znode.container.checkIntervalMs: 1000
ReadOnlyMode.Enabled: true
store:
  module: store.pebble
  options:
    cacheSize: 64
    sync: "true"
server:
  1: 127.0.0.1:2888:3888;127.0.0.1:2181
  2: 127.0.0.1:2889:3889;127.0.0.1:2182
  3: 127.0.0.1:2890:3890;127.0.0.1:2183
  4: 127.0.0.1:2891:3891:observer;127.0.0.1:2184
`)
	a := mustLoad(t, []string{"--config", cfg}, nil)
	b := mustLoad(t, []string{yml}, nil)
	if a.Format != "zoo.cfg" || b.Format != "yaml" {
		t.Fatalf("formats %q %q", a.Format, b.Format)
	}
	// zoo.cfg starts from ZooKeeper's defaults, YAML from default.yaml;
	// the keys set above cover every difference.
	if !reflect.DeepEqual(a.Config, b.Config) {
		t.Fatalf("zoo.cfg and YAML differ:\nzoo.cfg %+v\nyaml    %+v", *a.Config, *b.Config)
	}
	c := a.Config
	if c.MyID != 2 || !c.Distributed() || c.ClientPort != 2182 || c.PeerType != config.Participant ||
		!c.ExtendedTypesEnabled || !c.SkipACL || c.JuteMaxBuffer != 0x200000 || c.ForceSync ||
		strings.Join(c.FourLetterWhitelist, ",") != "srvr,ruok,mntr" || len(c.Servers) != 4 ||
		c.Servers[4].Role != config.Observer || c.Servers[3].ClientPort != 2183 || c.SnapCount != 5000 ||
		!c.ReadOnlyMode || c.Store.Module != "store.pebble" || c.Admin.Port != 0 {
		t.Fatalf("unexpected config %+v", *c)
	}
	var opts struct {
		CacheSize int  `json:"cacheSize"`
		Sync      bool `json:"sync"`
	}
	if err := registry.DecodeOptions(c.Store.Options, &opts); err != nil || opts.CacheSize != 64 || !opts.Sync {
		t.Fatalf("store options %v -> %+v, %v", c.Store.Options, opts, err)
	}
}

func TestZooCfgUsesZooKeeperDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg := write(t, dir, "zoo.cfg", "dataDir="+dir+"\n")
	c := mustLoad(t, []string{cfg}, nil).Config
	if c.TickTime != 3000 || c.ClientPortAddress != "" || c.Admin.Address != "0.0.0.0" || c.ClientPort != 2181 {
		t.Fatalf("zoo.cfg defaults: tick %d addr %q admin %q port %d", c.TickTime, c.ClientPortAddress, c.Admin.Address, c.ClientPort)
	}
	loadErr(t, []string{write(t, dir, "empty.cfg", "# nothing\n")}, nil, "dataDir: is required")
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	for _, body := range []string{
		"clientPort=3000\ntickTime=1000\ndataDir=" + dir + "\n",
		"clientPort: 3000\ntickTime: 1000\n",
	} {
		name := "zoo.cfg"
		if strings.Contains(body, ": ") {
			name = "c.yaml"
		}
		f := write(t, dir, name, body)
		c := mustLoad(t, []string{"--config", f}, nil).Config
		if c.ClientPort != 3000 || c.TickTime != 1000 {
			t.Fatalf("%s: file not applied: %d %d", name, c.ClientPort, c.TickTime)
		}
		env := []string{"ZABKIT_CLIENTPORT=3001", "PATH=/bin"}
		c = mustLoad(t, []string{"--config", f}, env).Config
		if c.ClientPort != 3001 || c.TickTime != 1000 {
			t.Fatalf("%s: env < file: %d %d", name, c.ClientPort, c.TickTime)
		}
		c = mustLoad(t, []string{"--config", f, "--clientPort", "3002"}, env).Config
		if c.ClientPort != 3002 || c.TickTime != 1000 {
			t.Fatalf("%s: flag < env: %d", name, c.ClientPort)
		}
		c = mustLoad(t, []string{"--config", f, "--set", "ClientPort=3003", "--tickTime=500"}, env).Config
		if c.ClientPort != 3003 || c.TickTime != 500 {
			t.Fatalf("%s: --set: %d %d", name, c.ClientPort, c.TickTime)
		}
	}
	// The config file can come from the environment; the flag wins.
	a := write(t, dir, "a.yaml", "clientPort: 4001\n")
	b := write(t, dir, "b.yaml", "clientPort: 4002\n")
	if p := mustLoad(t, nil, []string{"ZABKIT_CONFIG=" + a}).Config.ClientPort; p != 4001 {
		t.Fatalf("ZABKIT_CONFIG: %d", p)
	}
	if p := mustLoad(t, []string{"--config", b}, []string{"ZABKIT_CONFIG=" + a}).Config.ClientPort; p != 4002 {
		t.Fatalf("--config over ZABKIT_CONFIG: %d", p)
	}
}

func TestEnvForms(t *testing.T) {
	r := mustLoad(t, []string{"--extendedTypesEnabled", "--admin.enableServer=false"}, []string{
		"ZABKIT_4LW_COMMANDS_WHITELIST=*",
		"ZABKIT_SNAPCOUNT=7",
		"ZABKIT_ZOOKEEPER_SKIPACL=yes",
		"ZABKIT_JUTE_MAXBUFFER=4096",
		"ZABKIT_LOG_FORMAT=json",
		"ZABKIT_STORE_MODULE=pebble",
		"ZABKIT_STORE_OPTIONS_CACHE_SIZE=128",
		"ZABKIT_ELECTION_OPTIONS_VARIANT=fle-fast",
		"ZABKIT_ADMIN_SERVERPORT=9999",
		"ZABKIT_TYPO=1",
	})
	c := r.Config
	if !c.FourLetterWordAllowed("mntr") || c.SnapCount != 7 || !c.SkipACL || c.JuteMaxBuffer != 4096 ||
		c.Log.Format != "json" || c.Store.Module != "store.pebble" || !c.ExtendedTypesEnabled ||
		c.Admin.Enabled || c.Admin.Port != 9999 || c.Election.Options["variant"] != "fle-fast" {
		t.Fatalf("env/flags not applied: %+v", *c)
	}
	var opts struct {
		CacheSize int `json:"cacheSize"`
	}
	if err := registry.DecodeOptions(c.Store.Options, &opts); err != nil || opts.CacheSize != 128 {
		t.Fatalf("ZABKIT_STORE_OPTIONS_CACHE_SIZE -> %v, %+v, %v", c.Store.Options, opts, err)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "ZABKIT_TYPO") {
		t.Fatalf("warnings %v", r.Warnings)
	}
	loadErr(t, nil, []string{"ZABKIT_SNAPCOUNT=7", "ZABKIT_ZOOKEEPER_SNAPCOUNT=8"}, "same key snapcount")
}

func TestUnknownAndIgnoredKeys(t *testing.T) {
	dir := t.TempDir()
	y := write(t, dir, "bad.yaml", "tickTime: 2000\ntickTme: 3\n")
	loadErr(t, []string{y}, nil, y+":2", `unknown key "tickTme"`, "did you mean tickTime")
	y = write(t, dir, "nested.yaml", "admin:\n  serverPrt: 1\n")
	loadErr(t, []string{y}, nil, `unknown key "admin.serverPrt"`, "did you mean admin.serverPort")
	z := write(t, dir, "bad.cfg", "dataDir=/x\nfoo.bar=1\n")
	loadErr(t, []string{z}, nil, z+":2", `unknown key "foo.bar"`)
	z = write(t, dir, "group.cfg", "dataDir=/x\ngroup.1=1:2:3\n")
	loadErr(t, []string{z}, nil, "hierarchical quorums")
	z = write(t, dir, "dup.cfg", "dataDir=/x\nsnapCount=5\nzookeeper.snapCount=6\n")
	loadErr(t, []string{z}, nil, "set twice")
	loadErr(t, []string{"--set", "nope=1"}, nil, `--set: unknown key "nope"`)
	loadErr(t, []string{"--set", "nope"}, nil, "want key=value")
	loadErr(t, []string{"--bogus"}, nil, "bogus")
	loadErr(t, []string{"a.yaml", "b.yaml"}, nil, "too many arguments")

	z = write(t, dir, "ignored.cfg", "dataDir=/x\nsecureClientPort=2281\nsslQuorum=false\n"+
		"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n"+
		"zookeeper.ssl.keyStore.location=/k\nquorum.auth.enableSasl=false\n")
	r := mustLoad(t, []string{z}, nil)
	if len(r.Warnings) != 5 || !strings.Contains(strings.Join(r.Warnings, "\n"), "secureClientPort") {
		t.Fatalf("warnings %q", r.Warnings)
	}
}

func TestImpossibleValuesNameTheKey(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ body, want string }{
		{"clientPort=abc", `clientPort: "abc" is not an integer`},
		{"tickTime=0", "tickTime: must be > 0"},
		{"forceSync=maybe", "forceSync:"},
		{"peerType=leader", "peerType:"},
		{"minSessionTimeout=90000\nmaxSessionTimeout=1000", "minSessionTimeout:"},
		{"store.module=pebble\nstore.options.a=1\nstore.options.a.b=2", "both a value and a section"},
		{"electionAlg=1", "electionAlg:"},
		{"multiAddress.enabled=true", "multiAddress.enabled: multiple addresses"},
		{"server.1=h:1:1\nserver.2=h:2:3", "server.1: bad server spec"},
		{"storeFailure=ignore", `storeFailure: must be readonly or exit, not "ignore"`},
		{"storeStallTimeoutMs=-1", "storeStallTimeoutMs: must be >= 0"},
	}
	for i, tc := range cases {
		f := write(t, dir, "c"+string(rune('a'+i))+".cfg", "dataDir="+dir+"\n"+tc.body+"\n")
		loadErr(t, []string{f}, nil, tc.want, f+":")
	}
	loadErr(t, nil, []string{"ZABKIT_TICKTIME=-5"}, "tickTime: must be > 0 (environment ZABKIT_TICKTIME)")
	loadErr(t, []string{"--clientPort", "x"}, nil, "clientPort:", "flag --clientPort")
}

func TestStoreFailureKeys(t *testing.T) {
	c := mustLoad(t, nil, nil).Config
	if c.StoreFailure != config.StoreFailureReadOnly || c.StoreStallTimeoutMs != config.DefaultStoreStallTimeoutMs {
		t.Fatalf("defaults: storeFailure %q, storeStallTimeoutMs %d", c.StoreFailure, c.StoreStallTimeoutMs)
	}
	c = mustLoad(t, []string{"--storeFailure", "exit", "--set", "storeStallTimeoutMs=0"}, nil).Config
	if c.StoreFailure != config.StoreFailureExit || c.StoreStallTimeoutMs != 0 {
		t.Fatalf("flags: storeFailure %q, storeStallTimeoutMs %d", c.StoreFailure, c.StoreStallTimeoutMs)
	}
}

func TestEnsembleFromZooCfg(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d")
	body := "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir=" + data + "\n" +
		"server.1=localhost:2888:3888;2181\n" +
		"server.2=localhost:2889:3889;127.0.0.1:2182\n" +
		"server.3=localhost:2890:3890\n" +
		"server.4=localhost:2891:3891:observer;2184\n"
	f := write(t, dir, "zoo.cfg", body)
	loadErr(t, []string{f}, nil, "myid: is required")

	write(t, data, "myid", "4\n")
	r := mustLoad(t, []string{f}, nil)
	c := r.Config
	if c.MyID != 4 || c.PeerType != config.Observer || c.ClientPort != 2184 || c.ClientPortAddress != "" {
		t.Fatalf("observer from server list: %+v", *c)
	}
	if got := c.Servers[2]; got.ClientHost != "127.0.0.1" || got.ClientPort != 2182 || got.Role != config.Participant {
		t.Fatalf("server.2 = %+v", got)
	}
	if c.Servers[3].ClientPort != 0 {
		t.Fatalf("server.3 has no client part: %+v", c.Servers[3])
	}

	// An explicit clientPort that contradicts the server line is an error;
	// one that agrees is fine.
	loadErr(t, []string{f, "--clientPort", "9999"}, nil, "clientPort:", "server.4")
	mustLoad(t, []string{f, "--clientPort", "2184"}, nil)
	// myid key and file must agree.
	loadErr(t, []string{f, "--myid", "1"}, nil, "myid: 1 (flag --myid)")
	// An explicit peerType that disagrees gives way to the list, with a warning.
	r = mustLoad(t, []string{f, "--peerType", "participant"}, nil)
	if r.Config.PeerType != config.Observer || !strings.Contains(strings.Join(r.Warnings, "\n"), "peerType") {
		t.Fatalf("peerType %s, warnings %v", r.Config.PeerType, r.Warnings)
	}

	// Server lines from the environment; the myid key without a file.
	r = mustLoad(t, []string{"--myid", "1"}, []string{
		"ZABKIT_SERVER_1=127.0.0.1:2888:3888;127.0.0.1:2181",
		"ZABKIT_SERVER_2=127.0.0.1:2889:3889;127.0.0.1:2182",
		"ZABKIT_DATADIR=" + t.TempDir(),
	})
	if !r.Config.Distributed() || r.Config.MyID != 1 || !strings.Contains(strings.Join(r.Warnings, "\n"), "no server failure") {
		t.Fatalf("env ensemble: %+v %v", *r.Config, r.Warnings)
	}
}

func TestDynamicConfigFile(t *testing.T) {
	dir := t.TempDir()
	dyn := write(t, dir, "zoo.cfg.dynamic.100000000", "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n"+
		"server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182\nserver.3=127.0.0.1:2890:3890:participant;0.0.0.0:2183\n")
	f := write(t, dir, "zoo.cfg", "dataDir="+dir+"\ninitLimit=5\nsyncLimit=2\nreconfigEnabled=true\nstandaloneEnabled=false\n"+
		"dynamicConfigFile="+dyn+"\nmyid=3\n")
	c := mustLoad(t, []string{f}, nil).Config
	if len(c.Servers) != 3 || c.ClientPort != 2183 || c.ClientPortAddress != "0.0.0.0" || !c.ReconfigEnabled {
		t.Fatalf("dynamic config: %+v", *c)
	}
	f2 := write(t, dir, "both.cfg", "dataDir="+dir+"\ndynamicConfigFile="+dyn+"\nserver.1=127.0.0.1:2888:3888\n")
	loadErr(t, []string{f2}, nil, "server lines belong in")
	bad := write(t, dir, "bad.dynamic", "server.1=127.0.0.1:2888:3888\ntickTime=1\n")
	f3 := write(t, dir, "bad.cfg", "dataDir="+dir+"\ndynamicConfigFile="+bad+"\n")
	loadErr(t, []string{f3}, nil, `"tickTime" does not belong`)
}

// Debian's zookeeper package ships this sample; real zoo.cfg files must load.
func TestDebianZooCfg(t *testing.T) {
	const path = "/etc/zookeeper/conf_example/zoo.cfg"
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s must exist (the zookeeper package is installed here): %v", path, err)
	}
	r := mustLoad(t, []string{"--config", path}, nil)
	c := r.Config
	if r.Format != "zoo.cfg" || c.TickTime != 2000 || c.InitLimit != 10 || c.SyncLimit != 5 ||
		c.DataDir != "/tmp/zookeeper" || c.ClientPort != 2181 || c.Distributed() {
		t.Fatalf("debian zoo.cfg: %+v", *c)
	}
}

// Every example shipped in configs/ loads.
func TestShippedExamples(t *testing.T) {
	root := filepath.Join("..", "..", "..", "configs")
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml", ".cfg":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("only %d example files under configs/: %v", len(files), files)
	}
	for _, f := range files {
		args := []string{"--config", f}
		if strings.Contains(f, "ensemble") && strings.HasSuffix(f, ".cfg") {
			// zoo.cfg takes the id from dataDir/myid; the example's data
			// directory does not exist here.
			id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "zoo"), ".cfg")
			args = append(args, "--myid", id)
		}
		r, err := Load(args, nil)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(r.Warnings) > 0 {
			t.Errorf("%s: warnings %v", f, r.Warnings)
		}
	}
}

func TestHelp(t *testing.T) {
	if _, err := Load([]string{"--help"}, nil); !errors.Is(err, pflag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	u := Usage()
	for _, f := range []string{"--config", "--set", "--clientPort", "--dataDir", "--tickTime", "--store"} {
		if !strings.Contains(u, f) {
			t.Errorf("usage lacks %s", f)
		}
	}
}

func FuzzLoadZooCfg(f *testing.F) {
	f.Add("tickTime=2000\ndataDir=/tmp/x\nserver.1=a:1:2\nserver.2=b:1:2:observer;3\n")
	f.Add("dataDir=/d\n4lw.commands.whitelist=*\nstore.options.a.b=1\n")
	f.Add("dataDir=/d\nstore.options.a=1\nstore.options.a.b=2\n")
	f.Fuzz(func(t *testing.T, body string) {
		if strings.Contains(body, "dynamicConfigFile") || strings.Contains(strings.ToLower(body), "datadir") {
			return // keep the fuzzer away from the real file system
		}
		dir := t.TempDir()
		p := filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(p, []byte("dataDir="+dir+"\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Load([]string{p}, nil)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			return
		}
		if err := r.Config.Validate(); err != nil {
			t.Fatalf("Load accepted a config that does not validate: %v", err)
		}
	})
}

func FuzzParseYAML(f *testing.F) {
	f.Add("a: 1\nb: {c: [x, y]}\n")
	f.Add("a: &x {b: *x}\n")
	f.Add("<<: {a: 1}\n")
	f.Fuzz(func(t *testing.T, body string) {
		entries, err := parseYAML([]byte(body))
		if err != nil {
			if !errors.Is(err, ErrYAML) {
				t.Fatalf("error %v does not wrap ErrYAML", err)
			}
			return
		}
		for _, e := range entries {
			if e.key == "" {
				t.Fatalf("empty key from %q", body)
			}
		}
	})
}

func TestFormatSniffing(t *testing.T) {
	dir := t.TempDir()
	props := write(t, dir, "zkconf", "# zoo.cfg without an extension\nserver.1=a:1:2\ndataDir="+dir+"\n")
	yml := write(t, dir, "zabconf", "# YAML without an extension\ndataDir: "+dir+"\nclientPortAddress: \"::1\"\n")
	if r := mustLoad(t, []string{props}, nil); r.Format != "zoo.cfg" || r.Config.TickTime != 3000 {
		t.Fatalf("sniffed %q tick %d", r.Format, r.Config.TickTime)
	}
	if r := mustLoad(t, []string{yml}, nil); r.Format != "yaml" || r.Config.ClientPortAddress != "::1" {
		t.Fatalf("sniffed %q addr %q", r.Format, r.Config.ClientPortAddress)
	}
}
