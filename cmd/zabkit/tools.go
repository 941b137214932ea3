package main

import (
	"github.com/zabkit/zabkit/cmd/zabkit/bench"
	"github.com/zabkit/zabkit/cmd/zabkit/cli"
)

// The user tools register themselves here so main.go stays a dispatcher.
func init() {
	commands["cli"] = cli.Main
	commands["bench"] = bench.Main
}
