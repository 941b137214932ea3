package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/zabkit/zabkit/cmd/zabkit/confload"
	"github.com/zabkit/zabkit/core/admin"
	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/metrics"
	"github.com/zabkit/zabkit/core/node"
	"github.com/zabkit/zabkit/core/registry"
)

func init() { commands["server"] = serverMain }

// Exit codes of `zabkit server`.
const (
	exitOK         = 0
	exitRuntime    = 1 // failed while running (listener, recovery)
	exitConfig     = 2 // bad configuration or arguments
	exitStoreFault = 3 // the store failed: durability unknown, stopped acknowledging
	// exitPluginFailed: a store plugin (store.external) kept failing past
	// its restart budget, or came back as another database; or an
	// election plugin (election.external) kept failing past its budget.
	exitPluginFailed = 4
)

func serverMain(args []string) int {
	res, err := confload.Load(args, os.Environ())
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Printf("usage: zabkit server [--config FILE] [flags]\n\n%s", confload.Usage())
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "zabkit server: %v\n", err)
		return exitConfig
	}
	cfg := res.Config
	log := newLogger(cfg.Log)
	slog.SetDefault(log)
	for _, w := range res.Warnings {
		log.Warn(w)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if os.Getenv("GOGC") == "" {
		go tuneGC(ctx)
	}

	// ZABKIT_CPUPROFILE=FILE records a CPU profile until shutdown, for
	// `go tool pprof`.
	if path := os.Getenv("ZABKIT_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		} else {
			log.Warn("cannot write CPU profile", "path", path, "err", err)
		}
	}

	// Bind the client port first, as ZooKeeper does: clients that connect
	// while the database is being recovered wait in the accept queue and
	// are served the moment recovery ends, instead of backing off.
	ln, err := net.Listen("tcp", cfg.ClientAddr())
	if err != nil {
		log.Error("cannot listen", "addr", cfg.ClientAddr(), "err", err)
		return exitRuntime
	}
	store, err := registry.LoadStore(registry.Context{Context: ctx, Logger: log, Config: cfg}, cfg.Store)
	if err != nil {
		log.Error("cannot open store", "module", cfg.Store.Module, "err", err)
		return exitConfig
	}
	if !store.Capabilities().Durable {
		log.Warn("the store is NOT durable: acknowledged writes can be lost on a crash", "module", cfg.Store.Module, "forceSync", cfg.ForceSync)
	}
	// A store that can be restarted (store.external: a plugin process)
	// takes the node down with it when it fails, comes back within its
	// restart budget, and the node recovers from it and rejoins; past the
	// budget the server exits with exitPluginFailed.
	rs, restartable := store.(restartableStore)
	for {
		code, storeFailed := runNode(ctx, res, log, ln, store, rs)
		if !restartable || !storeFailed || ctx.Err() != nil {
			return code
		}
		log.Error("the store failed: restarting it, then recovering the node from it", "module", cfg.Store.Module)
		if err := rs.Restart(ctx); err != nil {
			if ctx.Err() != nil {
				return exitOK
			}
			log.Error("giving up: the store plugin cannot be brought back; exiting", "module", cfg.Store.Module,
				"exit_code", exitPluginFailed, "err", err)
			_ = store.Close()
			return exitPluginFailed
		}
		if ln, err = net.Listen("tcp", cfg.ClientAddr()); err != nil {
			log.Error("cannot listen", "addr", cfg.ClientAddr(), "err", err)
			_ = store.Close()
			return exitRuntime
		}
	}
}

// restartableStore is a store that can fail without the server exiting
// (plugins/host.Store): Failed is closed when it fails, Restart brings it
// back on the same database or says why it cannot.
type restartableStore interface {
	Failed() <-chan struct{}
	Restart(ctx context.Context) error
}

