package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// ensemblePlan is a local ensemble laid out on loopback: which member
// gets which ports, files and role. Member i (0-based) has myid i+1 and
// port base+i on each of the three port ranges; observers come after
// the voters, so they get the highest ids.
type ensemblePlan struct {
	Dir       string // absolute; holds nodeN.yaml and the nodeN/ data dirs
	Voters    int
	Observers int
	// Base ports of the client, quorum, election and admin ranges; an
	// admin base of 0 disables the HTTP admin server.
	ClientPort, QuorumPort, ElectionPort, AdminPort int
	Transport                                       string
	// Extra are --set key=value pairs, applied last to every member.
	Extra [][2]string
}

// ensembleHost is where every member listens: the command is for trying
// an ensemble out on one machine, never for exposing one.
const ensembleHost = "127.0.0.1"

// errReservedKey rejects --set keys the plan derives per member; one value
// for all members would make them collide.
var errReservedKey = errors.New("is set per member by zabkit ensemble")

// reservedKeys are lower case; "server." covers every server.N line.
var reservedKeys = []string{"myid", "datadir", "datalogdir", "clientport", "clientportaddress",
	"peertype", "admin.serverport", "admin.enableserver", "transport.module", "server."}

func (p *ensemblePlan) validate() error {
	if p.Voters < 1 {
		return fmt.Errorf("--nodes must be at least 1, not %d", p.Voters)
	}
	if p.Observers < 0 {
		return fmt.Errorf("--observers must not be negative, not %d", p.Observers)
	}
	// ZooKeeper's ids fit in a byte when TTL nodes are enabled; a local
	// ensemble has no use for more members than that anyway.
	if n := p.Total(); n > 254 {
		return fmt.Errorf("%d members is too many for one machine (at most 254)", n)
	}
	bases := map[string]int{"--client-port": p.ClientPort, "--quorum-port": p.QuorumPort, "--election-port": p.ElectionPort}
	if p.AdminPort != 0 {
		bases["--admin-port"] = p.AdminPort
	}
	for flag, base := range bases {
		if base < 1 || base+p.Total()-1 > 65535 {
			return fmt.Errorf("%s %d: the range %d-%d is not a port range", flag, base, base, base+p.Total()-1)
		}
	}
	for _, kv := range p.Extra {
		k := keyBase(kv[0])
		for _, r := range reservedKeys {
			if k == r || strings.HasSuffix(r, ".") && strings.HasPrefix(k, r) {
				return fmt.Errorf("--set %s: %s %w (use --dir, --client-port, --admin-port, --transport)", kv[0], kv[0], errReservedKey)
			}
		}
	}
	return nil
}

// keyBase folds the spellings confload treats as one key: any case, with
// or without the "zookeeper." prefix.
func keyBase(k string) string { return strings.TrimPrefix(strings.ToLower(k), "zookeeper.") }

// Total is the number of members.
func (p *ensemblePlan) Total() int { return p.Voters + p.Observers }

// Name is member i's name in file names and log prefixes: node1, node2...
func (p *ensemblePlan) Name(i int) string { return "node" + strconv.Itoa(i+1) }

// ConfigPath is member i's generated config file.
func (p *ensemblePlan) ConfigPath(i int) string { return filepath.Join(p.Dir, p.Name(i)+".yaml") }

// DataDir is member i's data directory, which holds its myid.
func (p *ensemblePlan) DataDir(i int) string { return filepath.Join(p.Dir, p.Name(i)) }

// IsObserver says whether member i is an observer.
func (p *ensemblePlan) IsObserver(i int) bool { return i >= p.Voters }

// ClientAddr is member i's client address.
func (p *ensemblePlan) ClientAddr(i int) string {
	return net.JoinHostPort(ensembleHost, strconv.Itoa(p.ClientPort+i))
}

// ConnectString lists every member's client address, as clients take it.
func (p *ensemblePlan) ConnectString() string {
	addrs := make([]string, p.Total())
	for i := range addrs {
		addrs[i] = p.ClientAddr(i)
	}
	return strings.Join(addrs, ",")
}

// serverLine is member i's server.N value.
func (p *ensemblePlan) serverLine(i int) string {
	role := ""
	if p.IsObserver(i) {
		role = ":observer"
	}
	return fmt.Sprintf("%s:%d:%d%s;%s", ensembleHost, p.QuorumPort+i, p.ElectionPort+i, role, p.ClientAddr(i))
}

// ports are every port member i binds.
func (p *ensemblePlan) ports(i int) []int {
	ps := []int{p.ClientPort + i, p.QuorumPort + i, p.ElectionPort + i}
	if p.AdminPort != 0 {
		ps = append(ps, p.AdminPort+i)
	}
	return ps
}

