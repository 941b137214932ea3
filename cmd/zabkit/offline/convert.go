package offline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"

	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/node"
)

// Errors of convert; compare with errors.Is.
var (
	// ErrNotEmpty means the destination already holds state.
	ErrNotEmpty = errors.New("the destination is not empty (use --force to replace its contents)")
	// ErrNoSourceSnapshot means the source has txns but no readable
	// snapshot to start them from: no node could recover it either.
	ErrNoSourceSnapshot = errors.New("the source has no readable snapshot")
	// ErrMismatch means the destination does not recover to the same
	// state as the source.
	ErrMismatch = errors.New("the destination does not recover to the source's state")
)

// ConvertMain is `zabkit convert`.
func ConvertMain(args []string) int { return Convert(context.Background(), args, os.Stdout, os.Stderr) }

// Convert runs `zabkit convert` with args.
func Convert(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("convert", "--from MODULE --from-dir DIR --to MODULE --to-dir DIR [--force]",
		"Copies a stopped node's durable state (epochs, last vote, db id, snapshots,\n"+
			"log) from one store module to another, then recovers both and compares.", stderr)
	var from, to side
	fs.StringVar(&from.module, "from", "", "source store module, e.g. store.file")
	fs.StringVar(&from.dataDir, "from-dir", "", "source dataDir")
	fs.StringVar(&from.dataLogDir, "from-log-dir", "", "source dataLogDir (default: --from-dir)")
	fs.StringVar(&from.configFile, "from-config", "", "source server config file (instead of or under the flags above)")
	fs.StringVar(&to.module, "to", "", "destination store module, e.g. store.pebble")
	fs.StringVar(&to.dataDir, "to-dir", "", "destination dataDir")
	fs.StringVar(&to.dataLogDir, "to-log-dir", "", "destination dataLogDir (default: --to-dir)")
	fs.StringVar(&to.configFile, "to-config", "", "destination server config file")
	snaps := fs.Int("snapshots", 0, "copy only the newest N snapshots (0: all); the log is copied from the oldest one copied")
	force := fs.Bool("force", false, "replace whatever the destination holds")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 || !from.given() || !to.given() || *snaps < 0 {
		fs.Usage()
		return exitUsage
	}
	fromCfg, err := from.config()
	if err == nil && from.configFile == "" && from.module == "" {
		err = errors.New("say which module the source is: --from store.file (or --from-config)")
	}
	if err != nil {
		fmt.Fprintf(stderr, "zabkit convert: source: %v\n", err)
		return exitUsage
	}
	toCfg, err := to.config()
	if err == nil && to.configFile == "" && to.module == "" {
		err = errors.New("say which module the destination is: --to store.pebble (or --to-config)")
	}
	if err != nil {
		fmt.Fprintf(stderr, "zabkit convert: destination: %v\n", err)
		return exitUsage
	}
	if fromCfg.DataDir == toCfg.DataDir && fromCfg.LogDir() == toCfg.LogDir() {
		fmt.Fprintln(stderr, "zabkit convert: the source and the destination are the same directories")
		return exitUsage
	}

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := openStore(ctx, fromCfg, true, log)
	if err != nil {
		fmt.Fprintf(stderr, "zabkit convert: cannot open the source %s: %v\n", moduleID(fromCfg), err)
		return exitProblems
	}
	defer src.Close()
	dst, err := openStore(ctx, toCfg, false, log)
	if err != nil {
		fmt.Fprintf(stderr, "zabkit convert: cannot open the destination %s: %v\n", moduleID(toCfg), err)
		return exitProblems
	}
	fmt.Fprintf(stdout, "converting %s %s -> %s %s\n", moduleID(fromCfg), fromCfg.DataDir, moduleID(toCfg), toCfg.DataDir)
	if !dst.Capabilities().Durable {
		fmt.Fprintf(stderr, "zabkit convert: warning: %s is not durable as configured (forceSync off, or an in-memory store)\n", moduleID(toCfg))
	}
	res, err := CopyStore(ctx, src, dst, CopyOptions{Snapshots: *snaps, Force: *force, Logger: log})
	if cerr := dst.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing the destination: %w", cerr)
	}
	res.print(stdout)
	if err != nil {
		fmt.Fprintf(stderr, "zabkit convert: %v\n", err)
		return exitProblems
	}
	fmt.Fprintln(stdout, "OK: the destination recovers to the same state as the source")
	return exitOK
}

// CopyOptions tune CopyStore.
type CopyOptions struct {
	// Snapshots copies only the newest N snapshots; 0 copies all.
	Snapshots int
	// Force clears a non-empty destination first.
	Force bool
	// Logger receives the stores' recovery messages. Default: discard.
	Logger *slog.Logger
}

