package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

func find(t *testing.T, f *dto.MetricFamily, kv ...string) *dto.Metric {
	t.Helper()
	if f == nil {
		t.Fatal("family missing")
	}
outer:
	for _, m := range f.GetMetric() {
		l := labels(m)
		for i := 0; i < len(kv); i += 2 {
			if l[kv[i]] != kv[i+1] {
				continue outer
			}
		}
		return m
	}
	t.Fatalf("%s: no series with %v", f.GetName(), kv)
	return nil
}

func TestFamiliesExposed(t *testing.T) {
	m := New()
	m.ObserveRequest(jute.OpGetData, 0, 200*time.Microsecond)
	m.ObserveRequest(jute.OpGetData, 0, 300*time.Microsecond)
	m.ObserveRequest(jute.OpCreate, int32(zkerr.NodeExists), 2*time.Millisecond)
	m.ObserveRequest(jute.OpPing, 0, 10*time.Microsecond)
	m.ObserveRequest(555, -77, time.Millisecond)
	m.AddBytesReceived(100)
	m.AddBytesSent(40)
	m.AddBytesSent(2)
	m.ObserveFsync(130 * time.Microsecond)
	m.ObserveCommitBatch(7)
	m.ObserveCommitBatch(1)
	m.ObserveSnapshot(20 * time.Millisecond)
	m.SetStateFunc(func() State {
		return State{Role: "leader", Connections: 3, GlobalSessions: 2, Znodes: 8, Watches: 4,
			Ephemerals: 2, ApproxDataSize: 61, Outstanding: 1, LastZxid: 0x100000005, QuorumSize: 3,
			SyncedFollowers: 2}
	})

	f := gather(t, m)
	for _, name := range []string{
		"zabkit_request_duration_seconds", "zabkit_requests_total", "zabkit_client_bytes_received_total",
		"zabkit_client_bytes_sent_total", "zabkit_fsync_duration_seconds", "zabkit_commit_batch_size",
		"zabkit_snapshot_duration_seconds", "num_alive_connections", "global_sessions", "znode_count",
		"watch_count", "ephemerals_count", "approximate_data_size", "outstanding_requests", "quorum_size",
		"synced_followers", "zabkit_last_zxid", "zabkit_server_role", "go_goroutines", "process_open_fds",
	} {
		if f[name] == nil {
			t.Errorf("family %s missing", name)
		}
	}
	req := f["zabkit_requests_total"]
	if v := find(t, req, "op", "getData", "result", "ok").GetCounter().GetValue(); v != 2 {
		t.Errorf("getData ok = %v", v)
	}
	if v := find(t, req, "op", "create", "result", "nodeexists").GetCounter().GetValue(); v != 1 {
		t.Errorf("create nodeexists = %v", v)
	}
	if v := find(t, req, "op", "other", "result", "other").GetCounter().GetValue(); v != 1 {
		t.Errorf("unknown op/err = %v", v)
	}
	if n := len(req.GetMetric()); n != 4 {
		t.Errorf("%d request series, want 4 (only seen pairs are exported)", n)
	}
	lat := f["zabkit_request_duration_seconds"]
	for class, want := range map[string]uint64{"read": 2, "write": 1, "other": 2} {
		if got := find(t, lat, "class", class).GetHistogram().GetSampleCount(); got != want {
			t.Errorf("class %s count %d, want %d", class, got, want)
		}
	}
	if s := find(t, lat, "class", "read").GetHistogram().GetSampleSum(); s < 499e-6 || s > 501e-6 {
		t.Errorf("read latency sum %v, want 500µs", s)
	}
	if v := f["zabkit_client_bytes_sent_total"].GetMetric()[0].GetCounter().GetValue(); v != 42 {
		t.Errorf("bytes sent %v", v)
	}
	if h := f["zabkit_commit_batch_size"].GetMetric()[0].GetHistogram(); h.GetSampleCount() != 2 || h.GetSampleSum() != 8 {
		t.Errorf("batch histogram %v", h)
	}
	if v := f["znode_count"].GetMetric()[0].GetGauge().GetValue(); v != 8 {
		t.Errorf("znode_count %v", v)
	}
	if v := f["zabkit_last_zxid"].GetMetric()[0].GetGauge().GetValue(); v != float64(0x100000005) {
		t.Errorf("last zxid %v", v)
	}
	if r := f["zabkit_server_role"].GetMetric(); len(r) != 1 || labels(r[0])["role"] != "leader" {
		t.Errorf("role %v", r)
	}

	m.SetStateFunc(nil)
	if f := gather(t, m); f["znode_count"] != nil {
		t.Error("state gauges exported without a state func")
	}
}

