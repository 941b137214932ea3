// Package confload reads zabkit's server configuration, once, at start-up:
// built-in defaults < config file < environment < flags, decoded strictly
// into a config.Config.
//
// The config file is YAML (.yaml/.yml) or a ZooKeeper zoo.cfg (Java
// properties); both share one key space, where the zoo.cfg key a.b.c is the
// YAML path a: {b: {c: ...}}. Keys are case-insensitive and may carry
// ZooKeeper's "zookeeper." system-property prefix or not.
//
// Defaults differ by file kind, on purpose: a YAML file (or no file at all)
// starts from the embedded configs/default.yaml, which runs a standalone
// server on 127.0.0.1:2181 with data under ./data; a zoo.cfg starts from
// ZooKeeper's own code defaults, so it means what it means to ZooKeeper.
//
// Environment variables are ZABKIT_ + the key upper-cased with '_' for '.'
// (ZABKIT_CLIENTPORT, ZABKIT_4LW_COMMANDS_WHITELIST, ZABKIT_SERVER_1,
// ZABKIT_STORE_OPTIONS_CACHE_SIZE); ZABKIT_CONFIG names the config file.
package confload

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/zabkit/zabkit/configs"
	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/registry"
)

// Result is a loaded configuration.
type Result struct {
	Config *config.Config
	// File is the config file read; "" means the embedded default.
	File string
	// Format is "yaml", "zoo.cfg" or "embedded".
	Format string
	// Warnings are problems that did not stop loading (ignored ZooKeeper
	// keys, clamped values, unknown ZABKIT_ variables); log each one.
	Warnings []string
}

// LogWarnings logs each warning at WARN level.
func (r *Result) LogWarnings(l *slog.Logger) {
	for _, w := range r.Warnings {
		l.Warn("config: " + w)
	}
}

// ErrConfig is wrapped by every error Load returns for a bad configuration.
var ErrConfig = errors.New("config")

// EnvConfig names the config file when neither --config nor a positional
// argument does.
const EnvConfig = "ZABKIT_CONFIG"

// NewFlagSet returns the flags of `zabkit server`: --config, --set and one
// flag per common key. Load makes its own; this one is for usage text.
func NewFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("zabkit server", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.String("config", "", "config file: YAML (.yaml/.yml) or ZooKeeper zoo.cfg (default: embedded configs/default.yaml)")
	fs.StringArray("set", nil, "set any config key: --set key=value (repeatable)")
	for i := range keyDefs {
		d := &keyDefs[i]
		if d.flag == "" {
			continue
		}
		fs.String(d.flag, "", fmt.Sprintf("%s (key %s)", d.usage, d.name))
		if d.isBool {
			// `--flag` alone means true; a value needs `--flag=false`.
			fs.Lookup(d.flag).NoOptDefVal = "true"
			fs.Lookup(d.flag).Usage += " (--" + d.flag + "=false to turn off)"
		}
	}
	return fs
}

// Usage returns the flag help text.
func Usage() string { return NewFlagSet().FlagUsages() }

