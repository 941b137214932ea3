package sdk

import (
	"io"
	"log/slog"
	"os"
)

// stderr is the plugin process's real standard error, taken before
// go-plugin's Serve redirects os.Stderr into its stdio stream. The host
// reads this file descriptor line by line: JSON lines with @level and
// @message become records of the server's log at that level, labelled
// with the plugin's name; anything else (a panic's trace) is logged too.
var stderr io.Writer = os.Stderr

// hclogTime is the @timestamp layout go-plugin's host parses.
const hclogTime = "2006-01-02T15:04:05.000000Z07:00"

// Logger returns a logger whose records the host shows in the server's
// log at their level, labelled with the plugin: use it (or the one in
// StoreRequest) for everything a plugin wants an operator to see.
// Level debug is on; the host's log level decides what is shown.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format(hclogTime))
			case slog.LevelKey:
				lvl, _ := a.Value.Any().(slog.Level)
				return slog.String("@level", levelName(lvl))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}

// levelName is hclog's spelling of a slog level.
func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