// CopyResult says what CopyStore copied and what both sides recover to.
type CopyResult struct {
	Snapshots  []string
	Skipped    []string // unreadable source snapshots, not copied
	Txns       int
	FirstTxn   int64
	LastTxn    int64
	Meta       ext.Meta
	Source     Recovered
	Dest       Recovered
	recovered  bool
	copiedMeta bool
}

// Recovered is the state a store recovers to.
type Recovered struct {
	LastZxid int64
	Digest   int64
	Znodes   int
	Sessions map[int64]int32
}

func (r Recovered) equal(o Recovered) bool {
	return r.LastZxid == o.LastZxid && r.Digest == o.Digest && r.Znodes == o.Znodes && maps.Equal(r.Sessions, o.Sessions)
}

func (r *CopyResult) print(w io.Writer) {
	if !r.copiedMeta && len(r.Snapshots) == 0 && r.Txns == 0 {
		return // refused before copying anything
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "  skipped unreadable snapshots: %v\n", r.Skipped)
	}
	fmt.Fprintf(w, "  snapshots copied: %v\n", r.Snapshots)
	fmt.Fprintf(w, "  txns copied: %d (%s..%s)\n", r.Txns, hexInt(r.FirstTxn), hexInt(r.LastTxn))
	if r.copiedMeta {
		fmt.Fprintf(w, "  meta: currentEpoch %d, acceptedEpoch %d, db id %d, last vote %d bytes\n",
			r.Meta.CurrentEpoch, r.Meta.AcceptedEpoch, r.Meta.DBID, len(r.Meta.LastVote))
	}
	if r.recovered {
		for _, s := range []struct {
			name string
			r    Recovered
		}{{"source", r.Source}, {"destination", r.Dest}} {
			fmt.Fprintf(w, "  %s recovers to zxid %s, digest %s, %d znodes, %d sessions\n",
				s.name, hexInt(s.r.LastZxid), hexInt(s.r.Digest), s.r.Znodes, len(s.r.Sessions))
		}
	}
}

// isEmpty reports whether a store holds nothing at all.
func isEmpty(s ext.Store) (bool, error) {
	snaps, err := s.Snapshots()
	if err != nil {
		return false, err
	}
	m, err := s.LoadMeta()
	if err != nil {
		return false, err
	}
	return len(snaps) == 0 && s.LastZxid() == 0 && m.CurrentEpoch < 0 && m.AcceptedEpoch < 0 && len(m.LastVote) == 0 && m.DBID == 0, nil
}

// clearStore empties a store through its interface: every log entry (all have
// zxids above 0), then every snapshot.
func clearStore(s ext.Store) error {
	if err := s.TruncateAfter(0); err != nil {
		return err
	}
	if err := s.PurgeBefore(math.MaxInt64); err != nil {
		return err
	}
	return s.SaveMeta(ext.Meta{CurrentEpoch: -1, AcceptedEpoch: -1})
}

// CopyStore copies src's durable state into dst through the store
// interface: the snapshots (verified while copied), every log entry after
// the oldest snapshot copied, and the metadata. Then it recovers both with
// the node's own recovery and compares the results.
func CopyStore(ctx context.Context, src, dst ext.Store, opts CopyOptions) (CopyResult, error) {
	var res CopyResult
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	empty, err := isEmpty(dst)
	if err != nil {
		return res, fmt.Errorf("inspecting the destination: %w", err)
	}
	if !empty {
		if !opts.Force {
			return res, ErrNotEmpty
		}
		if err := clearStore(dst); err != nil {
			return res, fmt.Errorf("clearing the destination: %w", err)
		}
		if empty, err = isEmpty(dst); err != nil || !empty {
			return res, fmt.Errorf("the destination is still not empty after clearing it (%v)", err)
		}
	}

	infos, err := src.Snapshots()
	if err != nil {
		return res, fmt.Errorf("listing source snapshots: %w", err)
	}
	var copied []int64
	for _, in := range infos { // newest first
		if opts.Snapshots > 0 && len(copied) == opts.Snapshots {
			break
		}
		ok, err := copySnapshot(src, dst, in.Zxid)
		if err != nil {
			return res, fmt.Errorf("snapshot %s: %w", in.Name, err)
		}
		if !ok {
			res.Skipped = append(res.Skipped, in.Name)
			continue
		}
		copied = append(copied, in.Zxid)
		res.Snapshots = append(res.Snapshots, in.Name)
	}
	if len(copied) == 0 && (len(infos) > 0 || src.LastZxid() > 0) {
		return res, ErrNoSourceSnapshot
	}
	slices.Sort(copied)

	if err := copyLog(ctx, src, dst, copied, &res); err != nil {
		return res, err
	}
	if res.Meta, err = src.LoadMeta(); err != nil {
		return res, fmt.Errorf("reading source meta: %w", err)
	}
	if err := dst.SaveMeta(res.Meta); err != nil {
		return res, fmt.Errorf("writing destination meta: %w", err)
	}
	res.copiedMeta = true

	if res.Source, err = recoverState(src, log); err != nil {
		return res, fmt.Errorf("recovering the source: %w", err)
	}
	if res.Dest, err = recoverState(dst, log); err != nil {
		return res, fmt.Errorf("recovering the destination: %w", err)
	}
	res.recovered = true
	if !res.Source.equal(res.Dest) {
		return res, ErrMismatch
	}
	dm, err := dst.LoadMeta()
	if err != nil {
		return res, fmt.Errorf("reading destination meta: %w", err)
	}
	if dm.CurrentEpoch != res.Meta.CurrentEpoch || dm.AcceptedEpoch != res.Meta.AcceptedEpoch || dm.DBID != res.Meta.DBID || !bytes.Equal(dm.LastVote, res.Meta.LastVote) {
		return res, fmt.Errorf("%w: its meta reads back as %+v", ErrMismatch, dm)
	}
	return res, nil
}