func TestPrometheusText(t *testing.T) {
	m := New(WithoutRuntimeCollectors())
	m.ObserveRequest(jute.OpSetData, int32(zkerr.BadVersion), time.Millisecond)
	m.SetStateFunc(func() State { return State{Role: "standalone", Znodes: 5} })
	srv := httptest.NewServer(promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		`zabkit_requests_total{op="setData",result="badversion"} 1`,
		`zabkit_request_duration_seconds_count{class="write"} 1`,
		"znode_count 5",
		`zabkit_server_role{role="standalone"} 1`,
		"# TYPE zabkit_fsync_duration_seconds histogram",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(body, "go_goroutines") {
		t.Error("runtime collectors present despite WithoutRuntimeCollectors")
	}
}

func TestOpTables(t *testing.T) {
	seen := map[int]int32{}
	for op, name := range opNames {
		i := opIndex(op)
		if i == opOther {
			t.Errorf("op %d (%s) falls into other", op, name)
		}
		if prev, dup := seen[i]; dup {
			t.Errorf("ops %d and %d share index %d", prev, op, i)
		}
		seen[i] = op
		if opLabels[i] != name {
			t.Errorf("label for %d = %q, want %q", op, opLabels[i], name)
		}
	}
	for _, op := range []int32{-12, 23, 99, 108, 1 << 30, -1 << 30} {
		if opIndex(op) != opOther {
			t.Errorf("op %d should be other", op)
		}
	}
	codes := []zkerr.Code{zkerr.OK, zkerr.SystemError, zkerr.RuntimeInconsistency, zkerr.DataInconsistency,
		zkerr.ConnectionLoss, zkerr.MarshallingError, zkerr.Unimplemented, zkerr.OperationTimeout,
		zkerr.BadArguments, zkerr.UnknownSession, zkerr.NewConfigNoQuorum, zkerr.ReconfigInProgress,
		zkerr.APIError, zkerr.NoNode, zkerr.NoAuth, zkerr.BadVersion, zkerr.NoChildrenForEphemerals,
		zkerr.NodeExists, zkerr.NotEmpty, zkerr.SessionExpired, zkerr.InvalidCallback, zkerr.InvalidACL,
		zkerr.AuthFailed, zkerr.SessionMoved, zkerr.NotReadOnly, zkerr.EphemeralOnLocalSession,
		zkerr.NoWatcher, zkerr.RequestTimeout, zkerr.ReconfigDisabled, zkerr.SessionClosedRequireSASL,
		zkerr.QuotaExceeded, zkerr.ThrottledOp}
	eseen := map[int]zkerr.Code{}
	for _, c := range codes {
		i := errIndex(int32(c))
		if i == errOther {
			t.Errorf("code %v falls into other", c)
		}
		if prev, dup := eseen[i]; dup {
			t.Errorf("codes %v and %v share index %d", prev, c, i)
		}
		eseen[i] = c
	}
	for _, e := range []int32{1, -21, -99, -132, -1 << 30} {
		if errIndex(e) != errOther {
			t.Errorf("err %d should be other", e)
		}
	}
	if classOf(jute.OpMulti) != 1 || classOf(jute.OpMultiRead) != 0 || classOf(jute.OpPing) != 2 || classOf(jute.OpCheck) != 1 {
		t.Error("op classes wrong")
	}
}

func TestRecordingDoesNotAllocate(t *testing.T) {
	m := New(WithoutRuntimeCollectors())
	m.ObserveRequest(jute.OpGetData, 0, time.Millisecond) // resolve the cell
	cases := map[string]func(){
		"ObserveRequest":     func() { m.ObserveRequest(jute.OpGetData, 0, 150*time.Microsecond) },
		"AddBytesReceived":   func() { m.AddBytesReceived(64) },
		"AddBytesSent":       func() { m.AddBytesSent(64) },
		"ObserveFsync":       func() { m.ObserveFsync(100 * time.Microsecond) },
		"ObserveCommitBatch": func() { m.ObserveCommitBatch(12) },
	}
	for name, f := range cases {
		if a := testing.AllocsPerRun(200, f); a != 0 {
			t.Errorf("%s allocates %.1f per call", name, a)
		}
	}
}

func TestNilMetricsIsNoop(t *testing.T) {
	var m *Metrics
	m.ObserveRequest(1, 0, time.Millisecond)
	m.AddBytesReceived(1)
	m.AddBytesSent(1)
	m.ObserveFsync(time.Millisecond)
	m.ObserveCommitBatch(1)
	m.ObserveSnapshot(time.Second)
	m.SetStateFunc(func() State { return State{} })
	if m.Registry() != nil || m.Register(prometheus.NewCounter(prometheus.CounterOpts{Name: "x", Help: "x"})) != nil {
		t.Error("nil Metrics should have no registry")
	}
}

func TestRegisterStoreCollector(t *testing.T) {
	m := New(WithoutRuntimeCollectors())
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "zabkit_store_pebble_l0_files", Help: "test"})
	g.Set(4)
	if err := m.Register(g); err != nil {
		t.Fatal(err)
	}
	var are prometheus.AlreadyRegisteredError
	if err := m.Register(g); !errors.As(err, &are) {
		t.Errorf("second Register err = %v", err)
	}
	if f := gather(t, m)["zabkit_store_pebble_l0_files"]; f == nil || f.GetMetric()[0].GetGauge().GetValue() != 4 {
		t.Errorf("store collector not exposed: %v", f)
	}
}

