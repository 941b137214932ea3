// Command benchserver is a standalone zabkit server with the bbolt store
// compiled in, for one purpose: measuring what the plugin boundary costs.
// `zabkit bench` against it and against `zabkit server` with
// store.external running this module's plugin compares the same engine in
// process and out of process (README's Plugins section has the numbers).
//
//	go run ./benchserver --config zoo.cfg
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/zabkit/zabkit/cmd/zabkit/confload"
	"github.com/zabkit/zabkit/core/node"

	"example.com/bboltstore/boltstore"
)

func main() {
	res, err := confload.Load(os.Args[1:], os.Environ())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg := res.Config
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	st, err := boltstore.Open(boltstore.Options{Dir: filepath.Join(cfg.DataDir, "bbolt"), Sync: cfg.ForceSync})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	n, err := node.Open(cfg, st, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := n.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
