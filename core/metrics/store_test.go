package metrics

import (
	"sync/atomic"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
)

// fakeReporter stands in for a store with engine metrics; each scrape
// sees its current values.
type fakeReporter struct{ writes atomic.Int64 }

func (f *fakeReporter) Metrics() []ext.StoreMetric {
	return []ext.StoreMetric{
		{Name: "engine_writes_total", Help: "writes", Kind: ext.Counter, Value: float64(f.writes.Load())},
		{Name: "engine_l0_files", Help: "files", Kind: ext.Gauge, Value: 3},
	}
}

func TestRegisterStoreReadsAtScrapeTime(t *testing.T) {
	m := New(WithoutRuntimeCollectors())
	r := &fakeReporter{}
	if err := m.RegisterStore(r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int64{0, 42} {
		r.writes.Store(want)
		fams := gather(t, m)
		c := fams[StorePrefix+"engine_writes_total"]
		if c == nil || c.GetMetric()[0].GetCounter().GetValue() != float64(want) {
			t.Fatalf("counter after %d writes: %v", want, c)
		}
		g := fams[StorePrefix+"engine_l0_files"]
		if g == nil || g.GetMetric()[0].GetGauge().GetValue() != 3 || g.GetHelp() != "files" {
			t.Fatalf("gauge: %v", g)
		}
	}
	var nilM *Metrics
	if err := nilM.RegisterStore(r); err != nil {
		t.Fatalf("RegisterStore on nil Metrics: %v", err)
	}
}
