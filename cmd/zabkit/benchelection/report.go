package benchelection

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints one block per ensemble size and fault: a row per
// variant, then the significance notes against the baseline.
func WriteTable(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "election A/B: %d trials per cell, seed %d, variants %s (baseline %s); simulated, virtual time\n",
		r.Trials, r.Seed, strings.Join(r.Variants, ","), r.Variants[0])
	for _, n := range r.Nodes {
		for _, f := range r.Faults {
			fmt.Fprintf(w, "\n%d nodes, %s\n", n, f)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "variant\telections\tttl p50\tp90\tp99\tmax\tmsgs/el\trounds/el\tunavail mean\tp99\tnot conv\tdisrupted\tviolations\t")
			for _, v := range r.Variants {
				c := r.Cell(v, n, f)
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t\n", c.Variant, c.Elections,
					msStr(c.TTLP50), msStr(c.TTLP90), msStr(c.TTLP99), msStr(c.TTLMax), num(c.Messages, 1), num(c.Rounds, 2),
					msStr(c.UnavailMean), msStr(c.UnavailP99), c.NotConverged, c.Disrupted, c.Violations)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, cmp := range r.Comparisons {
				if cmp.Nodes == n && cmp.Fault == f {
					fmt.Fprintf(w, "  %s\n", cmp.Verdict)
				}
			}
			for _, v := range r.Variants {
				if c := r.Cell(v, n, f); c.FirstViolation != "" {
					fmt.Fprintf(w, "  SAFETY: %s: %s\n", v, c.FirstViolation)
				}
			}
		}
	}
	_, err := fmt.Fprintf(w, "\nttl: fault → a leader serving (quorum synced) that keeps serving for %v; unavail: time no leader with a quorum served;\n"+
		"msgs/el: election messages until then; rounds/el: LEADING decisions per election; not conv: no stable leader within %v\n",
		r.StableFor, r.Window)
	return err
}

func msStr(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
}

func num(v float64, prec int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// csvHeader is the CSV's columns: one row per cell, with the comparison
// against the baseline where there is one.
var csvHeader = []string{"variant", "nodes", "fault", "trials", "elections", "ttl_p50_ms", "ttl_p90_ms", "ttl_p99_ms", "ttl_max_ms",
	"msgs_per_election", "rounds_per_election", "unavail_mean_ms", "unavail_p99_ms", "not_converged", "disrupted", "violations",
	"median_diff_vs_baseline_ms", "ci95_low_ms", "ci95_high_ms"}

// WriteCSV writes the cells as CSV.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	for _, c := range r.Cells {
		diff := []string{"", "", ""}
		for _, cmp := range r.Comparisons {
			if cmp.Variant == c.Variant && cmp.Nodes == c.Nodes && cmp.Fault == c.Fault {
				diff = []string{f(cmp.DiffMs.Estimate), f(cmp.DiffMs.Low), f(cmp.DiffMs.High)}
			}
		}
		row := []string{c.Variant, strconv.Itoa(c.Nodes), string(c.Fault), strconv.Itoa(c.Trials), strconv.Itoa(c.Elections),
			f(c.TTLP50), f(c.TTLP90), f(c.TTLP99), f(c.TTLMax), f(c.Messages), f(c.Rounds), f(c.UnavailMean), f(c.UnavailP99),
			strconv.Itoa(c.NotConverged), strconv.Itoa(c.Disrupted), strconv.Itoa(c.Violations)}
		if err := cw.Write(append(row, diff...)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the report as indented JSON; statistics without data
// (NaN) are null.
func WriteJSON(w io.Writer, r *Report) error {
	type cell struct {
		*Cell
		TTLP50      *float64 `json:"ttl_p50_ms"`
		TTLP90      *float64 `json:"ttl_p90_ms"`
		TTLP99      *float64 `json:"ttl_p99_ms"`
		TTLMax      *float64 `json:"ttl_max_ms"`
		Messages    *float64 `json:"msgs_per_election"`
		Rounds      *float64 `json:"rounds_per_election"`
		UnavailMean *float64 `json:"unavail_mean_ms"`
		UnavailP99  *float64 `json:"unavail_p99_ms"`
	}
	type comparison struct {
		Comparison
		DiffMs struct {
			Estimate *float64 `json:"estimate"`
			Low      *float64 `json:"low"`
			High     *float64 `json:"high"`
		} `json:"median_diff_ms"`
	}
	out := struct {
		*Report
		Cells       []cell       `json:"cells"`
		Comparisons []comparison `json:"comparisons"`
	}{Report: r}
	for _, c := range r.Cells {
		out.Cells = append(out.Cells, cell{c, opt(c.TTLP50), opt(c.TTLP90), opt(c.TTLP99), opt(c.TTLMax),
			opt(c.Messages), opt(c.Rounds), opt(c.UnavailMean), opt(c.UnavailP99)})
	}
	for _, cmp := range r.Comparisons {
		x := comparison{Comparison: cmp}
		x.DiffMs.Estimate, x.DiffMs.Low, x.DiffMs.High = opt(cmp.DiffMs.Estimate), opt(cmp.DiffMs.Low), opt(cmp.DiffMs.High)
		out.Comparisons = append(out.Comparisons, x)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func opt(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}
