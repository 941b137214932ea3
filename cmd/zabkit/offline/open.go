package offline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/zabkit/zabkit/cmd/zabkit/confload"
	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/registry"
	"github.com/zabkit/zabkit/stores/file"
)

// fileModule is store.file's registry ID: the one store whose files the
// offline tools also read directly.
const fileModule = "store.file"

// errReadOnly is what a write through readOnlyFS gets.
var errReadOnly = errors.New("read-only: the offline tools never change the directory they inspect")

// readOnlyFS lets store.file's Open run its recovery on a directory
// without changing it. Reads go to the disk; removals and truncations are
// dropped, so the store ends up with the view recovery would produce (a
// torn tail cut, an empty last log gone) while the files stay as they are:
// verify must not repair what it is checking, and convert must not touch
// its source.
type readOnlyFS struct{ file.OSFS }

func (r readOnlyFS) OpenFile(name string, flag int, perm os.FileMode) (file.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) == 0 {
		return r.OSFS.OpenFile(name, flag, perm)
	}
	if flag&(os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errReadOnly}
	}
	f, err := r.OSFS.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return readOnlyFile{f}, nil
}

func (readOnlyFS) Rename(oldpath, _ string) error {
	return &fs.PathError{Op: "rename", Path: oldpath, Err: errReadOnly}
}
func (readOnlyFS) Remove(string) error  { return nil }
func (readOnlyFS) SyncDir(string) error { return nil }

// MkdirAll only checks that the directory exists.
func (readOnlyFS) MkdirAll(name string, _ os.FileMode) error {
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return &fs.PathError{Op: "open", Path: name, Err: errors.New("not a directory")}
	}
	return nil
}

// readOnlyFile is a file recovery opened for writing (to truncate a torn
// tail): the truncation is dropped, any write fails.
type readOnlyFile struct{ file.File }

func (readOnlyFile) Write([]byte) (int, error)          { return 0, errReadOnly }
func (readOnlyFile) WriteAt([]byte, int64) (int, error) { return 0, errReadOnly }
func (readOnlyFile) Truncate(int64) error               { return nil }
func (readOnlyFile) Sync() error                        { return nil }
func (readOnlyFile) Datasync() error                    { return nil }

// side names one store: a config file and/or flags that override it.
type side struct {
	configFile, module, dataDir, dataLogDir string
}

func (s side) given() bool { return s.configFile != "" || s.dataDir != "" }

// config loads the server configuration the way `zabkit server` does
// (defaults < file < ZABKIT_ environment < flags), so a tool inspects the
// store the server would open.
func (s side) config() (*config.Config, error) {
	var args []string
	for _, kv := range [][2]string{{"--config", s.configFile}, {"--dataDir", s.dataDir}, {"--dataLogDir", s.dataLogDir}, {"--store", s.module}} {
		if kv[1] != "" {
			args = append(args, kv[0], kv[1])
		}
	}
	res, err := confload.Load(args, os.Environ())
	if err != nil {
		return nil, err
	}
	return res.Config, nil
}

func moduleID(cfg *config.Config) string { return registry.ResolveID(registry.Store, cfg.Store.Module) }

// openStore opens the store cfg selects. With readOnly, store.file is
// opened over readOnlyFS; other modules are opened through the registry,
// like the server does (a store module cannot be asked not to write).
func openStore(ctx context.Context, cfg *config.Config, readOnly bool, log *slog.Logger) (ext.Store, error) {
	if readOnly && moduleID(cfg) == fileModule {
		s, err := file.Open(file.Options{DataDir: cfg.DataDir, DataLogDir: cfg.LogDir(), FS: readOnlyFS{}, Logger: log})
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return s, nil
	}
	return registry.LoadStore(registry.Context{Context: ctx, Logger: log, Config: cfg}, cfg.Store)
}

// collector is a slog handler that keeps warnings and errors (what a
// store says while recovering) so a tool can report them as findings.
type collector struct {
	mu    *sync.Mutex
	lines *[]string
	attrs []slog.Attr
}

func newCollector() collector { return collector{mu: &sync.Mutex{}, lines: new([]string)} }

func (c collector) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (c collector) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if a.Key != "module" && a.Key != "store" {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	}
	for _, a := range c.attrs {
		add(a)
	}
	r.Attrs(add)
	c.mu.Lock()
	*c.lines = append(*c.lines, b.String())
	c.mu.Unlock()
	return nil
}

func (c collector) WithAttrs(as []slog.Attr) slog.Handler {
	c.attrs = append(append([]slog.Attr(nil), c.attrs...), as...)
	return c
}

func (c collector) WithGroup(string) slog.Handler { return c }

// take returns and forgets what was collected.
func (c collector) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := *c.lines
	*c.lines = nil
	return out
}