// Load parses `zabkit server` arguments and the environment (as os.Environ
// returns it) and returns the validated configuration. One positional
// argument is accepted as the config file, as ZooKeeper's QuorumPeerMain
// does. -h/--help returns pflag.ErrHelp.
func Load(args, environ []string) (*Result, error) {
	fs := NewFlagSet()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	file, _ := fs.GetString("config")
	switch pos := fs.Args(); {
	case len(pos) > 1:
		return nil, fmt.Errorf("%w: too many arguments %q (at most one config file)", ErrConfig, pos)
	case len(pos) == 1 && file != "":
		return nil, fmt.Errorf("%w: both --config %s and argument %s", ErrConfig, file, pos[0])
	case len(pos) == 1:
		file = pos[0]
	}
	env := envMap(environ)
	if file == "" {
		file = env[EnvConfig]
	}

	l := &loader{v: viper.New(), source: map[string]string{}, explicit: map[string]bool{}}
	res := &Result{File: file, Format: "embedded"}
	var data []byte
	if file != "" {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		res.Format = "yaml"
		if isZooCfg(file, data) {
			res.Format = "zoo.cfg"
		}
	}
	// A zoo.cfg starts from ZooKeeper's code defaults (config.Default);
	// everything else from the embedded default.yaml.
	if res.Format != "zoo.cfg" {
		if err := l.defaults(); err != nil {
			return nil, err
		}
	}
	if file != "" {
		if err := l.file(file, res.Format, data); err != nil {
			return nil, err
		}
	}
	if err := l.env(env); err != nil {
		return nil, err
	}
	if err := l.flags(fs); err != nil {
		return nil, err
	}
	c, err := l.build()
	if err != nil {
		return nil, err
	}
	res.Config = c
	res.Warnings = l.warnings
	return res, nil
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// isZooCfg decides a file's format: by extension, else by content (the
// first setting line uses '=' before any ':').
func isZooCfg(path string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return false
	case ".cfg", ".properties", ".conf":
		return true
	}
	for _, line := range splitLines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' || line == "---" {
			continue
		}
		eq, colon := strings.IndexByte(line, '='), strings.IndexByte(line, ':')
		return eq >= 0 && (colon < 0 || eq < colon)
	}
	return false
}

// loader feeds the layers into viper, remembering where each key was set
// so errors can say which file line, variable or flag to fix.
type loader struct {
	v        *viper.Viper
	source   map[string]string // canonical key -> highest-precedence origin
	explicit map[string]bool   // set by the operator, not by a default
	warnings []string
}

func (l *loader) warn(format string, args ...any) {
	l.warnings = append(l.warnings, fmt.Sprintf(format, args...))
}

// defaults loads the embedded default.yaml as viper's default layer.
func (l *loader) defaults() error {
	entries, err := parseYAML(configs.Default)
	if err != nil {
		return fmt.Errorf("%w: embedded default.yaml: %w", ErrConfig, err)
	}
	for _, e := range entries {
		r := resolveKey(e.key)
		if r.kind != kindKnown && r.kind != kindOption && r.kind != kindServer {
			return fmt.Errorf("%w: embedded default.yaml:%d: bad key %q", ErrConfig, e.line, e.key)
		}
		l.v.SetDefault(r.canon, e.val.raw())
		l.source[r.canon] = fmt.Sprintf("default.yaml:%d", e.line)
	}
	return nil
}

func (v value) raw() any {
	if v.isList {
		return v.list
	}
	return v.s
}

// file loads a YAML or zoo.cfg file as viper's config layer.
func (l *loader) file(path, format string, data []byte) error {
	var entries []entry
	if format == "zoo.cfg" {
		props, err := ParseProperties(string(data))
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
		}
		for _, p := range props {
			entries = append(entries, entry{key: p.Key, val: value{s: p.Value}, line: p.Line})
		}
	} else {
		var err error
		if entries, err = parseYAML(data); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
		}
	}
	layer := map[string]any{}
	spelling := map[string]string{}
	var errs []error
	for _, e := range entries {
		at := fmt.Sprintf("%s:%d", path, e.line)
		r := resolveKey(e.key)
		switch r.kind {
		case kindUnknown:
			errs = append(errs, fmt.Errorf("%s: unknown key %q%s", at, e.key, suggest(e.key)))
			continue
		case kindUnsupported:
			errs = append(errs, fmt.Errorf("%s: %s: %s", at, e.key, r.why))
			continue
		case kindIgnored:
			l.warn("%s: ignoring ZooKeeper setting %s: zabkit does not implement it", at, e.key)
			continue
		}
		if prev, dup := spelling[r.canon]; dup && (format != "zoo.cfg" || prev != e.key) {
			errs = append(errs, fmt.Errorf("%s: %s is set twice (also as %s)", at, e.key, prev))
			continue
		}
		spelling[r.canon] = e.key
		layer[r.canon] = e.val.raw()
		l.source[r.canon] = at
		l.explicit[r.canon] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return l.merge(layer)
}

