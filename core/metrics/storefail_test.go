package metrics

import "testing"

// The store-failure gauge is always exported (0 while healthy) so an alert
// can fire on it; the info series naming the reason appears only once the
// store has failed.
func TestStoreFailureSeries(t *testing.T) {
	m := New(WithoutRuntimeCollectors())
	var st State
	m.SetStateFunc(func() State { return st })

	st = State{Role: "standalone"}
	f := gather(t, m)
	if v := f["zabkit_store_failed"].GetMetric()[0].GetGauge().GetValue(); v != 0 {
		t.Errorf("healthy store: zabkit_store_failed = %v, want 0", v)
	}
	if f["zabkit_store_failure_info"] != nil {
		t.Error("healthy store exports zabkit_store_failure_info")
	}

	st = State{Role: "read-only", StoreFailure: "append: input/output error"}
	f = gather(t, m)
	if v := f["zabkit_store_failed"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Errorf("failed store: zabkit_store_failed = %v, want 1", v)
	}
	if v := find(t, f["zabkit_store_failure_info"], "reason", "append: input/output error").GetGauge().GetValue(); v != 1 {
		t.Errorf("zabkit_store_failure_info = %v, want 1", v)
	}
	if r := find(t, f["zabkit_server_role"], "role", "read-only"); r == nil {
		t.Error("role read-only not exported")
	}
}
