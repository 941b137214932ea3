// Package nettest has the loopback helpers the socket transports' tests
// share: free ports, and a client that sends junk and waits to be hung up
// on.
package nettest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
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

// FreeAddr returns a loopback "host:port" that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
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
