// Package bench implements `zabkit bench`, a load generator for any
// ZooKeeper-protocol server (zabkit or Apache ZooKeeper), built on
// github.com/go-zookeeper/zk.
//
// Each simulated client owns its own session (one zk.Conn) and issues one
// request at a time, so the recorded latency is the latency of a single
// request rather than of a pipeline. Clients work in private keyspaces under
// a random root (/zabkit-bench-<hex>/c<i>), which is deleted at the end.
//
// Workloads (one request = one op):
//
//	create         create a new znode per op (value of -value-size bytes)
//	set            setData on one of the client's precreated znodes
//	get            getData on one of the client's precreated znodes
//	mixed          90% get / 10% set over the precreated znodes
//	create-delete  create a znode, then delete it (two ops)
//	all            each of the above in turn
//
// With -ops N the measurement ends after N steps across all clients (a
// create-delete step is two requests, so it reports 2N ops); otherwise it
// lasts -duration. Warm-up and set-up are never measured. ops counts
// successful requests; failed ones are counted in errors and make the exit
// status 1.
//
// -server takes a comma-separated list; client i tries the servers starting
// with the i-th (mod the list), so the sessions spread evenly over the
// members of an ensemble.
//
// Other modes: -load-znodes N fills a tree with N znodes as fast as
// pipelining allows and leaves them there (for memory/restart measurements);
// -wait-read PATH polls until a getData of PATH succeeds and reports how
// long that took; -pid N samples VmRSS of process N at the end;
// -failover-pid N kills process N (an ensemble's leader) with SIGKILL and
// times the first write acknowledged through -server (the survivors; see
// FailoverMethod for how); -compare DIR prints the side-by-side table of a
// directory of reports (scripts/bench-vs-zookeeper.sh lays it out).
//
// `zabkit bench election` is another tool: A/B runs of election
// algorithms on the deterministic simulator (package benchelection).
//
// JSON output (-json to stdout, -o FILE to a file) is a Report:
//
//	{
//	  "server": "127.0.0.1:2181",
//	  "results": [{
//	    "workload": "set", "clients": 64, "value_size": 100,
//	    "ops": 123456, "errors": 0, "duration_sec": 10.01, "ops_per_sec": 12333.2,
//	    "latency_us": {"p50": .., "p90": .., "p99": .., "p999": .., "max": .., "mean": ..},
//	    "first_error": "..."            (only when errors > 0)
//	  }],
//	  "load": {"root": "/zabkit-load", "znodes": N, "errors": 0,
//	           "duration_sec": .., "ops_per_sec": ..},   (only with -load-znodes)
//	  "ready_ms": 1234.5,              (only with -wait-read)
//	  "server_rss_kb": 123456,         (only with -pid)
//	  "failover": {"killed_pid": N, "ms": 287.1, "server": "...", "dials": ..,
//	               "stalls": .., "writer_ops": .., "writer_errors": ..,
//	               "method": "...", "error": "..."}   (only with -failover-pid)
//	}
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/cmd/zabkit/benchelection"
)

// Workloads lists the workloads `-workload all` runs, in order.
var Workloads = []string{"create", "set", "get", "mixed", "create-delete"}

// Config is the parsed command line.
type Config struct {
	Servers    []string
	Workload   string
	Clients    int
	Duration   time.Duration
	Ops        uint64
	ValueSize  int
	Znodes     int
	Warmup     time.Duration
	Timeout    time.Duration
	JSON       bool
	OutFile    string
	PID        int
	LoadZnodes uint64
	Root       string
	Inflight   int
	WaitRead   string
	Since      int64
	Verbose    bool
	// FailoverPID, Writers and ProbeInterval drive -failover-pid.
	FailoverPID   int
	Writers       []string
	ProbeInterval time.Duration
	// Compare is the directory -compare reads.
	Compare string
}

// Main is the entry point of `zabkit bench`.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return Run(ctx, args, os.Stdout, os.Stderr)
}

