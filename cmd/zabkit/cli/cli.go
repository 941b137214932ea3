// Package cli implements `zabkit cli`, a zkCli.sh-like shell for any
// ZooKeeper-protocol server, built on github.com/go-zookeeper/zk.
//
// Output and error messages follow Apache ZooKeeper 3.8's zkCli so scripts
// written against it keep working: `ls` prints "[a, b]", stat blocks print
// "cZxid = 0x…" lines with java.util.Date timestamps, failures print e.g.
// "Node does not exist: /x" and exit 1.
//
// go-zookeeper v1.0.4 has no addWatch or whoAmI; those two commands go
// through a second, raw session (see side.go) that carries the same addauth
// credentials.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zabkit/zabkit/core/proto/jute"
)

// Exit codes, as zkCli uses them.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitNoCommand = 127
)

// Main is the entry point of `zabkit cli`.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return Run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// Run runs the shell: one command from args, or else an interactive loop
// over the lines of stdin.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("zabkit cli", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "127.0.0.1:2181", "comma-separated host:port list")
	timeout := fs.Duration("timeout", 30*time.Second, "session timeout, also the connect deadline")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	sh := &shell{
		ctx:     ctx,
		out:     &lockedWriter{w: stdout},
		errw:    &lockedWriter{w: stderr},
		timeout: *timeout,
	}
	defer sh.close()
	if err := sh.connect(*server); err != nil {
		fmt.Fprintln(sh.errw, err)
		return exitError
	}
	if fs.NArg() > 0 {
		return sh.exec(fs.Args())
	}
	return sh.repl(stdin, isTerminal(stdin))
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// lockedWriter lets watch notifications, printed from other goroutines,
// interleave with command output only at whole writes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// shell holds one session and what the commands need around it.
type shell struct {
	ctx     context.Context
	out     io.Writer
	errw    io.Writer
	timeout time.Duration

	servers []string
	conn    *zk.Conn
	creds   []credential
	side    *side
	cmdNo   int
}

// connect opens a session to servers and waits until it is granted.
func (sh *shell) connect(servers string) error {
	var list []string
	for _, s := range strings.Split(servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	if len(list) == 0 {
		return errors.New("no server given")
	}
	ready := make(chan struct{}, 1)
	cb := func(ev zk.Event) {
		if ev.Type == zk.EventSession && ev.State == zk.StateHasSession {
			select {
			case ready <- struct{}{}:
			default:
			}
		}
	}
	conn, _, err := zk.Connect(list, sh.timeout, zk.WithLogger(quietLogger{}), zk.WithLogInfo(false), zk.WithEventCallback(cb))
	if err != nil {
		return fmt.Errorf("connect %s: %w", servers, err)
	}
	t := time.NewTimer(sh.timeout)
	defer t.Stop()
	select {
	case <-ready:
	case <-t.C:
		conn.Close()
		return fmt.Errorf("could not connect to %s within %v", servers, sh.timeout)
	case <-sh.ctx.Done():
		conn.Close()
		return sh.ctx.Err()
	}
	sh.closeSessions()
	sh.servers, sh.conn, sh.creds = list, conn, nil
	return nil
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

func (sh *shell) closeSessions() {
	if sh.side != nil {
		sh.side.close()
		sh.side = nil
	}
	if sh.conn != nil {
		sh.conn.Close()
		sh.conn = nil
	}
}

func (sh *shell) close() { sh.closeSessions() }

// sideSession returns the raw side session, dialling it on first use.
func (sh *shell) sideSession() (*side, error) {
	if sh.side != nil && sh.side.alive() {
		return sh.side, nil
	}
	if sh.side != nil {
		sh.side.close()
		sh.side = nil
	}
	s, err := dialSide(sh.ctx, sh.servers, sh.timeout, sh.creds, func(ev jute.WatcherEvent) {
		writeEvent(sh.out, ev.Type, ev.State, ev.Path)
	})
	if err != nil {
		return nil, err
	}
	sh.side = s
	return s, nil
}

func (sh *shell) prompt() string {
	state := "CONNECTING"
	if sh.conn != nil && sh.conn.State() == zk.StateHasSession {
		state = "CONNECTED"
	}
	srv := ""
	if sh.conn != nil {
		srv = sh.conn.Server()
	}
	return fmt.Sprintf("[zk: %s(%s) %d] ", srv, state, sh.cmdNo)
}

// repl runs commands from the lines of in until EOF or quit. The exit code
// is that of the last command, as when zkCli reads a script.
func (sh *shell) repl(in io.Reader, interactive bool) int {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	code := exitOK
	for {
		if interactive {
			fmt.Fprint(sh.out, sh.prompt())
		}
		if !sc.Scan() {
			break
		}
		toks, err := tokenize(sc.Text())
		if err != nil {
			fmt.Fprintln(sh.errw, err)
			code = exitError
			continue
		}
		if len(toks) == 0 {
			continue
		}
		if toks[0] == "quit" || toks[0] == "exit" {
			break
		}
		sh.cmdNo++
		code = sh.exec(toks)
		if sh.ctx.Err() != nil {
			break
		}
	}
	return code
}

// usageError carries a command's usage line; zkCli prints it and fails.
type usageError struct{ usage string }

func (u usageError) Error() string { return u.usage }

// exec runs one tokenized command and returns its exit code.
func (sh *shell) exec(toks []string) int {
	name := toks[0]
	c, ok := commandByName[name]
	if !ok {
		sh.help(sh.errw)
		fmt.Fprintf(sh.errw, "Command not found: %s\n", name)
		return exitNoCommand
	}
	opts, pos, err := parseArgs(c, toks[1:])
	if err == nil && (len(pos) < c.minArgs || len(pos) > c.maxArgs) {
		err = usageError{c.usage}
	}
	if err == nil {
		err = c.run(sh, opts, pos)
	}
	if err != nil {
		fmt.Fprintln(sh.errw, err)
		return exitError
	}
	return exitOK
}

// options are a command's parsed flags: present booleans map to "", flags
// with a value to that value.
type options map[byte]string

func (o options) has(f byte) bool { _, ok := o[f]; return ok }

// parseArgs separates -x flags (anywhere on the line, as commons-cli lets
// zkCli do) from positional arguments. A token that is not one of the
// command's flags is positional, so data such as "-1" still works.
func parseArgs(c *command, args []string) (options, []string, error) {
	opts := options{}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) == 2 && a[0] == '-' {
			if strings.IndexByte(c.boolFlags, a[1]) >= 0 {
				opts[a[1]] = ""
				continue
			}
			if strings.IndexByte(c.valueFlags, a[1]) >= 0 {
				if i+1 >= len(args) {
					return nil, nil, usageError{c.usage}
				}
				opts[a[1]] = args[i+1]
				i++
				continue
			}
		}
		pos = append(pos, a)
	}
	return opts, pos, nil
}

func (sh *shell) help(w io.Writer) {
	fmt.Fprintln(w, "ZooKeeper -server host:port cmd args")
	for _, c := range commands {
		fmt.Fprintf(w, "\t%s\n", c.usage)
	}
}