// merge adds a flat layer of canonical keys to viper's config layer, which
// later layers override key by key.
func (l *loader) merge(flat map[string]any) error {
	nested := map[string]any{}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a leaf sorts before its children: conflicts surface
	for _, k := range keys {
		parts := strings.Split(k, ".")
		m := nested
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				if _, leaf := m[p]; leaf {
					return fmt.Errorf("%w: %s: %s is both a value and a section", ErrConfig, l.source[k], k)
				}
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = flat[k]
	}
	return l.v.MergeConfigMap(nested)
}

var (
	envServerRe = regexp.MustCompile(`^ZABKIT_(?:ZOOKEEPER_)?SERVER_(\d+)$`)
	envOptionRe = regexp.MustCompile(`^ZABKIT_(STORE|TRANSPORT|ELECTION)_OPTIONS_(.+)$`)
	envIndex    = func() map[string]string {
		m := map[string]string{}
		for i := range keyDefs {
			for _, n := range envNames(keyDefs[i].name) {
				m[n] = strings.ToLower(keyDefs[i].name)
			}
		}
		return m
	}()
)

// env applies ZABKIT_* variables above the file.
func (l *loader) env(env map[string]string) error {
	names := make([]string, 0, len(env))
	for k := range env {
		if strings.HasPrefix(k, "ZABKIT_") && k != EnvConfig {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	layer := map[string]any{}
	from := map[string]string{}
	var errs []error
	for _, name := range names {
		var canon string
		if c, ok := envIndex[name]; ok {
			canon = c
		} else if m := envServerRe.FindStringSubmatch(name); m != nil {
			canon = resolveKey("server." + m[1]).canon
		} else if m := envOptionRe.FindStringSubmatch(name); m != nil {
			canon = strings.ToLower(m[1]) + ".options." + strings.ToLower(m[2])
		} else {
			l.warn("environment: ignoring unknown variable %s", name)
			continue
		}
		if prev, dup := from[canon]; dup {
			errs = append(errs, fmt.Errorf("environment: %s and %s set the same key %s", prev, name, canon))
			continue
		}
		from[canon] = name
		layer[canon] = env[name]
		l.source[canon] = "environment " + name
		l.explicit[canon] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return l.merge(layer)
}

// flags binds the flags given on the command line, then applies --set.
func (l *loader) flags(fs *pflag.FlagSet) error {
	for i := range keyDefs {
		d := &keyDefs[i]
		if d.flag == "" || !fs.Changed(d.flag) {
			continue
		}
		canon := strings.ToLower(d.name)
		if err := l.v.BindPFlag(canon, fs.Lookup(d.flag)); err != nil {
			return fmt.Errorf("%w: --%s: %w", ErrConfig, d.flag, err)
		}
		l.source[canon] = "flag --" + d.flag
		l.explicit[canon] = true
	}
	sets, _ := fs.GetStringArray("set")
	var errs []error
	for _, kv := range sets {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("--set %q: want key=value", kv))
			continue
		}
		r := resolveKey(k)
		switch r.kind {
		case kindUnknown:
			errs = append(errs, fmt.Errorf("--set: unknown key %q%s", k, suggest(k)))
			continue
		case kindUnsupported:
			errs = append(errs, fmt.Errorf("--set: %s: %s", k, r.why))
			continue
		case kindIgnored:
			l.warn("--set: ignoring ZooKeeper setting %s: zabkit does not implement it", k)
			continue
		}
		l.v.Set(r.canon, val)
		l.source[r.canon] = "--set " + k
		l.explicit[r.canon] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

func toValue(x any) value {
	switch t := x.(type) {
	case string:
		return value{s: t}
	case []string:
		return value{list: t, isList: true}
	case []any:
		list := make([]string, len(t))
		for i, e := range t {
			list[i] = fmt.Sprint(e)
		}
		return value{list: list, isList: true}
	case nil:
		return value{}
	default:
		return value{s: fmt.Sprint(t)}
	}
}

// build decodes the merged layers into a Config, resolves what depends on
// several keys (myid, client address from server.N, peerType) and
// validates the result.
func (l *loader) build() (*config.Config, error) {
	c := config.Default()
	keys := make([]string, 0, len(l.source))
	for k := range l.source {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, k := range keys {
		val := toValue(l.v.Get(k))
		r := resolveKey(k)
		var err error
		switch r.kind {
		case kindKnown:
			err = r.def.set(&c, val)
		case kindServer:
			err = l.addServer(&c, r.canon, val)
		case kindOption:
			err = addOption(&c, k, val)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (%s)", displayName(k), err, l.source[k]))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := l.resolve(&c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, l.annotate(err))
	}
	return &c, nil
}

// displayName is the canonical spelling of a lower-case key.
func displayName(canon string) string {
	if r := resolveKey(canon); r.def != nil {
		return r.def.name
	}
	return canon
}

func (l *loader) addServer(c *config.Config, canon string, val value) error {
	s, err := val.scalar()
	if err != nil {
		return err
	}
	id, _ := strconv.ParseInt(strings.TrimPrefix(canon, "server."), 10, 64)
	spec, err := config.ParseServerSpec(id, s)
	if err != nil {
		return err
	}
	if c.Servers == nil {
		c.Servers = map[int64]config.ServerSpec{}
	}
	c.Servers[id] = spec
	return nil
}

// addOption stores <ns>.options.a.b = v as Options["a"]["b"] = v.
func addOption(c *config.Config, canon string, val value) error {
	ns, rest, _ := strings.Cut(canon, ".options.")
	var mc *config.ModuleConfig
	switch ns {
	case "store":
		mc = &c.Store
	case "transport":
		mc = &c.Transport
	case "election":
		mc = &c.Election
	}
	if mc.Options == nil {
		mc.Options = map[string]any{}
	}
	m := mc.Options
	parts := strings.Split(rest, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			if _, leaf := m[p]; leaf {
				return fmt.Errorf("option %s is both a value and a section", p)
			}
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = val.raw()
	return nil
}

// annotate appends where each invalid key was set to Validate's errors.
func (l *loader) annotate(err error) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var ke *config.KeyError
		if errors.As(e, &ke) {
			if src, ok := l.source[strings.ToLower(ke.Key)]; ok {
				e = fmt.Errorf("%w (%s)", e, src)
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// resolve settles what ZooKeeper derives from several keys, after all
// layers are applied.
func (l *loader) resolve(c *config.Config) error {
	// ZooKeeper resets these with a warning rather than failing; do the
	// same so existing zoo.cfg files load.
	if c.AutopurgeSnapRetainCount < config.MinSnapRetainCount {
		l.warn("autopurge.snapRetainCount %d is below %d; using %d", c.AutopurgeSnapRetainCount,
			config.MinSnapRetainCount, config.MinSnapRetainCount)
		c.AutopurgeSnapRetainCount = config.MinSnapRetainCount
	}
	if c.SnapCount < config.MinSnapCount {
		l.warn("snapCount %d is below %d; using %d", c.SnapCount, config.MinSnapCount, config.MinSnapCount)
		c.SnapCount = config.MinSnapCount
	}
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}
	// `store.module: pebble` means store.pebble.
	c.Store.Module = registry.ResolveID(registry.Store, c.Store.Module)
	c.Transport.Module = registry.ResolveID(registry.Transport, c.Transport.Module)
	c.Election.Module = registry.ResolveID(registry.Election, c.Election.Module)

	if c.DynamicConfigFile != "" {
		if err := l.readDynamic(c); err != nil {
			return err
		}
	}
	if len(c.Servers) == 0 {
		return nil
	}
	if err := l.readMyID(c); err != nil {
		return err
	}
	if voters := len(c.Voters()); c.Distributed() && voters <= 2 {
		l.warn("ensemble has %d participants: no server failure will be tolerated; use at least 3", voters)
	} else if c.Distributed() && voters%2 == 0 {
		l.warn("ensemble has %d participants: an odd number tolerates as many failures with fewer servers", voters)
	}
	me, ok := c.Servers[c.MyID]
	if !ok {
		return nil // Validate reports it.
	}
	// The server line's client address wins, but must not contradict an
	// address the operator set separately (ZooKeeper's rule).
	if me.ClientPort != 0 {
		if l.explicit["clientport"] || l.explicit["clientportaddress"] {
			anyAddr := c.ClientPortAddress == "" || c.ClientPortAddress == "0.0.0.0" || c.ClientPortAddress == "::"
			if c.ClientPort != me.ClientPort || (!anyAddr && c.ClientPortAddress != me.ClientHost) {
				return fmt.Errorf("clientPort: %s differs from the client address %s:%d of server.%d (%s)",
					c.ClientAddr(), me.ClientHost, me.ClientPort, c.MyID, l.source["server."+strconv.FormatInt(c.MyID, 10)])
			}
		}
		c.ClientPort, c.ClientPortAddress = me.ClientPort, me.ClientHost
	}
	if me.Role != c.PeerType {
		if l.explicit["peertype"] {
			l.warn("peerType %s does not match server.%d (%s); using the server list", c.PeerType, c.MyID, me.Role)
		}
		c.PeerType = me.Role
	}
	return nil
}

// readMyID reads dataDir/myid, which ZooKeeper uses to pick this server's
// server.N line; the myid key, when set, must agree with it.
func (l *loader) readMyID(c *config.Config) error {
	if c.DataDir == "" {
		return nil
	}
	path := filepath.Join(c.DataDir, "myid")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("myid: %w", err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	id, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	if err != nil || id < 0 {
		return fmt.Errorf("myid: %s holds %q, not a server id", path, strings.TrimSpace(first))
	}
	if l.explicit["myid"] && c.MyID != id {
		return fmt.Errorf("myid: %d (%s) but %s says %d", c.MyID, l.source["myid"], path, id)
	}
	c.MyID = id
	return nil
}

// readDynamic loads server.N lines from dynamicConfigFile, which must then
// be their only home (ZooKeeper's rule).
func (l *loader) readDynamic(c *config.Config) error {
	if len(c.Servers) > 0 {
		return fmt.Errorf("server.N: with dynamicConfigFile set, server lines belong in %s", c.DynamicConfigFile)
	}
	data, err := os.ReadFile(c.DynamicConfigFile)
	if err != nil {
		return fmt.Errorf("dynamicConfigFile: %w", err)
	}
	props, err := ParseProperties(string(data))
	if err != nil {
		return fmt.Errorf("dynamicConfigFile: %s: %w", c.DynamicConfigFile, err)
	}
	var errs []error
	for _, p := range props {
		at := fmt.Sprintf("%s:%d", c.DynamicConfigFile, p.Line)
		r := resolveKey(p.Key)
		switch {
		case r.kind == kindServer:
			l.source[r.canon] = at
			if err := l.addServer(c, r.canon, value{s: p.Value}); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", at, p.Key, err))
			}
		case strings.EqualFold(p.Key, "version"):
		case r.kind == kindUnsupported:
			errs = append(errs, fmt.Errorf("%s: %s: %s", at, p.Key, r.why))
		default:
			errs = append(errs, fmt.Errorf("%s: %q does not belong in a dynamic config file", at, p.Key))
		}
	}
	return errors.Join(errs...)
}