func TestConcurrentRecording(t *testing.T) {
	m := New(WithoutRuntimeCollectors())
	ops := []int32{jute.OpCreate, jute.OpGetData, jute.OpExists, jute.OpDelete}
	errs := []int32{0, int32(zkerr.NoNode), int32(zkerr.NodeExists)}
	const workers, per = 8, 300
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				m.ObserveRequest(ops[(i+w)%len(ops)], errs[i%len(errs)], time.Microsecond)
				m.AddBytesReceived(1)
			}
		}(w)
	}
	stop := make(chan struct{})
	scraped := make(chan struct{})
	go func() { // scrape while recording
		defer close(scraped)
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = m.Registry().Gather()
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-scraped
	var total float64
	for _, s := range gather(t, m)["zabkit_requests_total"].GetMetric() {
		total += s.GetCounter().GetValue()
	}
	if total != workers*per {
		t.Errorf("counted %v requests, want %d", total, workers*per)
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New(WithoutRuntimeCollectors())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int32(0)
		for pb.Next() {
			i++
			m.ObserveRequest(i&7, 0, 120*time.Microsecond)
		}
	})
}

func BenchmarkObserveRequestSerial(b *testing.B) {
	m := New(WithoutRuntimeCollectors())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.ObserveRequest(jute.OpGetData, 0, 120*time.Microsecond)
	}
}

func BenchmarkAddBytes(b *testing.B) {
	m := New(WithoutRuntimeCollectors())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.AddBytesReceived(64)
	}
}
