package benchelection

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

const usage = `usage: zabkit bench election [flags]

Runs leader elections A/B on the deterministic simulator (core/sim): every
variant × ensemble size × fault × trial is one simulated ensemble (the real
ZAB kernel, the variant as its election module) on virtual time; the same
seed reproduces the report exactly. A trial boots the ensemble, waits for
its first leader to serve, injects the fault 0.5–1.5 s later and measures
until a leader has served for the stability span.

faults:
  leader-kill  crash the serving leader (it restarts 0.5–3 s later)
  partition    cut off the leader alone or a random minority for 3 s
  flaky-link   one election link between survivors drops 30% of messages and
               delays the rest up to 200 ms, then the leader is killed

variants are election modules by name (default: every registered one, fle
first); options follow the name as :key=value, e.g. fle:finalizeWait=50ms.
The first variant is the baseline of the significance notes.

flags:
`

// Main is `zabkit bench election`.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, out, err := parse(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "zabkit bench election:", err)
		return 2
	}
	if os.Getenv("GOGC") == "" {
		// Simulations allocate many short-lived events; the heap stays
		// small, so trading memory for fewer collections cuts CPU by a
		// third. An explicit GOGC wins.
		debug.SetGCPercent(400)
	}
	rep, err := Run(ctx, *cfg)
	if err != nil {
		fmt.Fprintln(stderr, "zabkit bench election:", err)
		return 1
	}
	if err := WriteTable(stdout, rep); err != nil {
		fmt.Fprintln(stderr, "zabkit bench election:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d simulations in %.1f s (%d workers)\n", len(rep.Cells)*rep.Trials, rep.Elapsed.Seconds(), cfg.Workers)
	for _, o := range []struct {
		name  string
		write func(io.Writer, *Report) error
	}{{out.csv, WriteCSV}, {out.json, WriteJSON}, {out.plot, WritePlot}} {
		if o.name == "" {
			continue
		}
		if err := writeFile(o.name, rep, o.write); err != nil {
			fmt.Fprintln(stderr, "zabkit bench election:", err)
			return 1
		}
	}
	for _, c := range rep.Cells {
		if c.Violations > 0 {
			return 1 // a safety violation is a bug, whatever the variant
		}
	}
	return 0
}

type outputs struct{ csv, json, plot string }

func parse(args []string, stderr io.Writer) (*Config, outputs, error) {
	fs := flag.NewFlagSet("zabkit bench election", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var variants, nodes, faults string
	var out outputs
	cfg := Config{Timing: DefaultTiming()}
	fs.StringVar(&variants, "variants", "", "comma-separated election variants (default: every registered election module, fle first)")
	fs.StringVar(&nodes, "nodes", "3,5", "comma-separated ensemble sizes (voters)")
	fs.IntVar(&cfg.Trials, "trials", 200, "trials per variant, size and fault")
	fs.StringVar(&faults, "faults", "leader-kill,partition,flaky-link", "comma-separated faults")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of every random choice (same seed, same report)")
	fs.IntVar(&cfg.Workers, "workers", runtime.GOMAXPROCS(0), "simulations run in parallel")
	fs.DurationVar(&cfg.Timing.StableFor, "stable-for", cfg.Timing.StableFor, "how long a leader must serve to count as stable")
	fs.DurationVar(&cfg.Timing.Window, "window", cfg.Timing.Window, "how long after the fault a stable leader may take before the trial counts as not converged")
	fs.StringVar(&out.csv, "csv", "", "also write the table as CSV to this file")
	fs.StringVar(&out.json, "json", "", "also write the report as JSON to this file")
	fs.StringVar(&out.plot, "plot", "", "also draw the CDF of time to leader per variant as SVG to this file")
	if err := fs.Parse(args); err != nil {
		return nil, out, err
	}
	if fs.NArg() > 0 {
		return nil, out, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if specs := split(variants); len(specs) > 0 {
		vs, err := ParseVariants(specs, RegistryLoader)
		if err != nil {
			return nil, out, err
		}
		cfg.Variants = vs
	} else {
		// Every registered module that loads without options: one that
		// needs some (an external plugin's path) is named, not guessed.
		for _, spec := range DefaultSpecs() {
			vs, err := ParseVariants([]string{spec}, RegistryLoader)
			if err != nil {
				fmt.Fprintf(stderr, "zabkit bench election: skipping %s: %v\n", spec, err)
				continue
			}
			cfg.Variants = append(cfg.Variants, vs...)
		}
		if len(cfg.Variants) == 0 {
			return nil, out, errors.New("no election module loads without options; name variants with -variants")
		}
	}
	for _, s := range split(nodes) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 15 {
			return nil, out, fmt.Errorf("-nodes: %q is not a size from 1 to 15", s)
		}
		cfg.Nodes = append(cfg.Nodes, n)
	}
	for _, s := range split(faults) {
		f, err := ParseFault(s)
		if err != nil {
			return nil, out, err
		}
		cfg.Faults = append(cfg.Faults, f)
	}
	switch {
	case cfg.Trials < 1:
		return nil, out, errors.New("-trials must be at least 1")
	case cfg.Workers < 1:
		return nil, out, errors.New("-workers must be at least 1")
	case cfg.Timing.StableFor <= 0 || cfg.Timing.Window <= cfg.Timing.StableFor:
		return nil, out, errors.New("-stable-for must be > 0 and below -window")
	}
	return &cfg, out, nil
}

func split(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func writeFile(name string, rep *Report, write func(io.Writer, *Report) error) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if err := write(f, rep); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}
