package host

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// The plugin's output reaches the server's log by two roads, both
// labelled with the plugin's name:
//   - its real stderr, which go-plugin reads line by line and re-logs
//     through an hclog.Logger (JSON records at their level, anything else
//     as is): hclogTo gives go-plugin an hclog.Logger that writes JSON
//     lines into a slogWriter;
//   - what the plugin writes to os.Stderr after Serve (go-plugin carries
//     it over its stdio stream): a slogWriter at level INFO.

// hclogTo returns an hclog logger whose records land in log.
func hclogTo(log *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "plugin",
		Level:      hclogLevel(log),
		Output:     &slogWriter{log: log, json: true},
		JSONFormat: true,
	})
}

// hclogLevel is the most verbose level log shows, so go-plugin does not
// parse lines nobody will see.
func hclogLevel(log *slog.Logger) hclog.Level {
	ctx := context.Background()
	switch {
	case log.Enabled(ctx, slog.LevelDebug):
		return hclog.Debug
	case log.Enabled(ctx, slog.LevelInfo):
		return hclog.Info
	case log.Enabled(ctx, slog.LevelWarn):
		return hclog.Warn
	}
	return hclog.Error
}

// slogWriter turns written lines into slog records. With json set, a
// line is one hclog JSON record; otherwise it is a message of its own.
type slogWriter struct {
	log  *slog.Logger
	json bool

	mu  sync.Mutex
	buf []byte
}

func (w *slogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return len(p), nil
}

var _ io.Writer = (*slogWriter)(nil)

func (w *slogWriter) line(b []byte) {
	b = bytes.TrimRight(b, "\r")
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	if !w.json {
		w.log.Info(string(b))
		return
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		w.log.Info(string(b))
		return
	}
	msg, _ := rec["@message"].(string)
	lvl, _ := rec["@level"].(string)
	attrs := make([]any, 0, 2*len(rec))
	for k, v := range rec {
		switch k {
		case "@message", "@level", "@timestamp", "@module", "timestamp", "@caller":
			continue
		}
		attrs = append(attrs, k, v)
	}
	w.log.Log(context.Background(), slogLevel(lvl), msg, attrs...)
}

// slogLevel reads hclog's level names.
func slogLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// lineWriter is a slogWriter for plain lines.
func lineWriter(log *slog.Logger) io.Writer { return &slogWriter{log: log} }
