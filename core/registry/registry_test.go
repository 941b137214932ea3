package registry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/config"
)

// fakeStore records its lifecycle so tests can check order and cleanup.
type fakeStore struct {
	Path      string        `json:"path"`
	CacheSize int           `json:"cacheSize"`
	Sync      bool          `json:"sync"`
	Timeout   time.Duration `json:"timeout"`
	Tags      []string      `json:"tags"`
	Ratio     float64       `json:"ratio"`
	Small     uint8         `json:"small"`
	Hidden    string        `json:"-"`

	steps   []string
	failAt  string
	dataDir string
}

func (f *fakeStore) Provision(ctx Context) error {
	f.steps = append(f.steps, "provision")
	if ctx.Config != nil {
		f.dataDir = ctx.Config.DataDir
	}
	if f.failAt == "provision" {
		return errors.New("disk on fire")
	}
	return nil
}

func (f *fakeStore) Validate() error {
	f.steps = append(f.steps, "validate")
	if f.CacheSize < 0 {
		return errors.New("cacheSize must be >= 0")
	}
	return nil
}

func (f *fakeStore) Cleanup() error {
	f.steps = append(f.steps, "cleanup")
	return nil
}

type storer interface{ Provision(Context) error }

func newTestRegistry(last **fakeStore, failAt string) *Registry {
	r := New()
	r.Register(Module{ID: "store.fake", New: func() any {
		f := &fakeStore{CacheSize: 8, failAt: failAt}
		*last = f
		return f
	}})
	r.Register(Module{ID: "store.other", New: func() any { return &struct{}{} }})
	r.Register(Module{ID: "transport.fake", New: func() any { return &fakeStore{} }})
	return r
}

func TestLifecycleAndOptions(t *testing.T) {
	var f *fakeStore
	r := newTestRegistry(&f, "")
	cfg := config.Default()
	cfg.DataDir = "/data"
	v, err := r.Load(Context{Context: context.Background(), Config: &cfg}, "store.fake", map[string]any{
		"PATH":       "/x",
		"cache_size": "0x10",
		"sync":       "yes",
		"timeout":    "250ms",
		"tags":       "a, b,,c",
		"ratio":      0.5,
		"small":      float64(200),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := v.(*fakeStore)
	if got.Path != "/x" || got.CacheSize != 16 || !got.Sync || got.Timeout != 250*time.Millisecond ||
		strings.Join(got.Tags, "|") != "a|b|c" || got.Ratio != 0.5 || got.Small != 200 {
		t.Fatalf("decoded %+v", got)
	}
	if strings.Join(got.steps, ",") != "provision,validate" || got.dataDir != "/data" {
		t.Fatalf("steps %v, dataDir %q", got.steps, got.dataDir)
	}
	if err := Cleanup(v); err != nil || got.steps[len(got.steps)-1] != "cleanup" {
		t.Fatalf("cleanup: %v %v", err, got.steps)
	}
}

func TestDefaultsSurviveEmptyOptions(t *testing.T) {
	var f *fakeStore
	r := newTestRegistry(&f, "")
	v, err := r.Load(Context{}, "store.fake", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.(*fakeStore).CacheSize != 8 {
		t.Fatal("default set by New was overwritten")
	}
}

func TestStrictOptions(t *testing.T) {
	var f *fakeStore
	r := newTestRegistry(&f, "")
	cases := []struct {
		opts map[string]any
		want string
	}{
		{map[string]any{"cachesise": 1}, `unknown option "cachesise" (known: cacheSize, path, ratio, small, sync, tags, timeout)`},
		{map[string]any{"Hidden": "x"}, `unknown option "Hidden"`},
		{map[string]any{"sync": "maybe"}, `"maybe"`},
		{map[string]any{"cacheSize": "12abc"}, `"12abc" is not a 64-bit integer`},
		{map[string]any{"cacheSize": 1.5}, "not a whole number"},
		{map[string]any{"small": 300.0}, "does not fit"},
		{map[string]any{"small": "300"}, "unsigned 8-bit"},
		{map[string]any{"timeout": 5}, "needs a unit"},
		{map[string]any{"timeout": "5"}, "not a duration"},
	}
	for _, tc := range cases {
		_, err := r.Load(Context{}, "store.fake", tc.opts)
		if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "store.fake") {
			t.Errorf("%v: got %v, want ErrBadOptions containing %q and the module ID", tc.opts, err, tc.want)
		}
	}
	_, err := r.Load(Context{}, "store.other", map[string]any{"x": 1})
	if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), `unknown option "x" (known: )`) {
		t.Errorf("module without options: %v", err)
	}
}