// runNode recovers a node from store and serves until ctx ends or the node
// stops. storeFailed says the store failed (the node stopped acknowledging
// and left its role); a restartable store is then restarted and runNode
// called again.
func runNode(ctx context.Context, res *confload.Result, log *slog.Logger, ln net.Listener, store ext.Store, rs restartableStore) (code int, storeFailed bool) {
	cfg := res.Config
	defer ln.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// watch is this run's store: closed if it fails (not when the node
	// closes it at the end of the run).
	var watch <-chan struct{}
	failed := func() bool {
		select {
		case <-watch:
			return true
		default:
			return false
		}
	}
	// electionLost is closed if the election plugin was given up on.
	var electionLost <-chan struct{}
	if rs != nil {
		// The node stops at once when the store fails, whether or not a
		// write notices: a leader must not go on leading on a dead store.
		watch = rs.Failed()
		go func() {
			select {
			case <-watch:
				cancel()
			case <-runCtx.Done():
			}
		}()
	}
	n, err := node.Open(cfg, store, log)
	if err != nil {
		log.Error("cannot recover the database", "err", err)
		if failed() {
			return exitRuntime, true
		}
		_ = store.Close()
		return exitRuntime, false
	}
	if cfg.Distributed() {
		rctx := registry.Context{Context: runCtx, Logger: log, Config: cfg}
		tr, err := registry.LoadAs[ext.Transport](rctx, registry.Transport, cfg.Transport)
		if err != nil {
			log.Error("cannot load the quorum transport", "module", cfg.Transport.Module, "err", err)
			_ = store.Close()
			return exitConfig, false
		}
		el, err := registry.LoadAs[ext.ElectionFactory](rctx, registry.Election, cfg.Election)
		if err != nil {
			log.Error("cannot load the election algorithm", "module", cfg.Election.Module, "err", err)
			_ = store.Close()
			return exitConfig, false
		}
		n.Transport, n.Election = tr, el
		// An election plugin (election.external) given up on past its
		// restart budget stops the node: exit code 4.
		if gu, ok := el.(interface{ Failed() <-chan struct{} }); ok {
			electionLost = gu.Failed()
			go func() {
				select {
				case <-electionLost:
					log.Error("giving up: the election plugin cannot be brought back; exiting", "module", cfg.Election.Module, "exit_code", exitPluginFailed)
					cancel()
				case <-runCtx.Done():
				}
			}()
		}
		log.Info("ensemble member", "myid", cfg.MyID, "servers", len(cfg.Servers),
			"transport", cfg.Transport.Module, "election", cfg.Election.Module)
	}
	m := metrics.New()
	n.Metrics = m
	n.Listener = ln
	src := node.AdminSource{N: n}
	wl := admin.ParseWhitelist(strings.Join(cfg.FourLetterWhitelist, ","), cfg.ReadOnlyMode)
	n.IsFourLetterWord = admin.IsFourLetterWord
	n.FourLetterWord = func(word string, c net.Conn) {
		if err := admin.Respond(c, c, word, src, wl); err != nil {
			log.Debug("four-letter word", "word", word, "err", err)
		}
	}
	if err := n.Listen(); err != nil {
		log.Error("cannot listen", "err", err)
		_ = store.Close()
		return exitRuntime, false
	}
	if cfg.Admin.Enabled {
		h := admin.Handler(src, admin.WithCommandURL(cfg.Admin.CommandURL), admin.WithMetrics(m.Registry()))
		adminDone := make(chan struct{})
		defer func() { cancel(); <-adminDone }() // free the port before a restart binds it again
		go func() {
			defer close(adminDone)
			if err := admin.ListenAndServe(runCtx, cfg.AdminAddr(), h); err != nil {
				log.Error("admin server not available", "addr", cfg.AdminAddr(), "err", err)
			}
		}()
	}
	log.Info("zabkit starting", "version", admin.Version(), "client", n.Server().Addr().String(),
		"store", cfg.Store.Module, "dataDir", cfg.DataDir, "config", res.Format+" "+res.File)
	err = n.Run(runCtx)
	select {
	case <-electionLost:
		return exitPluginFailed, false
	default:
	}
	if err != nil {
		log.Error("server stopped", "err", err)
		if errors.Is(err, node.ErrStoreFailure) {
			return exitStoreFault, true
		}
		return exitRuntime, failed()
	}
	if failed() {
		return exitStoreFault, true
	}
	log.Info("server stopped")
	return exitOK, false
}

func newLogger(c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
