package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// compare implements -compare DIR, the side-by-side table of
// scripts/bench-vs-zookeeper.sh.
//
// DIR holds the JSON reports of one run of the script, named
// <target>-<name>[.<trial>].json (target is zabkit or zookeeper; trial
// numbers the -failover-pid reports of one round), either directly in DIR
// (one round) or in subdirectories r1, r2, ... (one per round of
// --rounds). Each metric gets one value per round; with several rounds a
// cell shows the median and the range. Failover figures (median, p90, max
// of the trials' milliseconds) are computed per round, from the trials
// that wrote something; trials that failed are counted on their own row.

// metric is one row of the table.
type metric struct {
	key    string // sort key
	label  string
	higher bool // a higher value is better
	vals   map[string][]float64
}

// table collects the rows of a comparison.
type table struct {
	rows    map[string]*metric
	targets []string
	rounds  int
}

// reportFile is a parsed file name.
type reportFile struct {
	target, name string
	trial        bool
}

// parseReportName splits "<target>-<name>[.<trial>].json". The target is
// everything before the first '-'.
func parseReportName(base string) (reportFile, bool) {
	stem, ok := strings.CutSuffix(base, ".json")
	if !ok {
		return reportFile{}, false
	}
	target, name, ok := strings.Cut(stem, "-")
	if !ok || target == "" || name == "" {
		return reportFile{}, false
	}
	f := reportFile{target: target, name: name}
	if n, trial, ok := strings.Cut(name, "."); ok {
		if _, err := strconv.Atoi(strings.TrimPrefix(trial, "t")); err != nil {
			return reportFile{}, false
		}
		f.name, f.trial = n, true
	}
	return f, true
}

// roundDirs lists DIR/r1, DIR/r2, ... in numeric order, or DIR itself when
// there are none.
func roundDirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	type rd struct {
		n    int
		path string
	}
	var rs []rd
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "r") {
			continue
		}
		n, err := strconv.Atoi(e.Name()[1:])
		if err != nil {
			continue
		}
		rs = append(rs, rd{n, filepath.Join(dir, e.Name())})
	}
	if len(rs) == 0 {
		return []string{dir}, nil
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].n < rs[j].n })
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.path
	}
	return out, nil
}

// loadComparison reads every round under dir.
func loadComparison(dir string) (*table, error) {
	rounds, err := roundDirs(dir)
	if err != nil {
		return nil, err
	}
	t := &table{rows: map[string]*metric{}, rounds: len(rounds)}
	for _, rd := range rounds {
		if err := t.addRound(rd); err != nil {
			return nil, err
		}
	}
	if len(t.rows) == 0 {
		return nil, fmt.Errorf("no reports (<target>-<name>.json) in %s", dir)
	}
	return t, nil
}

func (t *table) addRound(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	// Trials of one round, per target and name.
	trials := map[[2]string][]*FailoverResult{}
	for _, e := range ents {
		f, ok := parseReportName(e.Name())
		if e.IsDir() || !ok {
			continue
		}
		rep, err := readReport(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		if f.trial {
			if rep.Failover != nil {
				k := [2]string{f.target, f.name}
				trials[k] = append(trials[k], rep.Failover)
			}
			continue
		}
		t.addReport(f, rep)
	}
	for k, fs := range trials {
		t.addFailover(k[0], fs)
	}
	return nil
}

func readReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &rep, nil
}

// workloadRank orders workloads as the script's table always has.
func workloadRank(w string) int {
	order := []string{"set", "create", "get", "mixed", "create-delete"}
	if i := slices.Index(order, w); i >= 0 {
		return i
	}
	return len(order)
}

// add records one value of target for the current round.
func (t *table) add(target, key, label string, higher bool, v float64) {
	m := t.rows[label]
	if m == nil {
		m = &metric{key: key, label: label, higher: higher, vals: map[string][]float64{}}
		t.rows[label] = m
	}
	m.vals[target] = append(m.vals[target], v)
	if !slices.Contains(t.targets, target) {
		t.targets = append(t.targets, target)
	}
}

