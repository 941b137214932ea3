package fle

import (
	"errors"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/registry"
)

func TestModuleOptions(t *testing.T) {
	r := registry.New()
	r.Register(registry.Module{ID: "election.fle", New: func() any { return DefaultOptions() }})
	load := func(opts map[string]any) (ext.ElectionFactory, error) {
		return registry.LoadFrom[ext.ElectionFactory](r, registry.Context{}, registry.Election,
			config.ModuleConfig{Module: "fle", Options: opts})
	}
	f, err := load(map[string]any{"finalize_wait": "50ms", "MAXNOTIFICATIONINTERVAL": "5s"})
	if err != nil {
		t.Fatal(err)
	}
	el, err := f.NewElection(ext.ElectionConfig{Self: 1, Members: voters(1)})
	if err != nil {
		t.Fatal(err)
	}
	if got := el.(*Election).opts; got.FinalizeWait != 50*time.Millisecond || got.MaxNotificationInterval != 5*time.Second ||
		got.MinNotificationInterval != 200*time.Millisecond {
		t.Fatalf("options = %+v", got)
	}
	// A one-server ensemble decides on its own after finalizeWait.
	out := el.Start(0, ext.RoundStart{})
	if out.WakeAt != 50*time.Millisecond {
		t.Fatalf("WakeAt = %v", out.WakeAt)
	}
	if out = el.Tick(out.WakeAt); out.Decided == nil || out.Decided.State != ext.Leading {
		t.Fatalf("single server: %+v", out)
	}

	if _, err := load(map[string]any{"finalizeWiat": "1s"}); !errors.Is(err, registry.ErrBadOptions) {
		t.Errorf("misspelt option: %v", err)
	}
	if _, err := load(map[string]any{"maxNotificationInterval": "100ms"}); !errors.Is(err, ErrConfig) {
		t.Errorf("max below min: %v", err)
	}
	// Options passed per instance are decoded strictly too.
	if _, err := f.NewElection(ext.ElectionConfig{Self: 1, Members: voters(1), Options: map[string]any{"bogus": 1}}); !errors.Is(err, ErrConfig) {
		t.Errorf("per-instance bogus option: %v", err)
	}
}

func TestMembershipErrors(t *testing.T) {
	for name, cfg := range map[string]ext.ElectionConfig{
		"self missing":    {Self: 9, Members: voters(1, 2, 3)},
		"duplicate":       {Self: 1, Members: voters(1, 1, 2)},
		"negative weight": {Self: 1, Members: []ext.Member{{ID: 1, Weight: -1}}},
		"no voters":       {Self: 1, Members: []ext.Member{{ID: 1, Observer: true}, {ID: 2}}},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
