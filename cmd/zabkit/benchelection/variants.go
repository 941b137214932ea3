package benchelection

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/registry"
)

// Variant is one election algorithm under test: a registered module with
// options.
type Variant struct {
	// Name labels the variant in reports: the spec as given
	// ("raftprevote:preVote=false").
	Name    string
	Module  string // registry ID, "election.raftprevote"
	Options map[string]any
	Factory ext.ElectionFactory
}

// Loader makes a module's factory with its options decoded.
type Loader func(id string, options map[string]any) (ext.ElectionFactory, error)

// RegistryLoader loads election modules from the global registry.
func RegistryLoader(id string, options map[string]any) (ext.ElectionFactory, error) {
	v, err := registry.Load(registry.Context{}, id, options)
	if err != nil {
		return nil, err
	}
	f, ok := v.(ext.ElectionFactory)
	if !ok {
		return nil, fmt.Errorf("%w: %s is no ext.ElectionFactory", registry.ErrWrongType, id)
	}
	return f, nil
}

// DefaultSpecs lists every registered election module by short name, FLE
// (ZooKeeper's algorithm, the baseline) first.
func DefaultSpecs() []string {
	var names []string
	for _, id := range registry.IDs(registry.Election) {
		names = append(names, strings.TrimPrefix(id, registry.Election+"."))
	}
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case a == "fle":
			return -1
		case b == "fle":
			return 1
		}
		return 0
	})
	return names
}

// ParseVariants turns specs into variants. A spec is a module name
// ("fle" or "election.fle") optionally followed by options, each
// ":key=value" ("fle:finalizeWait=50ms"), so one module can be compared
// with itself under other options. The first variant is the baseline.
func ParseVariants(specs []string, load Loader) ([]Variant, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("no variants to run (no election modules registered?)")
	}
	var vs []Variant
	seen := map[string]bool{}
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if seen[spec] {
			return nil, fmt.Errorf("variant %q listed twice", spec)
		}
		seen[spec] = true
		parts := strings.Split(spec, ":")
		v := Variant{Name: spec, Module: parts[0]}
		if !strings.Contains(v.Module, ".") {
			v.Module = registry.Election + "." + v.Module
		}
		for _, kv := range parts[1:] {
			k, val, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("variant %q: option %q is not key=value", spec, kv)
			}
			if v.Options == nil {
				v.Options = map[string]any{}
			}
			v.Options[k] = val
		}
		f, err := load(v.Module, v.Options)
		if err != nil {
			return nil, fmt.Errorf("variant %q: %w", spec, err)
		}
		v.Factory = f
		vs = append(vs, v)
	}
	return vs, nil
}
