package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseReportName(t *testing.T) {
	cases := []struct {
		in   string
		want reportFile
		ok   bool
	}{
		{"zabkit-set-64.json", reportFile{target: "zabkit", name: "set-64"}, true},
		{"zookeeper-failover.t07.json", reportFile{target: "zookeeper", name: "failover", trial: true}, true},
		{"zabkit-failover.3.json", reportFile{target: "zabkit", name: "failover", trial: true}, true},
		{"zabkit-failover.tx.json", reportFile{}, false},
		{"zabkit.log", reportFile{}, false},
		{"zabkit.json", reportFile{}, false},
		{"-set.json", reportFile{}, false},
	}
	for _, c := range cases {
		got, ok := parseReportName(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("parseReportName(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestMedianAndNearestRank(t *testing.T) {
	vs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	if got := median(vs); got != 5.5 {
		t.Errorf("median = %v, want 5.5", got)
	}
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("odd median = %v, want 2", got)
	}
	if got := nearestRank(vs, 0.9); got != 9 {
		t.Errorf("p90 of 1..10 = %v, want 9", got)
	}
	if got := nearestRank(vs, 1); got != 10 {
		t.Errorf("p100 = %v, want 10", got)
	}
	if got := nearestRank([]float64{7}, 0.5); got != 7 {
		t.Errorf("p50 of one = %v", got)
	}
	if vs[0] != 5 {
		t.Error("median sorted its input in place")
	}
}

func TestHuman(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 12.34: "12.3", 999.96: "1,000", 1234.5: "1,235", 26870: "26,870",
		1234567: "1,234,567", -2500: "-2,500", 20: "20",
	} {
		if got := human(v); got != want {
			t.Errorf("human(%v) = %q, want %q", v, got, want)
		}
	}
}

func writeReport(t *testing.T, dir, name string, rep *Report) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(dir, name), rep); err != nil {
		t.Fatal(err)
	}
}

// Two rounds of an ensemble run: throughput, single-client latency and
// failover trials, as the script lays them out.
func TestCompareRounds(t *testing.T) {
	dir := t.TempDir()
	res := func(wl string, clients int, ops, p50 float64) *Report {
		return &Report{Results: []Result{{Workload: wl, Clients: clients, OpsPerSec: ops, LatencyUs: Latency{P50: p50, P99: 2 * p50}}}}
	}
	for r, f := range map[string]float64{"r1": 1, "r2": 3} {
		rd := filepath.Join(dir, r)
		writeReport(t, rd, "zabkit-set-64.json", res("set", 64, 20000*f, 1000))
		writeReport(t, rd, "zookeeper-set-64.json", res("set", 64, 10000, 2000))
		writeReport(t, rd, "zabkit-get-64.json", res("get", 64, 50000, 500))
		writeReport(t, rd, "zookeeper-get-64.json", res("get", 64, 40000, 600))
		writeReport(t, rd, "zabkit-set-1.json", res("set", 1, 3000, 300))
		writeReport(t, rd, "zookeeper-set-1.json", res("set", 1, 2000, 500))
		// zabkit: 100..1000 ms and one failed trial; zookeeper: 10 x f s.
		for i := 1; i <= 10; i++ {
			ms := float64(100 * i)
			writeReport(t, rd, "zabkit-failover.t"+strconv.Itoa(i)+".json", &Report{Failover: &FailoverResult{Ms: ms}})
			writeReport(t, rd, "zookeeper-failover."+strconv.Itoa(i)+".json", &Report{Failover: &FailoverResult{Ms: 1000 * f}})
		}
		writeReport(t, rd, "zabkit-failover.t11.json", &Report{Failover: &FailoverResult{Error: "no write"}})
		writeReport(t, rd, "zabkit-failover.notes.json", &Report{Failover: &FailoverResult{Ms: 1}}) // not a trial: ignored
	}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"-compare", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	table := out.String()
	row := func(label string) string {
		for _, l := range strings.Split(table, "\n") {
			if rest, ok := strings.CutPrefix(l, label+"  "); ok {
				return strings.Join(strings.Fields(rest), " ")
			}
		}
		return ""
	}
	want := map[string]string{
		// 20,000 and 60,000 over the rounds: median 40,000; ratio 4.00.
		"set 64c ops/s": "40,000 (20,000-60,000) 10,000 4.00 zabkit",
		// Equal in every round: one value.
		"set 64c p50 us":         "1,000 2,000 0.50 zabkit",
		"get 64c ops/s":          "50,000 40,000 1.25 zabkit",
		"set 1c p50 us":          "300 500 0.60 zabkit",
		"failover trials":        "10 10 1.00",
		"failover failed trials": "1 0 - zookeeper",
		"failover median ms":     "550 2,000 (1,000-3,000) 0.28 zabkit",
		"failover p90 ms":        "900 2,000 (1,000-3,000) 0.45 zabkit",
		"failover max ms":        "1,000 2,000 (1,000-3,000) 0.50 zabkit",
	}
	for label, w := range want {
		if got := row(label); got != w {
			t.Errorf("row %q = %q, want %q\n%s", label, got, w, table)
		}
	}
	if !strings.HasPrefix(table, "2 rounds") {
		t.Errorf("no rounds header:\n%s", table)
	}
	// 64-client rows first (set, then get), then 1 client, then failover.
	pos := func(l string) int { return strings.Index(table, "\n"+l+"  ") }
	if !(pos("set 64c ops/s") < pos("get 64c ops/s") && pos("get 64c ops/s") < pos("set 1c ops/s") && pos("set 1c ops/s") < pos("failover trials")) {
		t.Errorf("rows out of order:\n%s", table)
	}
}

// One round in DIR itself, with the standalone memory rows.
func TestCompareSingleRoundMemory(t *testing.T) {
	dir := t.TempDir()
	ms := 320.0
	writeReport(t, dir, "zabkit-startup.json", &Report{ServerRSSKB: 12 * 1024})
	writeReport(t, dir, "zabkit-load.json", &Report{Load: &LoadResult{Znodes: 1000, OpsPerSec: 54000}, ServerRSSKB: 283 * 1024})
	writeReport(t, dir, "zabkit-restart.json", &Report{ReadyMs: &ms})
	writeReport(t, dir, "zookeeper-startup.json", &Report{ServerRSSKB: 64 * 1024})
	tbl, err := loadComparison(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	writeComparison(&out, tbl)
	s := out.String()
	for _, want := range []string{"idle RSS MiB", "load 1000 znodes creates/s", "54,000", "RSS with 1000 znodes MiB", "283", "restart-to-first-read ms", "320", "0.19"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "rounds") {
		t.Errorf("single round shows a rounds header:\n%s", s)
	}
	if _, err := loadComparison(t.TempDir()); err == nil {
		t.Error("empty directory must be an error")
	}
}