func (t *table) addReport(f reportFile, rep *Report) {
	for _, r := range rep.Results {
		k := fmt.Sprintf("1-%07d-%d-%s", 9999999-r.Clients, workloadRank(r.Workload), r.Workload)
		p := fmt.Sprintf("%s %dc ", r.Workload, r.Clients)
		t.add(f.target, k+"-0", p+"ops/s", true, r.OpsPerSec)
		t.add(f.target, k+"-1", p+"p50 us", false, r.LatencyUs.P50)
		t.add(f.target, k+"-2", p+"p99 us", false, r.LatencyUs.P99)
		t.add(f.target, k+"-3", p+"errors", false, float64(r.Errors))
	}
	const mib = 1024
	switch f.name {
	case "startup":
		if rep.ServerRSSKB > 0 {
			t.add(f.target, "2-0", "idle RSS MiB", false, float64(rep.ServerRSSKB)/mib)
		}
	case "load":
		if l := rep.Load; l != nil {
			n := l.Znodes + l.Errors
			t.add(f.target, "2-1", fmt.Sprintf("load %d znodes creates/s", n), true, l.OpsPerSec)
			t.add(f.target, "2-2", fmt.Sprintf("RSS with %d znodes MiB", n), false, float64(rep.ServerRSSKB)/mib)
		}
	case "restart":
		if rep.ReadyMs != nil {
			t.add(f.target, "2-3", "restart-to-first-read ms", false, *rep.ReadyMs)
		}
		if rep.ServerRSSKB > 0 {
			t.add(f.target, "2-4", "RSS after restart MiB", false, float64(rep.ServerRSSKB)/mib)
		}
	}
}

// addFailover summarizes one round's trials of one target.
func (t *table) addFailover(target string, fs []*FailoverResult) {
	var ms []float64
	failed := 0
	for _, f := range fs {
		if f.Error != "" {
			failed++
			continue
		}
		ms = append(ms, f.Ms)
	}
	t.add(target, "3-0", "failover trials", true, float64(len(ms)))
	t.add(target, "3-1", "failover failed trials", false, float64(failed))
	if len(ms) == 0 {
		return
	}
	t.add(target, "3-2", "failover median ms", false, median(ms))
	t.add(target, "3-3", "failover p90 ms", false, nearestRank(ms, 0.90))
	t.add(target, "3-4", "failover max ms", false, slices.Max(ms))
}

// median of vs (the mean of the middle two for an even count).
func median(vs []float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// nearestRank is the q-quantile by the nearest-rank method: the smallest
// value with at least q of the values at or below it.
func nearestRank(vs []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(vs))
	if len(s) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// writeComparison prints the table: per target the value (median and
// range over rounds), then the ratio of the first target's median to the
// second's and which is better.
func writeComparison(w io.Writer, t *table) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	targets := slices.Clone(t.targets)
	// zabkit first, then the reference, then anything else by name.
	rank := func(s string) int {
		switch s {
		case "zabkit":
			return 0
		case "zookeeper":
			return 1
		}
		return 2
	}
	slices.SortFunc(targets, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	rows := make([]*metric, 0, len(t.rows))
	for _, m := range t.rows {
		rows = append(rows, m)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].key < rows[j].key })

	cells := make([][]string, len(rows))
	lw, cw := len("metric"), 14
	for i, m := range rows {
		lw = max(lw, len(m.label))
		for _, tg := range targets {
			c := cell(m.vals[tg])
			cells[i] = append(cells[i], c)
			cw = max(cw, len([]rune(c)))
		}
	}
	if t.rounds > 1 {
		fmt.Fprintf(bw, "%d rounds: median (min-max) over rounds\n", t.rounds)
	}
	fmt.Fprintf(bw, "%-*s", lw, "metric")
	for _, tg := range targets {
		fmt.Fprintf(bw, "  %*s", cw, tg)
	}
	ratioHead := "ratio"
	if len(targets) >= 2 {
		ratioHead = targets[0] + "/" + targets[1]
	}
	fmt.Fprintf(bw, "  %9s  better\n", ratioHead)
	for i, m := range rows {
		fmt.Fprintf(bw, "%-*s", lw, m.label)
		for _, c := range cells[i] {
			fmt.Fprintf(bw, "  %s%s", strings.Repeat(" ", cw-len([]rune(c))), c)
		}
		ratio, better := "-", ""
		if len(targets) >= 2 {
			a, b := m.vals[targets[0]], m.vals[targets[1]]
			if len(a) > 0 && len(b) > 0 {
				ma, mb := median(a), median(b)
				if mb != 0 {
					ratio = fmt.Sprintf("%.2f", ma/mb)
				}
				if ma != mb {
					better = targets[1]
					if (ma > mb) == m.higher {
						better = targets[0]
					}
				}
			}
		}
		fmt.Fprintf(bw, "  %9s  %s\n", ratio, better)
	}
}

// cell is one value, or the median and range of several (one value when
// they print the same).
func cell(vs []float64) string {
	switch len(vs) {
	case 0:
		return "-"
	case 1:
		return human(vs[0])
	}
	lo, hi := human(slices.Min(vs)), human(slices.Max(vs))
	if lo == hi {
		return lo
	}
	return fmt.Sprintf("%s (%s-%s)", human(median(vs)), lo, hi)
}

// human prints integers and values from 1,000 up with thousands
// separators and no decimals, and smaller fractions with one.
func human(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	if math.Abs(v) < 999.95 && v != math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