// Run parses args and runs the benchmark, writing the report to stdout.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "election" {
		return benchelection.Main(ctx, args[1:], stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "zabkit bench:", err)
		return 2
	}
	if cfg.Compare != "" {
		t, err := loadComparison(cfg.Compare)
		if err != nil {
			fmt.Fprintln(stderr, "zabkit bench:", err)
			return 1
		}
		writeComparison(stdout, t)
		return 0
	}
	rep, err := execute(ctx, cfg, stderr)
	if rep != nil {
		if cfg.JSON {
			if jerr := writeJSON(stdout, rep); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			writeTable(stdout, rep)
		}
		if cfg.OutFile != "" {
			if ferr := writeFile(cfg.OutFile, rep); ferr != nil && err == nil {
				err = ferr
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "zabkit bench:", err)
		return 1
	}
	for _, r := range rep.Results {
		if r.Errors > 0 {
			return 1
		}
	}
	if rep.Load != nil && rep.Load.Errors > 0 {
		return 1
	}
	if rep.Failover != nil && rep.Failover.Error != "" {
		return 1
	}
	return 0
}

func writeFile(name string, rep *Report) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if err := writeJSON(f, rep); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("zabkit bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	var servers, writers string
	var ops uint64
	fs.StringVar(&servers, "server", "127.0.0.1:2181", "comma-separated host:port list")
	fs.StringVar(&cfg.Workload, "workload", "set", "create|set|get|mixed|create-delete|all")
	fs.IntVar(&cfg.Clients, "clients", 64, "number of clients (one session each)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time per workload (ignored with -ops)")
	fs.Uint64Var(&ops, "ops", 0, "measure this many ops in total instead of a fixed duration")
	fs.IntVar(&cfg.ValueSize, "value-size", 100, "znode value size in bytes")
	fs.IntVar(&cfg.Znodes, "znodes", 1000, "znodes precreated for set/get/mixed (split across clients)")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "unmeasured warm-up time per workload")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "session timeout, also the connect deadline")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON instead of a table")
	fs.StringVar(&cfg.OutFile, "o", "", "also write the JSON report to this file")
	fs.IntVar(&cfg.PID, "pid", 0, "sample VmRSS of this process at the end")
	fs.Uint64Var(&cfg.LoadZnodes, "load-znodes", 0, "create this many znodes under -root (pipelined), keep them, and exit")
	fs.StringVar(&cfg.Root, "root", "/zabkit-load", "root for -load-znodes")
	fs.IntVar(&cfg.Inflight, "inflight", 64, "outstanding requests per connection for -load-znodes")
	fs.StringVar(&cfg.WaitRead, "wait-read", "", "poll until getData of this path succeeds, report the time, and exit")
	fs.Int64Var(&cfg.Since, "since", 0, "with -wait-read: measure from this Unix time in ns (default: bench start)")
	fs.IntVar(&cfg.FailoverPID, "failover-pid", 0, "kill -9 this process (an ensemble's leader), time the first write acknowledged through -server (the survivors), and exit")
	fs.StringVar(&writers, "writers", "", "with -failover-pid: comma-separated servers, one background writer session each, writing from -warmup before the kill to the end")
	fs.DurationVar(&cfg.ProbeInterval, "probe-interval", 5*time.Millisecond, "with -failover-pid: gap between probe writes and between redials")
	fs.StringVar(&cfg.Compare, "compare", "", "print the side-by-side table of the JSON reports in this directory (see scripts/bench-vs-zookeeper.sh) and exit")
	fs.BoolVar(&cfg.Verbose, "v", false, "log client library messages to stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	cfg.Ops = ops
	cfg.Servers = splitList(servers)
	cfg.Writers = splitList(writers)
	if len(cfg.Servers) == 0 {
		return nil, errors.New("-server is empty")
	}
	if cfg.Clients < 1 {
		return nil, errors.New("-clients must be >= 1")
	}
	if cfg.ValueSize < 0 {
		return nil, errors.New("-value-size must be >= 0")
	}
	if cfg.Znodes < 1 {
		cfg.Znodes = 1
	}
	if cfg.Inflight < 1 {
		cfg.Inflight = 1
	}
	if cfg.FailoverPID < 0 {
		return nil, errors.New("-failover-pid must be > 0")
	}
	if cfg.ProbeInterval <= 0 {
		return nil, errors.New("-probe-interval must be > 0")
	}
	if cfg.Workload != "all" && !validWorkload(cfg.Workload) {
		return nil, fmt.Errorf("unknown workload %q (want one of %s, all)", cfg.Workload, strings.Join(Workloads, ", "))
	}
	return &cfg, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func validWorkload(w string) bool {
	for _, k := range Workloads {
		if k == w {
			return true
		}
	}
	return false
}

func execute(ctx context.Context, cfg *Config, stderr io.Writer) (*Report, error) {
	rep := &Report{Server: strings.Join(cfg.Servers, ",")}
	logger := zk.Logger(discardLogger{})
	if cfg.Verbose {
		logger = stderrLogger{stderr}
	}
	var err error
	switch {
	case cfg.WaitRead != "":
		var ms float64
		ms, err = waitRead(ctx, cfg, logger)
		if err == nil {
			rep.ReadyMs = &ms
		}
	case cfg.FailoverPID > 0:
		rep.Failover, err = failover(ctx, cfg, logger)
		if err != nil && rep.Failover != nil {
			rep.Failover.Error = err.Error()
		}
	case cfg.LoadZnodes > 0:
		rep.Load, err = loadZnodes(ctx, cfg, logger)
	default:
		rep.Results, err = runWorkloads(ctx, cfg, logger, stderr)
	}
	if cfg.PID > 0 {
		rss, rerr := readRSS(cfg.PID)
		if rerr != nil && err == nil {
			err = rerr
		}
		rep.ServerRSSKB = rss
	}
	return rep, err
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

type stderrLogger struct{ w io.Writer }

func (l stderrLogger) Printf(f string, a ...any) { fmt.Fprintf(l.w, f+"\n", a...) }

// dial opens one session and waits until the server has granted it, so
// connection set-up never lands inside a measurement. Servers are tried in
// the order given (see orderedHosts).
func dial(ctx context.Context, servers []string, timeout time.Duration, logger zk.Logger) (*zk.Conn, error) {
	ready := make(chan struct{}, 1)
	cb := func(ev zk.Event) {
		if ev.Type == zk.EventSession && ev.State == zk.StateHasSession {
			select {
			case ready <- struct{}{}:
			default:
			}
		}
	}
	conn, _, err := zk.Connect(servers, timeout, zk.WithLogger(logger), zk.WithLogInfo(false), zk.WithEventCallback(cb),
		zk.WithHostProvider(&orderedHosts{}))
	if err != nil {
		return nil, fmt.Errorf("connect %v: %w", servers, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ready:
		return conn, nil
	case <-t.C:
		conn.Close()
		return nil, fmt.Errorf("connect %v: no session within %v", servers, timeout)
	case <-ctx.Done():
		conn.Close()
		return nil, ctx.Err()
	}
}

// dialAll opens n sessions in parallel, session i first trying
// servers[i mod len(servers)], so they spread evenly over the servers.
func dialAll(ctx context.Context, servers []string, n int, timeout time.Duration, logger zk.Logger) ([]*zk.Conn, error) {
	conns := make([]*zk.Conn, n)
	errs := make(chan error, n)
	for i := range conns {
		go func() {
			c, err := dial(ctx, rotate(servers, i), timeout, logger)
			conns[i] = c
			errs <- err
		}()
	}
	var first error
	for range conns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		closeAll(conns)
		return nil, first
	}
	return conns, nil
}

func closeAll(conns []*zk.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

func randomRoot() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "/zabkit-bench-" + hex.EncodeToString(b[:])
}