// CheckPorts fails, naming the port, when any member's port is already
// taken: most often an ensemble still running on the same ports, which
// would otherwise surface as N child processes failing one by one.
func (p *ensemblePlan) CheckPorts() error {
	for i := range p.Total() {
		for _, port := range p.ports(i) {
			ln, err := net.Listen("tcp", net.JoinHostPort(ensembleHost, strconv.Itoa(port)))
			if err != nil {
				return fmt.Errorf("%s needs port %d: %w", p.Name(i), port, err)
			}
			ln.Close()
		}
	}
	return nil
}

// YAML renders member i's config file.
func (p *ensemblePlan) YAML(i int) string {
	var b strings.Builder
	role := "voter"
	if p.IsObserver(i) {
		role = "observer"
	}
	fmt.Fprintf(&b, "# %s (myid %d, %s) of a local ensemble of %d voters and %d observers,\n",
		p.Name(i), i+1, role, p.Voters, p.Observers)
	b.WriteString("# written by `zabkit ensemble`, which rewrites it on every run (the data\n")
	b.WriteString("# directory is kept). Restart this member alone with:\n")
	fmt.Fprintf(&b, "#\n#   zabkit server --config %s\n\n", p.ConfigPath(i))
	var keys []string
	vals := map[string]string{} // keyBase -> rendered value
	set := func(k, rendered string) {
		lk := keyBase(k)
		if _, ok := vals[lk]; !ok {
			keys = append(keys, k)
		}
		vals[lk] = rendered
	}
	set("myid", yamlScalar(strconv.Itoa(i+1)))
	set("dataDir", yamlScalar(p.DataDir(i)))
	if p.IsObserver(i) {
		set("peerType", yamlScalar("observer"))
	}
	set("transport.module", yamlScalar(p.Transport))
	// envi too: kazoo's server_version() asks for it.
	set("4lw.commands.whitelist", "[srvr, mntr, stat, ruok, conf, envi]")
	if p.AdminPort == 0 {
		set("admin.enableServer", yamlScalar("false"))
	} else {
		set("admin.serverAddress", yamlScalar(ensembleHost))
		set("admin.serverPort", yamlScalar(strconv.Itoa(p.AdminPort+i)))
	}
	// --set wins over what is generated (validate keeps it off the keys
	// each member needs its own value for); a repeated key keeps the last.
	for _, e := range p.Extra {
		set(e[0], yamlScalar(e[1]))
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", yamlKey(k), vals[keyBase(k)])
	}
	b.WriteString("server:\n")
	for j := range p.Total() {
		fmt.Fprintf(&b, "  %d: %s\n", j+1, yamlScalar(p.serverLine(j)))
	}
	return b.String()
}

// plainYAML matches the scalars YAML reads back as the same string (or,
// for digits, as a number confload turns back into the same digits).
var (
	plainYAML = regexp.MustCompile(`^([0-9]+|[A-Za-z/][A-Za-z0-9/._-]*)$`)
	plainKey  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// yamlScalar renders s so that YAML reads it back as s: bare when that is
// unambiguous (keeps the file readable), else as a JSON string, which is
// valid YAML, so --set values need no quoting rules of their own.
func yamlScalar(s string) string {
	switch strings.ToLower(s) {
	case "null", "true", "false", "yes", "no", "on", "off", "y", "n":
	default:
		if plainYAML.MatchString(s) {
			return s
		}
	}
	out, _ := json.Marshal(s) // a string always marshals
	return string(out)
}

// yamlKey renders a key; dotted keys stay flat, as confload reads
// "admin.serverPort: 8081" as the path admin.serverPort.
func yamlKey(k string) string {
	if plainKey.MatchString(k) {
		return k
	}
	return yamlScalar(k)
}

// Write creates every member's data directory with its myid file and
// (re)writes its config. Existing data is kept, so running again on the
// same directory restarts the ensemble on its state.
func (p *ensemblePlan) Write() error {
	for i := range p.Total() {
		if err := os.MkdirAll(p.DataDir(i), 0o755); err != nil {
			return err
		}
		// ZooKeeper's own place for the id, so the data directory also
		// works with a zoo.cfg (and with Apache ZooKeeper).
		if err := os.WriteFile(filepath.Join(p.DataDir(i), "myid"), []byte(strconv.Itoa(i+1)+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(p.ConfigPath(i), []byte(p.YAML(i)), 0o644); err != nil {
			return err
		}
	}
	return nil
}
