package confload

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/zabkit/zabkit/core/config"
)

// keyDef is one configuration key zabkit understands.
type keyDef struct {
	name   string // canonical spelling: the zoo.cfg key, the YAML path
	set    func(c *config.Config, v value) error
	flag   string // command-line flag name; "" = only via --set
	isBool bool
	usage  string
}

// value is a raw setting: a string (zoo.cfg, env, flags, YAML scalars) or
// a list (YAML sequences).
type value struct {
	s      string
	list   []string
	isList bool
}

func (v value) scalar() (string, error) {
	if v.isList {
		return "", fmt.Errorf("expects a single value, not a list")
	}
	return strings.TrimSpace(v.s), nil
}

func intKey(name, flag, usage string, field func(*config.Config) *int) keyDef {
	return keyDef{name: name, flag: flag, usage: usage, set: func(c *config.Config, v value) error {
		s, err := v.scalar()
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		*field(c) = int(n)
		return nil
	}}
}

func int64Key(name, flag, usage string, field func(*config.Config) *int64) keyDef {
	return keyDef{name: name, flag: flag, usage: usage, set: func(c *config.Config, v value) error {
		s, err := v.scalar()
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		*field(c) = n
		return nil
	}}
}

func strKey(name, flag, usage string, field func(*config.Config) *string) keyDef {
	return keyDef{name: name, flag: flag, usage: usage, set: func(c *config.Config, v value) error {
		s, err := v.scalar()
		if err != nil {
			return err
		}
		*field(c) = s
		return nil
	}}
}

func boolKey(name, flag, usage string, field func(*config.Config) *bool) keyDef {
	return keyDef{name: name, flag: flag, usage: usage, isBool: true, set: func(c *config.Config, v value) error {
		s, err := v.scalar()
		if err != nil {
			return err
		}
		b, err := parseBool(s)
		if err != nil {
			return err
		}
		*field(c) = b
		return nil
	}}
}

// parseBool accepts ZooKeeper's true/false and the yes/no its JVM
// properties use (forceSync, skipACL), plus on/off and 1/0.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true/false, yes/no, on/off, 1/0)", s)
}

