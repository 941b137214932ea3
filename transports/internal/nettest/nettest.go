// Package nettest has the loopback helpers the socket transports' tests
// share: free ports, and a client that sends junk and waits to be hung up
// on.
package nettest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Logger is the transports' logger in tests: silent, unless
// ZABKIT_TEST_LOG=debug (or info, warn) asks for their logs on stdout.
func Logger() *slog.Logger {
	v := os.Getenv("ZABKIT_TEST_LOG")
	var level slog.Level
	if v == "" || level.UnmarshalText([]byte(v)) != nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
}

// FreeAddr returns a loopback "host:port" that was free a moment ago. It
// picks below the kernel's ephemeral range: a port found free there cannot
// be taken by some process's outgoing connection before the caller binds
// it (JVMs started by the interop tests open many).
func FreeAddr(t testing.TB) string {
	t.Helper()
	low := ephemeralLow()
	for range 1000 {
		port := 10000 + rand.IntN(low-10000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return l.Addr().String()
	}
	t.Fatalf("no free port below %d", low)
	return ""
}

// ephemeralLow is the start of the kernel's ephemeral port range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				return n
			}
		}
	}
	return 32768
}

// HangupTimeout bounds how long Junk waits for the server to hang up.
var HangupTimeout = 20 * time.Second

// Junk connects to addr, writes junk, and returns nil once the server has
// closed the connection (EOF or reset). It is an error if the server keeps
// the connection open. The write side stays open, so a server must reject
// the junk for what it is, not for ending early.
func Junk(addr string, junk []byte) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(HangupTimeout))
	if _, err := c.Write(junk); err != nil {
		return nil // the server hung up while we wrote
	}
	_, err = io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%s kept a connection that sent %d bytes of junk", addr, len(junk))
	}
	return nil
}