func TestFailedLifecycleCleansUp(t *testing.T) {
	var f *fakeStore
	r := newTestRegistry(&f, "provision")
	if _, err := r.Load(Context{}, "store.fake", nil); !errors.Is(err, ErrLifecycle) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("provision failure: %v", err)
	}
	if strings.Join(f.steps, ",") != "provision,cleanup" {
		t.Fatalf("steps %v", f.steps)
	}
	r = newTestRegistry(&f, "")
	if _, err := r.Load(Context{}, "store.fake", map[string]any{"cacheSize": -1}); !errors.Is(err, ErrLifecycle) {
		t.Fatalf("validate failure: %v", err)
	}
	if strings.Join(f.steps, ",") != "provision,validate,cleanup" {
		t.Fatalf("steps %v", f.steps)
	}
}

func TestUnknownModuleListsKnown(t *testing.T) {
	var f *fakeStore
	r := newTestRegistry(&f, "")
	_, err := r.Load(Context{}, "store.pebbel", nil)
	if !errors.Is(err, ErrUnknownModule) || !strings.Contains(err.Error(), "known store modules: store.fake, store.other") {
		t.Fatalf("got %v", err)
	}
	_, err = r.Lookup("election.fle")
	if !errors.Is(err, ErrUnknownModule) || !strings.Contains(err.Error(), "no election modules are registered") {
		t.Fatalf("got %v", err)
	}
	if got := strings.Join(r.IDs("store"), ","); got != "store.fake,store.other" {
		t.Fatalf("IDs(store) = %s", got)
	}
	if got := len(r.IDs("")); got != 3 {
		t.Fatalf("IDs(\"\") has %d entries", got)
	}
}

func TestLoadFromTypedAndNamespaced(t *testing.T) {
	var f *fakeStore
	r := newTestRegistry(&f, "")
	s, err := LoadFrom[storer](r, Context{}, Store, config.ModuleConfig{Module: "fake"})
	if err != nil || s == nil {
		t.Fatalf("short name: %v", err)
	}
	if _, err := LoadFrom[storer](r, Context{}, Store, config.ModuleConfig{Module: "transport.fake"}); !errors.Is(err, ErrUnknownModule) {
		t.Fatalf("cross-namespace load: %v", err)
	}
	if _, err := LoadFrom[storer](r, Context{}, Store, config.ModuleConfig{Module: "store.other"}); !errors.Is(err, ErrWrongType) {
		t.Fatalf("wrong type: %v", err)
	}
}

func TestRegisterPanics(t *testing.T) {
	for _, m := range []Module{
		{ID: "nodot", New: func() any { return nil }},
		{ID: "Store.X", New: func() any { return nil }},
		{ID: "store.", New: func() any { return nil }},
		{ID: "store.x"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", m.ID)
				}
			}()
			New().Register(m)
		}()
	}
	r := New()
	r.Register(Module{ID: "store.x", New: func() any { return nil }})
	defer func() {
		if recover() == nil {
			t.Error("duplicate Register did not panic")
		}
	}()
	r.Register(Module{ID: "store.x", New: func() any { return nil }})
}

func FuzzDecodeOptions(f *testing.F) {
	f.Add("cacheSize", "12", "timeout", "1s")
	f.Add("sync", "yes", "tags", "a,b")
	f.Add("small", "0x1ff", "ratio", "NaN")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		var fs fakeStore
		err := DecodeOptions(map[string]any{k1: v1, k2: v2}, &fs)
		if err != nil && !errors.Is(err, ErrBadOptions) {
			t.Fatalf("error %v does not wrap ErrBadOptions", err)
		}
	})
}
