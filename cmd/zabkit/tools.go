package main

import "github.com/zabkit/zabkit/cmd/zabkit/bench"

// The user tools register themselves here so main.go stays a dispatcher.
func init() {
	commands["bench"] = bench.Main
}
