package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/zabkit/zabkit/core/admin"
)

// member is one child `zabkit server` process of a local ensemble.
type member struct {
	name string
	addr string // client address, where srvr is asked
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and is reaped
	err  error         // Wait's result, valid after done
}

// prefixLines copies r to w line by line, each line prefixed, until r
// ends. A last line without a newline is still written, with one.
func prefixLines(w io.Writer, prefix string, r io.Reader) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n')
			}
			_, _ = w.Write(append([]byte(prefix), line...))
		}
		if err != nil {
			return
		}
	}
}

// startMember runs `<self> server --config cfg`, its output prefixed with
// "[name] " on logs. env is the child's whole environment. logs is a file
// because members write to it at once: each line is one Write, and an
// *os.File never interleaves two Writes.
func startMember(self, name, addr, cfg string, env []string, logs *os.File) (*member, error) {
	cmd := exec.Command(self, "server", "--config", cfg)
	cmd.Env = env
	cmd.SysProcAttr = memberProcAttr()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pw.Close() // the child holds its own copy; EOF comes when it exits
	m := &member{name: name, addr: addr, cmd: cmd, done: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		defer pr.Close()
		prefixLines(logs, "["+name+"] ", pr)
	}()
	go func() {
		m.err = cmd.Wait()
		// Its last lines (why it exited) come before the report of the exit.
		select {
		case <-copied:
		case <-time.After(time.Second): // a grandchild may hold the pipe
		}
		close(m.done)
	}()
	return m, nil
}

// Pid is the member's process id.
func (m *member) Pid() int { return m.cmd.Process.Pid }

// Exited says whether the process has ended.
func (m *member) Exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// Signal sends sig unless the process has already been reaped.
func (m *member) Signal(sig syscall.Signal) {
	if !m.Exited() {
		_ = m.cmd.Process.Signal(sig)
	}
}

// Mode asks the member for the role it serves in (srvr's "Mode:" line);
// "" while it does not serve (between elections, starting, gone).
func (m *member) Mode() admin.Mode {
	if m.Exited() {
		return ""
	}
	out, err := askWord(m.addr, "srvr", time.Second)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(out) {
		if mode, ok := strings.CutPrefix(line, "Mode: "); ok {
			return admin.Mode(strings.TrimSpace(mode))
		}
	}
	return ""
}

// askWord sends a four-letter word and reads the answer up to the close.
func askWord(addr, word string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, word); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		return "", err
	}
	return buf.String(), nil
}

// stopMembers asks every live member to stop with SIGTERM and waits; if
// any is still running after grace, or once force is closed, the rest get
// SIGKILL.
func stopMembers(ms []*member, grace time.Duration, force <-chan struct{}) {
	all := make(chan struct{})
	go func() {
		for _, m := range ms {
			<-m.done
		}
		close(all)
	}()
	for _, m := range ms {
		m.Signal(syscall.SIGTERM)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-all:
		return
	case <-timer.C:
	case <-force:
	}
	for _, m := range ms {
		m.Signal(syscall.SIGKILL)
	}
	<-all
}
