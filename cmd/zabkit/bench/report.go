package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Latency holds latency figures in microseconds (float, so sub-microsecond
// loopback reads are not rounded to zero).
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Result is one workload's measurement. Field names are part of the JSON
// contract used by scripts/bench-vs-zookeeper.sh; add fields, never rename.
type Result struct {
	Workload    string  `json:"workload"`
	Clients     int     `json:"clients"`
	ValueSize   int     `json:"value_size"`
	Ops         uint64  `json:"ops"`
	Errors      uint64  `json:"errors"`
	DurationSec float64 `json:"duration_sec"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	LatencyUs   Latency `json:"latency_us"`
	// FirstError is the first error message seen, for diagnosis.
	FirstError string `json:"first_error,omitempty"`
}

// Report is the whole JSON document `zabkit bench -json` prints.
type Report struct {
	Server  string   `json:"server"`
	Results []Result `json:"results,omitempty"`
	// Load is set by -load-znodes.
	Load *LoadResult `json:"load,omitempty"`
	// ReadyMs is set by -wait-read: milliseconds from -since (or from the
	// start of the bench process) until a getData succeeded.
	ReadyMs *float64 `json:"ready_ms,omitempty"`
	// ServerRSSKB is VmRSS of -pid at the end of the run, in KiB.
	ServerRSSKB int64 `json:"server_rss_kb,omitempty"`
	// Failover is set by -failover-pid.
	Failover *FailoverResult `json:"failover,omitempty"`
}

// LoadResult describes a -load-znodes run.
type LoadResult struct {
	Root        string  `json:"root"`
	Znodes      uint64  `json:"znodes"`
	Errors      uint64  `json:"errors"`
	DurationSec float64 `json:"duration_sec"`
	OpsPerSec   float64 `json:"ops_per_sec"`
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// summarize turns a merged histogram and counters into a Result.
func summarize(workload string, clients, valueSize int, h *Histogram, errs uint64, elapsed time.Duration, firstErr string) Result {
	r := Result{
		Workload:    workload,
		Clients:     clients,
		ValueSize:   valueSize,
		Ops:         h.Count(),
		Errors:      errs,
		DurationSec: elapsed.Seconds(),
		FirstError:  firstErr,
		LatencyUs: Latency{
			P50:  micros(h.Quantile(0.50)),
			P90:  micros(h.Quantile(0.90)),
			P99:  micros(h.Quantile(0.99)),
			P999: micros(h.Quantile(0.999)),
			Max:  micros(h.Max()),
			Mean: micros(h.Mean()),
		},
	}
	if elapsed > 0 {
		r.OpsPerSec = float64(r.Ops) / elapsed.Seconds()
	}
	return r
}

// writeTable prints the human-readable form of rep.
func writeTable(w io.Writer, rep *Report) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	if len(rep.Results) > 0 {
		fmt.Fprintf(bw, "%-14s %7s %10s %7s %11s %9s %9s %9s %9s %9s\n",
			"workload", "clients", "ops", "errors", "ops/s", "p50(us)", "p90(us)", "p99(us)", "p999(us)", "max(us)")
		for _, r := range rep.Results {
			fmt.Fprintf(bw, "%-14s %7d %10d %7d %11.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n",
				r.Workload, r.Clients, r.Ops, r.Errors, r.OpsPerSec,
				r.LatencyUs.P50, r.LatencyUs.P90, r.LatencyUs.P99, r.LatencyUs.P999, r.LatencyUs.Max)
			if r.FirstError != "" {
				fmt.Fprintf(bw, "  first error: %s\n", r.FirstError)
			}
		}
	}
	if l := rep.Load; l != nil {
		fmt.Fprintf(bw, "loaded %d znodes under %s in %.2fs (%.1f creates/s, %d errors)\n",
			l.Znodes, l.Root, l.DurationSec, l.OpsPerSec, l.Errors)
	}
	if rep.ReadyMs != nil {
		fmt.Fprintf(bw, "first successful read after %.1f ms\n", *rep.ReadyMs)
	}
	if f := rep.Failover; f != nil {
		if f.Error != "" {
			fmt.Fprintf(bw, "failover: killed %d, no write acknowledged: %s\n", f.KilledPID, f.Error)
		} else {
			fmt.Fprintf(bw, "failover: killed %d, first write acknowledged by %s after %.1f ms\n", f.KilledPID, f.Server, f.Ms)
		}
		fmt.Fprintf(bw, "  %d redials, %d stalled connections; background writers: %d ops, %d errors\n",
			f.Dials, f.Stalls, f.WriterOps, f.WriterErrors)
		fmt.Fprintf(bw, "  method: %s\n", f.Method)
	}
	if rep.ServerRSSKB > 0 {
		fmt.Fprintf(bw, "server RSS: %d KiB (%.1f MiB)\n", rep.ServerRSSKB, float64(rep.ServerRSSKB)/1024)
	}
}

func writeJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return nil
}

// readRSS returns VmRSS of process pid in KiB, from /proc/<pid>/status.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read rss of pid %d: %w", pid, err)
	}
	return parseVmRSS(string(b))
}

func parseVmRSS(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmRSS %q: %w", rest, err)
		}
		if len(f) > 1 && f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS unit %q, want kB", f[1])
		}
		return n, nil
	}
	return 0, fmt.Errorf("no VmRSS line in status")
}