// copySnapshot streams one snapshot from src to dst, loading it on the
// way so an unreadable snapshot is not copied (it reports false then).
func copySnapshot(src, dst ext.Store, zxid int64) (bool, error) {
	rc, err := src.OpenSnapshot(zxid)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	w, err := dst.CreateSnapshot(zxid)
	if err != nil {
		return false, err
	}
	tee := &errTee{r: rc, w: w}
	_, _, rerr := datatree.ReadSnapshot(tee)
	if rerr == nil && tee.werr == nil {
		// The reader may stop before the end; copy the rest verbatim.
		_, rerr = io.Copy(io.Discard, tee)
	}
	switch {
	case tee.werr != nil:
		_ = w.Abort()
		return false, tee.werr
	case rerr != nil:
		_ = w.Abort()
		if errors.Is(rerr, datatree.ErrCorrupt) {
			return false, nil
		}
		return false, rerr
	}
	return true, w.Commit()
}

// errTee copies what is read from r to w, remembering a write error apart
// from read errors so the two can be told apart.
type errTee struct {
	r    io.Reader
	w    io.Writer
	werr error
}

func (t *errTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 && t.werr == nil {
		if _, werr := t.w.Write(p[:n]); werr != nil {
			t.werr = werr
			return n, werr
		}
	}
	return n, err
}

// copyLog appends every source entry after the oldest copied snapshot,
// in batches, and rolls the destination's log at each snapshot so a
// file-based destination gets ZooKeeper's layout (one log per snapshot
// interval) and can later purge by snapshot.
func copyLog(ctx context.Context, src, dst ext.Store, snaps []int64, res *CopyResult) error {
	const maxBatch, maxBytes = 1000, 8 << 20
	after := int64(0)
	if len(snaps) > 0 {
		after = snaps[0]
	}
	var batch []ext.Entry
	size, next := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := dst.Append(ctx, batch)
		batch, size = batch[:0], 0
		if err != nil {
			return fmt.Errorf("appending to the destination: %w", err)
		}
		return nil
	}
	err := src.ReadLog(ctx, after, func(e ext.Entry) error {
		if next < len(snaps) && e.Zxid > snaps[next] {
			if err := flush(); err != nil {
				return err
			}
			for next < len(snaps) && e.Zxid > snaps[next] {
				next++
			}
			if err := dst.RollLog(); err != nil {
				return fmt.Errorf("rolling the destination log: %w", err)
			}
		}
		if res.Txns == 0 {
			res.FirstTxn = e.Zxid
		}
		res.Txns++
		res.LastTxn = e.Zxid
		batch = append(batch, ext.Entry{Zxid: e.Zxid, Data: bytes.Clone(e.Data)})
		size += len(e.Data)
		if len(batch) >= maxBatch || size >= maxBytes {
			return flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copying the log: %w", err)
	}
	return flush()
}

// recoverState runs the node's recovery on a store.
func recoverState(s ext.Store, log *slog.Logger) (Recovered, error) {
	tree, sessions, _, err := node.Recover(s, log)
	if err != nil {
		return Recovered{}, err
	}
	return Recovered{LastZxid: tree.LastZxid(), Digest: tree.Digest(), Znodes: znodes(tree), Sessions: sessions}, nil
}
