// Package registry finds zabkit's pluggable modules (stores, transports,
// election algorithms) by namespaced ID, e.g. "store.file", and runs their
// start-up lifecycle:
//
//	construct (Module.New) → decode options strictly → Provision → Validate
//
// and, on failure after construction or at shutdown, Cleanup. The package
// knows nothing about concrete modules: implementations register themselves
// from init functions and cmd/ blank-imports them, so core/ never depends on
// an implementation.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/ext"
)

// Namespaces of the extension points the kernel loads.
const (
	Store     = "store"
	Transport = "transport"
	Election  = "election"
)

// Module describes one registered implementation.
type Module struct {
	// ID is "namespace.name", lower case: "store.pebble".
	ID string
	// New returns a fresh, unconfigured instance. Unless the instance
	// implements OptionsDecoder, it must be a pointer to a struct whose
	// exported fields are the module's options (see DecodeOptions).
	New func() any
	// Doc is a one-line description for listings.
	Doc string
}

// Namespace is the part of the ID before the first dot.
func (m Module) Namespace() string { ns, _, _ := strings.Cut(m.ID, "."); return ns }

// Context is what a module receives when it is provisioned.
type Context struct {
	context.Context
	Logger *slog.Logger
	// Config is the whole server configuration (data directories, ports,
	// tick time) for modules that need more than their own options.
	Config *config.Config
}

// Provisioner is implemented by modules that must set themselves up
// (open files, dial, start goroutines) after their options are decoded.
type Provisioner interface{ Provision(Context) error }

// Validator is implemented by modules that check their options after
// provisioning; a failed validation cleans the module up.
type Validator interface{ Validate() error }

// CleanerUpper is implemented by modules that hold resources. The registry
// calls it when provisioning or validation fails; the owner calls it (via
// Cleanup) at shutdown.
type CleanerUpper interface{ Cleanup() error }

// OptionsDecoder is implemented by modules that take their options as a
// map instead of struct fields, e.g. an external plugin that forwards them.
type OptionsDecoder interface {
	DecodeOptions(options map[string]any) error
}

// Errors returned by the registry; compare with errors.Is.
var (
	ErrUnknownModule = errors.New("unknown module")
	ErrBadOptions    = errors.New("bad module options")
	ErrWrongType     = errors.New("module does not implement the interface")
	ErrLifecycle     = errors.New("module failed to start")
)

// Registry holds modules by ID. The package-level functions use a global
// registry that init functions register into; tests can make their own.
type Registry struct {
	mu      sync.RWMutex
	modules map[string]Module
}

// New returns an empty registry.
func New() *Registry { return &Registry{modules: map[string]Module{}} }

var global = New()

// Register adds m to the global registry. It panics on a malformed or
// duplicate ID, because that is a programming error found at start-up.
func Register(m Module) { global.Register(m) }

// Lookup returns the globally registered module id.
func Lookup(id string) (Module, error) { return global.Lookup(id) }

// IDs lists the global registry's IDs in a namespace ("" for all), sorted.
func IDs(namespace string) []string { return global.IDs(namespace) }

// Load constructs and starts the global module id; see Registry.Load.
func Load(ctx Context, id string, options map[string]any) (any, error) {
	return global.Load(ctx, id, options)
}

// LoadAs loads a module from the global registry as T; see LoadFrom.
func LoadAs[T any](ctx Context, namespace string, mc config.ModuleConfig) (T, error) {
	return LoadFrom[T](global, ctx, namespace, mc)
}

// LoadStore loads the configured store module.
func LoadStore(ctx Context, mc config.ModuleConfig) (ext.Store, error) {
	return LoadAs[ext.Store](ctx, Store, mc)
}

