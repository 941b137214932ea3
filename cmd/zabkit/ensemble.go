package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/zabkit/zabkit/cmd/zabkit/confload"
	"github.com/zabkit/zabkit/core/admin"
	"github.com/zabkit/zabkit/core/registry"
)

func init() { commands["ensemble"] = ensembleMain }

// transportEnv is the environment spelling of transport.module, which
// `zabkit ensemble` reads as the default of --transport.
const transportEnv = "ZABKIT_TRANSPORT_MODULE"

// stopGrace is how long members get to stop after SIGTERM before SIGKILL.
const stopGrace = 10 * time.Second

const ensembleUsage = `usage: zabkit ensemble [flags]

Runs a replicated ensemble on this machine (loopback only) for trying it
out: one ` + "`zabkit server`" + ` child process per member, each with a config file
written to --dir (nodeN.yaml) and a data directory beside it (nodeN/, with
its myid). Member N listens on client port --client-port+N-1, quorum port
--quorum-port+N-1 and election port --election-port+N-1. Running again on
the same --dir restarts the ensemble on its data; the config files are
rewritten from the flags each time.

Ctrl-C (or SIGTERM) stops every member. A member that dies is reported and
the others keep running; restart it by hand with
  zabkit server --config <dir>/nodeN.yaml

flags:
`

func ensembleMain(args []string) int {
	fs := pflag.NewFlagSet("zabkit ensemble", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	p := &ensemblePlan{}
	fs.IntVar(&p.Voters, "nodes", 3, "voting members (participants)")
	fs.IntVar(&p.Observers, "observers", 0, "observers (non-voting members; they get the highest ids)")
	dir := fs.String("dir", filepath.Join("data", "ensemble"), "directory for the members' config files and data")
	fs.IntVar(&p.ClientPort, "client-port", 2181, "client port of node1; node N gets this + N-1")
	fs.IntVar(&p.QuorumPort, "quorum-port", 2888, "quorum (follower-to-leader) port of node1")
	fs.IntVar(&p.ElectionPort, "election-port", 3888, "leader election port of node1")
	fs.IntVar(&p.AdminPort, "admin-port", 0, "HTTP admin port of node1 (0 = admin server off)")
	transport := fs.String("transport", "transport.tcp", "quorum transport module (default from $"+transportEnv+" when set)")
	sets := fs.StringArray("set", nil, "any config key for every member: --set key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Print(ensembleUsage + fs.FlagUsages())
			return exitOK
		}
		fmt.Fprintf(os.Stderr, "zabkit ensemble: %v\n\n%s%s", err, ensembleUsage, fs.FlagUsages())
		return exitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "zabkit ensemble: unexpected arguments %q\n", fs.Args())
		return exitConfig
	}
	p.Transport = *transport
	if v := os.Getenv(transportEnv); v != "" && !fs.Changed("transport") {
		p.Transport = v
	}
	for _, kv := range *sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "zabkit ensemble: --set %q: want key=value\n", kv)
			return exitConfig
		}
		p.Extra = append(p.Extra, [2]string{strings.TrimSpace(k), v})
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "zabkit ensemble: --dir: %v\n", err)
		return exitConfig
	}
	p.Dir = abs
	return runEnsemble(p, os.Stdout, os.Stderr)
}

// memberEnv is the members' environment: ours, minus the transport
// variable, which would override the transport written into every config
// file (a member restarted by hand, without it, must still match the
// others).
func memberEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, transportEnv+"=")
	})
}

// runEnsemble writes the plan, starts the members and supervises them
// until SIGINT or SIGTERM. Events go to out, members' logs to logs.
func runEnsemble(p *ensemblePlan, out io.Writer, logs *os.File) int {
	fail := func(code int, format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "zabkit ensemble: "+format+"\n", args...)
		return code
	}
	if err := p.validate(); err != nil {
		return fail(exitConfig, "%v", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fail(exitRuntime, "cannot find the zabkit binary: %v", err)
	}
	if err := p.CheckPorts(); err != nil {
		return fail(exitRuntime, "%v (another ensemble or ZooKeeper running? choose other ports with --client-port, --quorum-port, --election-port)", err)
	}
	if err := p.Write(); err != nil {
		return fail(exitRuntime, "%v", err)
	}
	env := memberEnv()
	if err := checkMemberConfigs(p, env); err != nil {
		return fail(exitConfig, "%v", err)
	}

	// Signals are caught before the first member starts, so a Ctrl-C
	// during start-up still stops the ones already running.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	var ms []*member
	for i := range p.Total() {
		m, err := startMember(self, p.Name(i), p.ClientAddr(i), p.ConfigPath(i), env, logs)
		if err != nil {
			stopMembers(ms, stopGrace, nil)
			return fail(exitRuntime, "%v", err)
		}
		ms = append(ms, m)
	}
	printBanner(out, p, ms)
	return superviseEnsemble(out, p, ms, sigs)
}