func setWhitelist(c *config.Config, v value) error {
	items := v.list
	if !v.isList {
		items = strings.Split(v.s, ",")
	}
	var out []string
	for _, w := range items {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	c.FourLetterWhitelist = out
	return nil
}

func setRole(c *config.Config, v value) error {
	s, err := v.scalar()
	if err != nil {
		return err
	}
	switch r := config.Role(strings.ToLower(s)); r {
	case config.Participant, config.Observer:
		c.PeerType = r
		return nil
	}
	return fmt.Errorf("%q is neither participant nor observer", s)
}

func setModule(field func(*config.Config) *config.ModuleConfig) func(*config.Config, value) error {
	return func(c *config.Config, v value) error {
		s, err := v.scalar()
		if err != nil {
			return err
		}
		field(c).Module = s
		return nil
	}
}

func setMultiAddress(_ *config.Config, v value) error {
	s, err := v.scalar()
	if err != nil {
		return err
	}
	on, err := parseBool(s)
	if err != nil {
		return err
	}
	if on {
		return fmt.Errorf("multiple addresses per server are not supported")
	}
	return nil
}

// keyDefs is every key zabkit reads. Names follow ZooKeeper: zoo.cfg keys
// as ZooKeeper spells them, JVM system properties with their full name.
var keyDefs = []keyDef{
	intKey("tickTime", "tickTime", "basic time unit in ms", func(c *config.Config) *int { return &c.TickTime }),
	strKey("dataDir", "dataDir", "snapshot, epoch and myid directory", func(c *config.Config) *string { return &c.DataDir }),
	strKey("dataLogDir", "dataLogDir", "txn log directory (default dataDir)", func(c *config.Config) *string { return &c.DataLogDir }),
	intKey("clientPort", "clientPort", "client port (0 = any free port)", func(c *config.Config) *int { return &c.ClientPort }),
	strKey("clientPortAddress", "clientPortAddress", "client listen address (empty = all interfaces)", func(c *config.Config) *string { return &c.ClientPortAddress }),
	intKey("maxClientCnxns", "maxClientCnxns", "connections per client IP (0 = unlimited)", func(c *config.Config) *int { return &c.MaxClientCnxns }),
	intKey("minSessionTimeout", "minSessionTimeout", "ms; -1 = 2*tickTime", func(c *config.Config) *int { return &c.MinSessionTimeout }),
	intKey("maxSessionTimeout", "maxSessionTimeout", "ms; -1 = 20*tickTime", func(c *config.Config) *int { return &c.MaxSessionTimeout }),
	intKey("clientPortListenBacklog", "", "", func(c *config.Config) *int { return &c.ClientPortListenBacklog }),
	intKey("initLimit", "initLimit", "ticks a follower may take to sync", func(c *config.Config) *int { return &c.InitLimit }),
	intKey("syncLimit", "syncLimit", "ticks a follower may lag", func(c *config.Config) *int { return &c.SyncLimit }),
	intKey("connectToLearnerMasterLimit", "", "", func(c *config.Config) *int { return &c.ConnectToLearnerMasterLimit }),
	intKey("snapCount", "snapCount", "txns between snapshots", func(c *config.Config) *int { return &c.SnapCount }),
	intKey("commitLogCount", "commitLogCount", "committed txns a leader keeps in memory for DIFF sync (more: fewer SNAP syncs, more memory)", func(c *config.Config) *int { return &c.CommitLogCount }),
	int64Key("snapSizeLimitInKb", "", "", func(c *config.Config) *int64 { return &c.SnapSizeLimitInKb }),
	intKey("preAllocSize", "", "", func(c *config.Config) *int { return &c.PreAllocSizeKB }),
	boolKey("forceSync", "forceSync", "fsync the txn log before acknowledging", func(c *config.Config) *bool { return &c.ForceSync }),
	intKey("autopurge.snapRetainCount", "", "", func(c *config.Config) *int { return &c.AutopurgeSnapRetainCount }),
	intKey("autopurge.purgeInterval", "", "", func(c *config.Config) *int { return &c.AutopurgePurgeIntervalHours }),
	{name: "4lw.commands.whitelist", flag: "4lw.commands.whitelist", usage: "four-letter words allowed (comma list, * = all)", set: setWhitelist},
	boolKey("zookeeper.extendedTypesEnabled", "extendedTypesEnabled", "enable TTL nodes", func(c *config.Config) *bool { return &c.ExtendedTypesEnabled }),
	strKey("zookeeper.DigestAuthenticationProvider.superDigest", "", "", func(c *config.Config) *string { return &c.SuperDigest }),
	boolKey("zookeeper.skipACL", "", "", func(c *config.Config) *bool { return &c.SkipACL }),
	{name: "jute.maxbuffer", set: func(c *config.Config, v value) error {
		s, err := v.scalar()
		if err != nil {
			return err
		}
		// Java reads it with Integer.decode, so 0x hex is common.
		n, err := strconv.ParseInt(s, 0, 32)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		c.JuteMaxBuffer = int(n)
		return nil
	}},
	intKey("znode.container.checkIntervalMs", "", "", func(c *config.Config) *int { return &c.ContainerCheckIntervalMs }),
	intKey("znode.container.maxPerMinute", "", "", func(c *config.Config) *int { return &c.ContainerMaxPerMinute }),
	intKey("znode.container.maxNeverUsedIntervalMs", "", "", func(c *config.Config) *int { return &c.ContainerMaxNeverUsedIntervalMs }),
	boolKey("readonlymode.enabled", "readonlymode.enabled", "serve reads while out of quorum", func(c *config.Config) *bool { return &c.ReadOnlyMode }),
	intKey("zookeeper.globalOutstandingLimit", "", "", func(c *config.Config) *int { return &c.GlobalOutstandingLimit }),
	boolKey("zookeeper.digest.enabled", "", "", func(c *config.Config) *bool { return &c.DigestEnabled }),
	boolKey("localSessionsEnabled", "", "", func(c *config.Config) *bool { return &c.LocalSessionsEnabled }),
	boolKey("localSessionsUpgradingEnabled", "", "", func(c *config.Config) *bool { return &c.LocalSessionsUpgradingEnabled }),
	boolKey("syncEnabled", "", "", func(c *config.Config) *bool { return &c.SyncEnabled }),
	boolKey("quorumListenOnAllIPs", "", "", func(c *config.Config) *bool { return &c.QuorumListenOnAllIPs }),
	boolKey("zookeeper.leaderServes", "", "", func(c *config.Config) *bool { return &c.LeaderServes }),
	intKey("zookeeper.cnxTimeout", "", "", func(c *config.Config) *int { return &c.CnxTimeoutMs }),
	boolKey("zookeeper.snapshot.trust.empty", "", "", func(c *config.Config) *bool { return &c.SnapshotTrustEmpty }),
	boolKey("zookeeper.db.autocreate", "", "", func(c *config.Config) *bool { return &c.DBAutocreate }),
	strKey("storeFailure", "storeFailure", "on a failed store: readonly (serve reads) or exit", func(c *config.Config) *string { return &c.StoreFailure }),
	intKey("storeStallTimeoutMs", "", "", func(c *config.Config) *int { return &c.StoreStallTimeoutMs }),
	boolKey("admin.enableServer", "admin.enableServer", "run the HTTP admin server", func(c *config.Config) *bool { return &c.Admin.Enabled }),
	strKey("admin.serverAddress", "admin.serverAddress", "admin server address", func(c *config.Config) *string { return &c.Admin.Address }),
	intKey("admin.serverPort", "admin.serverPort", "admin server port (0 = any free port)", func(c *config.Config) *int { return &c.Admin.Port }),
	strKey("admin.commandURL", "", "", func(c *config.Config) *string { return &c.Admin.CommandURL }),
	strKey("admin.metricsPath", "", "", func(c *config.Config) *string { return &c.Admin.MetricsPath }),
	int64Key("myid", "myid", "this server's id in server.N lines", func(c *config.Config) *int64 { return &c.MyID }),
	{name: "peerType", flag: "peerType", usage: "participant or observer", set: setRole},
	boolKey("standaloneEnabled", "", "", func(c *config.Config) *bool { return &c.StandaloneEnabled }),
	boolKey("reconfigEnabled", "", "", func(c *config.Config) *bool { return &c.ReconfigEnabled }),
	strKey("dynamicConfigFile", "", "", func(c *config.Config) *string { return &c.DynamicConfigFile }),
	intKey("electionAlg", "", "", func(c *config.Config) *int { return &c.ElectionAlg }),
	{name: "multiAddress.enabled", set: setMultiAddress},
	{name: "store.module", flag: "store", usage: "store module, e.g. store.file, store.pebble", set: setModule(func(c *config.Config) *config.ModuleConfig { return &c.Store })},
	{name: "transport.module", flag: "transport", usage: "transport module, e.g. transport.tcp", set: setModule(func(c *config.Config) *config.ModuleConfig { return &c.Transport })},
	{name: "election.module", flag: "election", usage: "election module, e.g. election.fle", set: setModule(func(c *config.Config) *config.ModuleConfig { return &c.Election })},
	strKey("log.level", "logLevel", "debug, info, warn or error", func(c *config.Config) *string { return &c.Log.Level }),
	strKey("log.format", "logFormat", "text or json", func(c *config.Config) *string { return &c.Log.Format }),
}

// ignoredKeys are ZooKeeper settings zabkit knowingly does not implement
// (TLS, SASL, JVM tuning, metrics providers...). A zoo.cfg using them still
// loads, with a warning per key, so real configurations can be tried
// as they are. Names are lower case without the "zookeeper." prefix; a
// trailing '.' matches a whole family.
var ignoredKeys = []string{
	"secureclientport", "secureclientportaddress", "observermasterport",
	"sslquorum", "portunification", "sslquorumreloadcertfiles", "client.portunification",
	"quorum.cnxn.threads.size", "oraclepath", "serverCnxnFactory",
	"multiaddress.reachabilitychecktimeoutms", "multiaddress.reachabilitycheckenabled",
	"snapshot.compression.method", "snapshotsizefactor", "txnlogsizelimitinkb",
	"maxcnxns", "flushdelay", "maxbatchsize", "fsync.warningthresholdms", "request.timeout",
	"watchmanagername", "sessionrequireclientsaslauth", "enforce.auth.enabled", "enforce.auth.schemes",
	"admin.idletimeout", "admin.portunification", "admin.forcehttps", "admin.needclientauth",
	"audit.enable", "audit.impl.class", "closesessiontxn.enabled", "intbufferstartingsizebytes",
	"messagetracker.buffersize", "messagetracker.enabled", "leaderconnectdelayduringretryms",
	"learner.asyncsending", "learner.closesocketasync", "leader.closesocketasync",
	"connection_throttle_", "request_throttle_", "nio.", "netty.", "jvm.pause.",
	"metricsprovider.", "quorum.auth.", "ssl.", "authprovider.", "kerberos.", "fastleader.",
	"server.realm", "sasl.",
}

func ignored(base string) bool {
	for _, k := range ignoredKeys {
		k = strings.ToLower(k)
		family := strings.HasSuffix(k, ".") || strings.HasSuffix(k, "_")
		if base == k || family && strings.HasPrefix(base, k) {
			return true
		}
	}
	return false
}

var (
	// byBase indexes keyDefs by lower-case name without "zookeeper.".
	byBase   = map[string]*keyDef{}
	serverRe = regexp.MustCompile(`^server\.(\d+)$`)
	hierRe   = regexp.MustCompile(`^(group|weight)\.`)
	// moduleNS are the namespaces with free-form "<ns>.options.*" keys.
	moduleNS = []string{"store", "transport", "election"}
)

func init() {
	for i := range keyDefs {
		b := baseName(keyDefs[i].name)
		if _, dup := byBase[b]; dup {
			panic("confload: duplicate key " + keyDefs[i].name)
		}
		byBase[b] = &keyDefs[i]
	}
}

func baseName(key string) string {
	return strings.TrimPrefix(strings.ToLower(key), "zookeeper.")
}

// keyKind says what a raw key resolved to.
type keyKind int

const (
	kindUnknown     keyKind = iota
	kindKnown               // a keyDef
	kindServer              // server.N
	kindOption              // <ns>.options.<path>
	kindIgnored             // known ZooKeeper key zabkit does not use
	kindUnsupported         // known ZooKeeper key zabkit refuses
)

// resolved is a raw key mapped to its canonical form.
type resolved struct {
	kind  keyKind
	canon string // lower-case canonical key, as viper stores it
	def   *keyDef
	why   string // for kindUnsupported
}

// resolveKey maps a key as written (any case, with or without ZooKeeper's
// "zookeeper." system-property prefix) to its canonical key. As in
// ZooKeeper, an unrecognised zoo.cfg key X means the system property
// zookeeper.X, so both spellings are accepted everywhere.
func resolveKey(raw string) resolved {
	lk := strings.ToLower(strings.TrimSpace(raw))
	base := strings.TrimPrefix(lk, "zookeeper.")
	for _, ns := range moduleNS {
		if p := ns + ".options."; strings.HasPrefix(lk, p) && len(lk) > len(p) {
			return resolved{kind: kindOption, canon: lk}
		}
	}
	if m := serverRe.FindStringSubmatch(base); m != nil {
		id, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return resolved{kind: kindUnsupported, canon: lk, why: "server id out of range"}
		}
		return resolved{kind: kindServer, canon: "server." + strconv.FormatInt(id, 10)}
	}
	if d, ok := byBase[base]; ok {
		return resolved{kind: kindKnown, canon: strings.ToLower(d.name), def: d}
	}
	if hierRe.MatchString(base) {
		return resolved{kind: kindUnsupported, canon: lk, why: "hierarchical quorums (group/weight) are not supported"}
	}
	if ignored(base) {
		return resolved{kind: kindIgnored, canon: lk}
	}
	return resolved{kind: kindUnknown, canon: lk}
}

// suggest names the known key closest to raw, for error messages.
func suggest(raw string) string {
	lk := baseName(raw)
	best, bestD := "", 4
	for i := range keyDefs {
		if d := editDistance(lk, baseName(keyDefs[i].name)); d < bestD {
			best, bestD = keyDefs[i].name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// envNames are the environment variables that set a canonical key:
// ZABKIT_ + the key upper-cased with '_' for '.', also without or with the
// "zookeeper." prefix (ZABKIT_EXTENDEDTYPESENABLED works too).
func envNames(name string) []string {
	conv := func(k string) string { return "ZABKIT_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_")) }
	base := baseName(name)
	names := []string{conv(name)}
	for _, alt := range []string{conv(base), conv("zookeeper." + base)} {
		if !slices.Contains(names, alt) {
			names = append(names, alt)
		}
	}
	return names
}