// Register adds m; it panics on a malformed or duplicate ID.
func (r *Registry) Register(m Module) {
	if err := checkID(m.ID); err != nil {
		panic(fmt.Sprintf("registry: %v", err))
	}
	if m.New == nil {
		panic(fmt.Sprintf("registry: module %s has no New function", m.ID))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.modules[m.ID]; dup {
		panic(fmt.Sprintf("registry: module %s registered twice", m.ID))
	}
	r.modules[m.ID] = m
}

func checkID(id string) error {
	ns, name, ok := strings.Cut(id, ".")
	if !ok || ns == "" || name == "" {
		return fmt.Errorf("module ID %q is not namespace.name", id)
	}
	if id != strings.ToLower(id) || strings.ContainsAny(id, " \t/") {
		return fmt.Errorf("module ID %q must be lower case without spaces or slashes", id)
	}
	return nil
}

// Lookup returns module id; an unknown ID gives an error wrapping
// ErrUnknownModule that lists the modules known in its namespace.
func (r *Registry) Lookup(id string) (Module, error) {
	r.mu.RLock()
	m, ok := r.modules[id]
	r.mu.RUnlock()
	if ok {
		return m, nil
	}
	ns, _, _ := strings.Cut(id, ".")
	known := r.IDs(ns)
	if len(known) == 0 {
		return Module{}, fmt.Errorf("%w %q: no %s modules are registered (is the package linked in?)", ErrUnknownModule, id, ns)
	}
	return Module{}, fmt.Errorf("%w %q (known %s modules: %s)", ErrUnknownModule, id, ns, strings.Join(known, ", "))
}

// IDs lists the registered IDs in namespace ("" for all), sorted.
func (r *Registry) IDs(namespace string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var ids []string
	for id, m := range r.modules {
		if namespace == "" || m.Namespace() == namespace {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Load constructs module id, decodes options into it strictly, provisions
// and validates it. If provisioning or validation fails, the module is
// cleaned up before the error is returned. The caller owns the result and
// calls Cleanup on it at shutdown.
func (r *Registry) Load(ctx Context, id string, options map[string]any) (any, error) {
	m, err := r.Lookup(id)
	if err != nil {
		return nil, err
	}
	v := m.New()
	if v == nil {
		return nil, fmt.Errorf("%w: %s: New returned nil", ErrLifecycle, id)
	}
	if d, ok := v.(OptionsDecoder); ok {
		if err := d.DecodeOptions(options); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadOptions, id, err)
		}
	} else if err := DecodeOptions(options, v); err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	if ctx.Context == nil {
		ctx.Context = context.Background()
	}
	if ctx.Logger == nil {
		ctx.Logger = slog.Default()
	}
	ctx.Logger = ctx.Logger.With("module", id)
	if p, ok := v.(Provisioner); ok {
		if err := p.Provision(ctx); err != nil {
			return nil, errors.Join(fmt.Errorf("%w: %s: provision: %w", ErrLifecycle, id, err), Cleanup(v))
		}
	}
	if val, ok := v.(Validator); ok {
		if err := val.Validate(); err != nil {
			return nil, errors.Join(fmt.Errorf("%w: %s: validate: %w", ErrLifecycle, id, err), Cleanup(v))
		}
	}
	return v, nil
}

// LoadFrom loads the module mc names from r and asserts that it is a T.
// A module name without a namespace ("pebble") is taken to be in
// namespace; an ID from another namespace is refused.
func LoadFrom[T any](r *Registry, ctx Context, namespace string, mc config.ModuleConfig) (T, error) {
	var zero T
	id := ResolveID(namespace, mc.Module)
	if ns, _, _ := strings.Cut(id, "."); ns != namespace {
		return zero, fmt.Errorf("%w %q: not a %s module (known: %s)", ErrUnknownModule, mc.Module, namespace,
			strings.Join(r.IDs(namespace), ", "))
	}
	v, err := r.Load(ctx, id, mc.Options)
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		err := fmt.Errorf("%w: %s is a %T, not a %T", ErrWrongType, id, v, (*T)(nil))
		return zero, errors.Join(err, Cleanup(v))
	}
	return t, nil
}

// ResolveID returns id, prefixed with namespace when it has none, so a
// config may say `store.module: pebble` or `store.module: store.pebble`.
func ResolveID(namespace, id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	if !strings.Contains(id, ".") {
		return namespace + "." + id
	}
	return id
}

// Cleanup releases v's resources if it is a CleanerUpper.
func Cleanup(v any) error {
	if c, ok := v.(CleanerUpper); ok {
		return c.Cleanup()
	}
	return nil
}
