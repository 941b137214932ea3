package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSummarizeMath(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	r := summarize("set", 4, 100, &h, 3, 2*time.Second, "boom")
	if r.Ops != 1000 || r.Errors != 3 || r.Clients != 4 || r.ValueSize != 100 {
		t.Fatalf("counters wrong: %+v", r)
	}
	if r.OpsPerSec != 500 {
		t.Fatalf("ops/s = %v, want 500", r.OpsPerSec)
	}
	if r.DurationSec != 2 {
		t.Fatalf("duration = %v", r.DurationSec)
	}
	// Upper-bound quantiles: within one bucket (<0.8%) above the exact value.
	check := func(name string, got, exact float64) {
		t.Helper()
		if got < exact || got > exact*(1+1.0/subCount)+0.001 {
			t.Errorf("%s = %v, exact %v", name, got, exact)
		}
	}
	check("p50", r.LatencyUs.P50, 500)
	check("p90", r.LatencyUs.P90, 900)
	check("p99", r.LatencyUs.P99, 990)
	check("p999", r.LatencyUs.P999, 999)
	if r.LatencyUs.Max != 1000 || r.LatencyUs.Mean != 500.5 {
		t.Errorf("max/mean = %v/%v, want 1000/500.5", r.LatencyUs.Max, r.LatencyUs.Mean)
	}
	if z := summarize("get", 1, 0, &Histogram{}, 0, 0, ""); z.OpsPerSec != 0 || z.LatencyUs.P99 != 0 {
		t.Errorf("empty summary: %+v", z)
	}
}

// The JSON field names are a contract with scripts/bench-vs-zookeeper.sh.
func TestJSONFieldNames(t *testing.T) {
	ms := 12.5
	rep := &Report{
		Server:      "h:1",
		Results:     []Result{{Workload: "get", Ops: 7, OpsPerSec: 3.5, LatencyUs: Latency{P50: 1, P99: 2}}},
		Load:        &LoadResult{Root: "/r", Znodes: 9},
		ReadyMs:     &ms,
		ServerRSSKB: 42,
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	res := m["results"].([]any)[0].(map[string]any)
	for _, k := range []string{"workload", "clients", "value_size", "ops", "errors", "duration_sec", "ops_per_sec", "latency_us"} {
		if _, ok := res[k]; !ok {
			t.Errorf("result lacks %q: %s", k, buf.String())
		}
	}
	lat := res["latency_us"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "p999", "max", "mean"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency_us lacks %q", k)
		}
	}
	if m["server_rss_kb"].(float64) != 42 || m["ready_ms"].(float64) != 12.5 {
		t.Errorf("top-level fields wrong: %s", buf.String())
	}
	if m["load"].(map[string]any)["znodes"].(float64) != 9 {
		t.Errorf("load wrong: %s", buf.String())
	}

	var tbl bytes.Buffer
	writeTable(&tbl, rep)
	for _, want := range []string{"get", "loaded 9 znodes under /r", "first successful read after 12.5 ms", "server RSS: 42 KiB"} {
		if !strings.Contains(tbl.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tbl.String())
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	got, err := parseVmRSS("Name:\tjava\nVmPeak:\t  100 kB\nVmRSS:\t   123456 kB\nThreads: 3\n")
	if err != nil || got != 123456 {
		t.Fatalf("got %d, %v", got, err)
	}
	if _, err := parseVmRSS("Name: x\n"); err == nil {
		t.Fatal("missing VmRSS must be an error")
	}
	if _, err := parseVmRSS("VmRSS: 12 MB\n"); err == nil {
		t.Fatal("unexpected unit must be an error")
	}
}

func TestReadRSSSelf(t *testing.T) {
	rss, err := readRSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Fatalf("rss of self = %d, %v", rss, err)
	}
}

func TestParseFlags(t *testing.T) {
	var errb bytes.Buffer
	cfg, err := parseFlags([]string{"-server", "a:1, b:2", "-workload", "all", "-clients", "3", "-ops", "10"}, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Servers) != 2 || cfg.Servers[1] != "b:2" || cfg.Clients != 3 || cfg.Ops != 10 {
		t.Fatalf("cfg = %+v", cfg)
	}
	if _, err := parseFlags([]string{"-workload", "nope"}, &errb); err == nil {
		t.Fatal("unknown workload accepted")
	}
	if _, err := parseFlags([]string{"-clients", "0"}, &errb); err == nil {
		t.Fatal("zero clients accepted")
	}
	cfg, err = parseFlags([]string{"-failover-pid", "12", "-server", "a:1,b:2", "-writers", "a:1,,b:2,c:3"}, &errb)
	if err != nil || cfg.FailoverPID != 12 || len(cfg.Writers) != 3 || cfg.Writers[2] != "c:3" || cfg.ProbeInterval != 5*time.Millisecond {
		t.Fatalf("failover flags: %+v, %v", cfg, err)
	}
	if _, err := parseFlags([]string{"-failover-pid", "12", "-probe-interval", "0s"}, &errb); err == nil {
		t.Fatal("zero probe interval accepted")
	}
}

func TestLoadPath(t *testing.T) {
	if got := LoadPath("/zl/", 1234567); got != "/zl/b01234/n1234567" {
		t.Fatalf("LoadPath = %q", got)
	}
}
