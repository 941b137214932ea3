// Command zabkit is a ZooKeeper-compatible coordination server and its
// tools: `server`, `ensemble`, `cli`, `bench`, `dump`, `verify`, `convert`, `version`.
package main

import (
	"fmt"
	"os"

	"github.com/zabkit/zabkit/cmd/zabkit/offline"
)

const usage = `usage: zabkit <command> [flags]

commands:
  server    run a server (default config: standalone, 127.0.0.1:2181, ./data)
  ensemble  run a local replicated ensemble on loopback to try it out (3 members)
  cli       interactive ZooKeeper shell (zkCli-like)
  bench     benchmark any ZooKeeper-protocol server
  dump      print a txn log or snapshot file (ZooKeeper's or zabkit's)
  verify    check a stopped node's data directory (checksums, zxids, digests)
  convert   copy a node's state from one store module to another
  version   print the version
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	handler, ok := commands[cmd]
	if !ok {
		if cmd == "-h" || cmd == "--help" || cmd == "help" {
			fmt.Print(usage)
			return
		}
		fmt.Fprintf(os.Stderr, "zabkit: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	os.Exit(handler(args))
}

// commands maps a subcommand to its entry point, which returns the exit
// code. Each subcommand registers itself from its own file.
var commands = map[string]func(args []string) int{
	"version": func([]string) int { fmt.Println("zabkit", Version); return 0 },
	"dump":    offline.DumpMain,
	"verify":  offline.VerifyMain,
	"convert": offline.ConvertMain,
}

// Version is the zabkit version, reported by `version` and four-letter words.
var Version = "0.1.0"
