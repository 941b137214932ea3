package benchelection

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

// Config is one A/B run.
type Config struct {
	Variants []Variant // the first is the baseline
	Nodes    []int
	Faults   []Fault
	Trials   int // per variant, ensemble size and fault
	Seed     int64
	Workers  int // parallel simulations; default GOMAXPROCS
	Timing   Timing
	// Resamples is the bootstrap's rounds (default 2000).
	Resamples int
}

// Cell is the summary of one variant on one ensemble size and fault.
type Cell struct {
	Variant   string `json:"variant"`
	Nodes     int    `json:"nodes"`
	Fault     Fault  `json:"fault"`
	Trials    int    `json:"trials"`
	Elections int    `json:"elections"` // trials whose fault cost the leader
	// Time to a stable leader over the elections that converged, ms.
	TTLP50 float64 `json:"ttl_p50_ms"`
	TTLP90 float64 `json:"ttl_p90_ms"`
	TTLP99 float64 `json:"ttl_p99_ms"`
	TTLMax float64 `json:"ttl_max_ms"`
	// Mean election messages and rounds (LEADING decisions) per election.
	Messages float64 `json:"msgs_per_election"`
	Rounds   float64 `json:"rounds_per_election"`
	// Write unavailability per trial, ms.
	UnavailMean  float64 `json:"unavail_mean_ms"`
	UnavailP99   float64 `json:"unavail_p99_ms"`
	NotConverged int     `json:"not_converged"`
	Disrupted    int     `json:"disrupted"`
	Violations   int     `json:"violations"` // trials with a safety violation
	// FirstViolation is an example, for the report.
	FirstViolation string `json:"first_violation,omitempty"`

	ttl []float64 // ms, for the CDF and the bootstrap
}

// TTL returns the sample of times to leader, ms.
func (c *Cell) TTL() []float64 { return c.ttl }

// Comparison is a variant's median time to leader against the baseline's
// on one ensemble size and fault.
type Comparison struct {
	Variant  string   `json:"variant"`
	Baseline string   `json:"baseline"`
	Nodes    int      `json:"nodes"`
	Fault    Fault    `json:"fault"`
	DiffMs   Interval `json:"median_diff_ms"` // variant − baseline, 95% CI
	Verdict  string   `json:"verdict"`
}

// Report is a whole run's result.
type Report struct {
	Variants    []string      `json:"variants"`
	Nodes       []int         `json:"nodes"`
	Faults      []Fault       `json:"faults"`
	Trials      int           `json:"trials"`
	Seed        int64         `json:"seed"`
	Cells       []*Cell       `json:"cells"`
	Comparisons []Comparison  `json:"comparisons"`
	StableFor   time.Duration `json:"-"`
	Window      time.Duration `json:"-"`
	StableForMs float64       `json:"stable_for_ms"`
	WindowMs    float64       `json:"window_ms"`
	Elapsed     time.Duration `json:"-"`
	ElapsedSec  float64       `json:"elapsed_sec"`
}

// Cell finds the summary of one variant, size and fault.
func (r *Report) Cell(variant string, nodes int, fault Fault) *Cell {
	for _, c := range r.Cells {
		if c.Variant == variant && c.Nodes == nodes && c.Fault == fault {
			return c
		}
	}
	return nil
}

// trialSeed gives every (size, fault, trial) its own seed, the same for
// every variant, so the variants face the same draws where they can.
func trialSeed(base int64, nodes int, fault Fault, i int) int64 {
	h := uint64(base)*0x9e3779b97f4a7c15 ^ uint64(nodes)<<48 ^ uint64(i)
	for _, c := range fault {
		h = (h ^ uint64(c)) * 0x100000001b3
	}
	h ^= h >> 31
	return int64(h &^ (1 << 63))
}

// Run runs every trial on a pool of workers and summarises them. The
// report depends only on cfg (the workers write into fixed slots), so a
// seed reproduces it exactly.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Trials <= 0 || len(cfg.Variants) == 0 || len(cfg.Nodes) == 0 || len(cfg.Faults) == 0 {
		return nil, fmt.Errorf("nothing to run: %d trials, %d variants, %d sizes, %d faults",
			cfg.Trials, len(cfg.Variants), len(cfg.Nodes), len(cfg.Faults))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Resamples <= 0 {
		cfg.Resamples = 2000
	}
	var trials []Trial
	for _, n := range cfg.Nodes {
		for _, f := range cfg.Faults {
			for i := range cfg.Trials {
				for v := range cfg.Variants {
					trials = append(trials, Trial{Variant: v, Nodes: n, Fault: f, Seed: trialSeed(cfg.Seed, n, f, i)})
				}
			}
		}
	}
	start := time.Now()
	outs := make([]Outcome, len(trials))
	next := make(chan int)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(func() {
			for i := range next {
				tr := trials[i]
				outs[i] = RunTrial(cfg.Variants[tr.Variant].Factory, tr, cfg.Timing)
			}
		})
	}
