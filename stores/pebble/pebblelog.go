package pebble

import (
	"fmt"
	"log/slog"
)

// pebbleLogger sends Pebble's messages to slog: its chatty informational
// messages (WAL replay, compactions) at debug level, errors at error level.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
}

// Fatalf is how Pebble reports what it cannot continue from, including a
// failed WAL write or sync during a commit. Pebble's own logger exits the
// process; this one panics with a fatalError instead, so that commit can
// return the failure to the node, which stops acknowledging and exits with
// its store-fault code. In Pebble's background goroutines the panic still
// ends the process, as Pebble expects.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg, "fatal", true)
	panic(fatalError(msg))
}

// fatalError is the panic value of pebbleLogger.Fatalf.
type fatalError string

func (e fatalError) Error() string { return string(e) }