// checkMemberConfigs loads each generated file as `zabkit server` will,
// and checks that the modules it names exist, so a mistake (a bad --set,
// an unknown transport) is one error here, not one dying child per member.
func checkMemberConfigs(p *ensemblePlan, env []string) error {
	for i := range p.Total() {
		res, err := confload.Load([]string{"--config", p.ConfigPath(i)}, env)
		if err != nil {
			return err
		}
		c := res.Config
		for _, id := range []string{c.Store.Module, c.Transport.Module, c.Election.Module} {
			if _, err := registry.Lookup(id); err != nil {
				return err
			}
		}
	}
	return nil
}

func printBanner(out io.Writer, p *ensemblePlan, ms []*member) {
	fmt.Fprintf(out, "zabkit ensemble: voters %d, observers %d, on %s, %s, in %s\n",
		p.Voters, p.Observers, ensembleHost, p.Transport, p.Dir)
	for i, m := range ms {
		role := "voter"
		if p.IsObserver(i) {
			role = "observer"
		}
		fmt.Fprintf(out, "  %-6s pid %-7d %-8s client %s  quorum %d  election %d  config %s\n",
			m.name, m.Pid(), role, m.addr, p.QuorumPort+i, p.ElectionPort+i, p.ConfigPath(i))
	}
	fmt.Fprintf(out, "connect string: %s\n", p.ConnectString())
	fmt.Fprintf(out, "  zabkit cli -server %s\n", p.ConnectString())
	fmt.Fprintf(out, "  printf srvr | nc %s %d    # Mode: leader, follower or observer\n", ensembleHost, p.ClientPort)
	fmt.Fprintf(out, "  kill <pid> stops one member; restart it with zabkit server --config %s\n",
		filepath.Join(p.Dir, "nodeN.yaml"))
	fmt.Fprintf(out, "Ctrl-C stops the ensemble. Waiting for every member to serve...\n")
}

// pollEvery is how often members are asked for their mode.
const pollEvery = 250 * time.Millisecond

// superviseEnsemble reports when the ensemble first serves, each change
// of leader, and each member that exits, until a signal stops it all.
func superviseEnsemble(out io.Writer, p *ensemblePlan, ms []*member, sigs <-chan os.Signal) int {
	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()
	exited := make([]bool, len(ms))
	ready, leader := false, ""
	started := time.Now()
	for {
		select {
		case sig := <-sigs:
			fmt.Fprintf(out, "zabkit ensemble: %v: stopping the members\n", sig)
			force := make(chan struct{})
			go func() { <-sigs; close(force) }() // a second Ctrl-C kills at once
			stopMembers(ms, stopGrace, force)
			for _, m := range ms {
				fmt.Fprintf(out, "  %s (pid %d): %v\n", m.name, m.Pid(), exitText(m.err))
			}
			return exitOK
		case <-ticker.C:
		}
		live := 0
		for i, m := range ms {
			if !m.Exited() {
				live++
				continue
			}
			if !exited[i] {
				exited[i] = true
				fmt.Fprintf(out, "zabkit ensemble: %s (pid %d) exited: %v; the others keep running. Restart it with: zabkit server --config %s\n",
					m.name, m.Pid(), exitText(m.err), p.ConfigPath(i))
			}
		}
		if live == 0 {
			fmt.Fprintf(out, "zabkit ensemble: every member has exited\n")
			return exitRuntime
		}
		modes := make([]admin.Mode, len(ms))
		serving := 0
		now := ""
		for i, m := range ms {
			modes[i] = m.Mode()
			switch modes[i] {
			case admin.ModeLeader:
				now = m.name
				serving++
			case admin.ModeFollower, admin.ModeObserver, admin.ModeStandalone:
				serving++
			}
		}
		if !ready && serving == live {
			ready, leader = true, now
			ticker.Reset(time.Second) // from here on only leader changes are news
			fmt.Fprintf(out, "zabkit ensemble: ready in %v; %s\n", time.Since(started).Round(10*time.Millisecond), roles(ms, modes))
			continue
		}
		if ready && now != "" && now != leader {
			leader = now
			fmt.Fprintf(out, "zabkit ensemble: new leader; %s\n", roles(ms, modes))
		}
	}
}

// roles names the leader, then every other live member's mode:
// "leader node2 (pid 7), node1 follower (pid 6), node3 follower (pid 8)".
func roles(ms []*member, modes []admin.Mode) string {
	lead := "no leader"
	var others []string
	for i, m := range ms {
		switch {
		case m.Exited():
		case modes[i] == admin.ModeLeader:
			lead = fmt.Sprintf("leader %s (pid %d)", m.name, m.Pid())
		case modes[i] == "":
			others = append(others, fmt.Sprintf("%s not serving (pid %d)", m.name, m.Pid()))
		default:
			others = append(others, fmt.Sprintf("%s %s (pid %d)", m.name, modes[i], m.Pid()))
		}
	}
	return strings.Join(append([]string{lead}, others...), ", ")
}

// exitText says how a process ended.
func exitText(err error) string {
	if err == nil {
		return "exited 0"
	}
	return err.Error()
}