feed:
	for i := range trials {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := summarise(cfg, trials, outs)
	rep.Elapsed = time.Since(start)
	rep.ElapsedSec = math.Round(rep.Elapsed.Seconds()*100) / 100
	return rep, nil
}

func summarise(cfg Config, trials []Trial, outs []Outcome) *Report {
	rep := &Report{Nodes: cfg.Nodes, Faults: cfg.Faults, Trials: cfg.Trials, Seed: cfg.Seed,
		StableFor: cfg.Timing.StableFor, Window: cfg.Timing.Window,
		StableForMs: ms(cfg.Timing.StableFor), WindowMs: ms(cfg.Timing.Window)}
	for _, v := range cfg.Variants {
		rep.Variants = append(rep.Variants, v.Name)
	}
	type key struct {
		v, n int
		f    Fault
	}
	cells := map[key]*Cell{}
	samples := map[key]*struct{ msgs, rounds, unavail []float64 }{}
	for _, n := range cfg.Nodes {
		for _, f := range cfg.Faults {
			for vi, v := range cfg.Variants {
				k := key{vi, n, f}
				cells[k] = &Cell{Variant: v.Name, Nodes: n, Fault: f}
				samples[k] = &struct{ msgs, rounds, unavail []float64 }{}
				rep.Cells = append(rep.Cells, cells[k])
			}
		}
	}
	for i, tr := range trials {
		k := key{tr.Variant, tr.Nodes, tr.Fault}
		c, s, o := cells[k], samples[k], outs[i]
		c.Trials++
		if len(o.Violations) > 0 {
			if c.Violations == 0 {
				c.FirstViolation = fmt.Sprintf("seed %d: %s", tr.Seed, o.Violations[0])
			}
			c.Violations++
		}
		if !o.Converged {
			c.NotConverged++
		}
		if o.FaultAt == 0 {
			continue
		}
		s.unavail = append(s.unavail, ms(o.Unavailable))
		if !o.Election {
			continue
		}
		c.Elections++
		if o.Converged {
			c.ttl = append(c.ttl, ms(o.TimeToLeader))
			s.msgs = append(s.msgs, float64(o.Messages))
			s.rounds = append(s.rounds, float64(o.Rounds))
			if o.Disrupted {
				c.Disrupted++
			}
		}
	}
	for k, c := range cells {
		s := samples[k]
		c.TTLP50, c.TTLP90, c.TTLP99, c.TTLMax = Percentile(c.ttl, 50), Percentile(c.ttl, 90), Percentile(c.ttl, 99), Percentile(c.ttl, 100)
		c.Messages, c.Rounds = Mean(s.msgs), Mean(s.rounds)
		c.UnavailMean, c.UnavailP99 = Mean(s.unavail), Percentile(s.unavail, 99)
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xb007))
	base := cfg.Variants[0].Name
	for _, n := range cfg.Nodes {
		for _, f := range cfg.Faults {
			b := cells[key{0, n, f}]
			for vi := 1; vi < len(cfg.Variants); vi++ {
				c := cells[key{vi, n, f}]
				d := BootstrapMedianDiff(c.ttl, b.ttl, cfg.Resamples, 0.95, rng)
				rep.Comparisons = append(rep.Comparisons, Comparison{Variant: c.Variant, Baseline: base, Nodes: n, Fault: f,
					DiffMs: d, Verdict: verdict(c.Variant, base, d)})
			}
		}
	}
	return rep
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// verdict says in words what the interval says.
func verdict(variant, base string, d Interval) string {
	switch {
	case math.IsNaN(d.Estimate):
		return "not enough elections to compare"
	case !d.Excludes(0):
		return fmt.Sprintf("no significant difference between %s and %s in median time to leader (%+.0f ms, 95%% CI %+.0f to %+.0f ms)",
			variant, base, d.Estimate, d.Low, d.High)
	case d.Estimate < 0:
		return fmt.Sprintf("%s is faster than %s by %.0f ms in median time to leader [95%% CI %.0f–%.0f ms]",
			variant, base, -d.Estimate, -d.High, -d.Low)
	default:
		return fmt.Sprintf("%s is slower than %s by %.0f ms in median time to leader [95%% CI %.0f–%.0f ms]",
			variant, base, d.Estimate, d.Low, d.High)
	}
}
