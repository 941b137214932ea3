package offline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/node"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/stores/file"
)

// VerifyMain is `zabkit verify`.
func VerifyMain(args []string) int { return Verify(context.Background(), args, os.Stdout, os.Stderr) }

// Verify runs `zabkit verify` with args. It exits 0 when every check
// passes (warnings allowed), 1 when one fails, 2 on bad arguments.
func Verify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("verify", "(--dataDir DIR [--dataLogDir DIR] | --config FILE) [--store MODULE] [--all-snapshots]",
		"Checks a stopped node's data directory: log framing and checksums, zxid\n"+
			"continuity, snapshot checksums and digests, epoch files, and a replay of\n"+
			"the log over the newest snapshot against the digests in the log.", stderr)
	var s side
	fs.StringVar(&s.configFile, "config", "", "server config file (YAML or zoo.cfg) naming the data directories and store")
	fs.StringVar(&s.dataDir, "dataDir", "", "data directory (snapshots, epochs)")
	fs.StringVar(&s.dataLogDir, "dataLogDir", "", "txn log directory (default: dataDir)")
	fs.StringVar(&s.module, "store", "", "store module (default: the config's, else store.file)")
	var opts VerifyOptions
	fs.IntVar(&opts.MaxDigestReports, "max-digest-reports", 10, "digest mismatches reported one by one before only counting them")
	fs.BoolVar(&opts.AllSnapshots, "all-snapshots", false, "replay from every readable snapshot, not only the newest (checks every fuzzy snapshot's digest and, from the oldest, every TxnDigest)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 || !s.given() {
		fs.Usage()
		return exitUsage
	}
	cfg, err := s.config()
	if err != nil {
		fmt.Fprintf(stderr, "zabkit verify: %v\n", err)
		return exitUsage
	}
	rep := VerifyConfig(ctx, cfg, stdout, opts)
	if rep.Errors > 0 {
		return exitProblems
	}
	return exitOK
}

// VerifyOptions tune a verification.
type VerifyOptions struct {
	// MaxDigestReports is how many digest mismatches are reported one by
	// one; the rest are counted.
	MaxDigestReports int
	// AllSnapshots replays from every readable snapshot, oldest first,
	// instead of only from the newest as recovery does.
	AllSnapshots bool
}

// VerifyReport counts what verify found.
type VerifyReport struct {
	Errors, Warnings int
	// Findings are the error and warning lines, in the order found.
	Findings []string
}

// verifier carries one verification.
type verifier struct {
	out  io.Writer
	rep  VerifyReport
	opts VerifyOptions
	// snaps are the snapshots that load, newest first.
	snaps []snapCheck
	// lastLogZxid is the last zxid the log holds.
	lastLogZxid int64
	// settling is set while a replay from an older snapshot runs (see
	// errorf); reported holds every finding's text, to report it once.
	settling bool
	reported map[string]bool
}

// snapCheck is what loading one snapshot found.
type snapCheck struct {
	name        string
	zxid        int64
	digestZxid  int64
	digest      int64
	hasDigest   bool
	nodesDigest int64
	suspect     bool // nodes and trailer differ at the same zxid
}

func (s snapCheck) emptyDigest() bool { return !s.hasDigest || (s.digestZxid == 0 && s.digest == 0) }

func (v *verifier) infof(format string, args ...any) { fmt.Fprintf(v.out, "  "+format+"\n", args...) }

func (v *verifier) errorf(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	if v.settling && !v.opts.AllSnapshots {
		// Only the replay from the newest snapshot is the node's own
		// recovery; one from an older snapshot (run to settle that
		// snapshot's digest) reports what it meets as warnings: damage
		// it crosses is already an error of the file checks.
		v.warnf("replaying from an older snapshot: %s", text)
		return
	}
	if v.seen(text) {
		return
	}
	msg := "ERROR " + text
	v.rep.Errors++
	v.rep.Findings = append(v.rep.Findings, msg)
	fmt.Fprintln(v.out, msg)
}

func (v *verifier) warnf(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	if v.seen(text) {
		return
	}
	msg := "WARNING " + text
	v.rep.Warnings++
	v.rep.Findings = append(v.rep.Findings, msg)
	fmt.Fprintln(v.out, msg)
}

// seen reports whether a finding with this text was already reported (two
// replays that converge meet the same mismatches); it records it if not.
func (v *verifier) seen(text string) bool {
	if v.reported == nil {
		v.reported = map[string]bool{}
	}
	if v.reported[text] {
		return true
	}
	v.reported[text] = true
	return false
}

// VerifyConfig verifies the store cfg selects and prints the report.
// store.file's files are also read directly (with file names and byte
// offsets in the findings), even when the store refuses to open.
func VerifyConfig(ctx context.Context, cfg *config.Config, out io.Writer, opts VerifyOptions) VerifyReport {
	v := &verifier{out: out, opts: opts}
	mod := moduleID(cfg)
	fmt.Fprintf(out, "verifying %s: dataDir=%s dataLogDir=%s\n", mod, cfg.DataDir, cfg.LogDir())
	if mod == fileModule {
		snapDir, logDir := file.Dirs(cfg.DataDir, cfg.LogDir())
		for _, d := range []string{snapDir, logDir} {
			if _, err := os.Stat(d); err != nil {
				v.errorf("not a ZooKeeper data directory: %v", err)
				return v.finish()
			}
		}
	}
	col := newCollector()
	store, err := openStore(ctx, cfg, true, slog.New(col))
	for _, l := range col.take() {
		v.warnf("%s on open: %s", mod, l)
	}
	if err != nil {
		v.errorf("cannot open the store: %v", err)
	}
	if mod == fileModule {
		snapDir, logDir := file.Dirs(cfg.DataDir, cfg.LogDir())
		v.checkSnapshots(dirSnapshots(v, snapDir))
		v.checkLogFiles(logDir)
	}
	if store != nil {
		v.checkStore(ctx, store, mod != fileModule)
		if err := store.Close(); err != nil {
			v.warnf("closing the store: %v", err)
		}
	}
	return v.finish()
}

// VerifyStore verifies an open store through the store interface alone:
// what any module supports.
func VerifyStore(ctx context.Context, store ext.Store, out io.Writer, opts VerifyOptions) VerifyReport {
	v := &verifier{out: out, opts: opts}
	v.checkStore(ctx, store, true)
	return v.finish()
}

// checkStore runs the checks that go through the store interface; with
// contents it also checks the snapshots and the log (which store.file's
// file-level checks otherwise cover).
func (v *verifier) checkStore(ctx context.Context, store ext.Store, contents bool) {
	if contents {
		v.checkSnapshots(storeSnapshots(v, store))
		v.checkStoreLog(ctx, store)
	}
	// Replays start from older snapshots too when asked, or when only a
	// replay can settle a snapshot's digest (see settle).
	for i := len(v.snaps) - 1; i > 0; i-- {
		if c := v.snaps[i]; v.opts.AllSnapshots || c.suspect {
			v.settling = true
			r := v.replay(snapshotsUpTo{Store: store, max: c.zxid})
			v.settling = false
			v.settle(c, r)
		}
	}
	r := v.replay(store)
	if len(v.snaps) > 0 {
		v.settle(v.snaps[0], r)
	}
	v.checkMeta(store)
}

// settle judges a snapshot whose nodes do not sum to its trailer's
// digest although the trailer is at the snapshot's own zxid. ZooKeeper
// writes such snapshots when a txn is being applied as the walk ends (the
// nodes hold its effects, the trailer the digest before it; ZooKeeper
// itself logs a digest mismatch when it loads one). The replay from the
// snapshot decides: TxnDigests that all match show the state is right.
func (v *verifier) settle(c snapCheck, r replayResult) {
	switch {
	case !c.suspect || !r.ran || r.miss > 0: // a failed replay reported itself
	case r.match > 0:
		v.infof("%s: its nodes were ahead of its trailer's digest (a txn was applied during the walk); the replay from it matches every TxnDigest", c.name)
	default:
		v.warnf("%s: its nodes sum to %s, its trailer says %s at the same zxid, and the log has no TxnDigest to settle whether a txn applied during the walk explains it",
			c.name, hexInt(c.nodesDigest), hexInt(c.digest))
	}
}

func (v *verifier) finish() VerifyReport {
	verdict := "OK"
	if v.rep.Errors > 0 {
		verdict = "FAILED"
	}
	fmt.Fprintf(v.out, "%s: %d errors, %d warnings\n", verdict, v.rep.Errors, v.rep.Warnings)
	return v.rep
}

// snapshotsUpTo hides the snapshots after max, so that the node's own
// recovery starts from an older one.
type snapshotsUpTo struct {
	ext.Store
	max int64
}

func (s snapshotsUpTo) Snapshots() ([]ext.SnapshotInfo, error) {
	all, err := s.Store.Snapshots()
	return slices.DeleteFunc(all, func(in ext.SnapshotInfo) bool { return in.Zxid > s.max }), err
}

// snapSource is one snapshot to check and how to read it.
type snapSource struct {
	name string
	zxid int64
	open func() (io.ReadCloser, error)
}

// dirSnapshots lists store.file's snapshots straight from the directory,
// so they are checked even when the store cannot open, newest first.
func dirSnapshots(v *verifier, dir string) []snapSource {
	ents, err := os.ReadDir(dir)
	if err != nil {
		v.errorf("cannot list snapshots: %v", err)
		return nil
	}
	var out []snapSource
	for _, e := range ents {
		name := e.Name()
		z, ok := file.ParseName(name, file.SnapshotPrefix)
		switch {
		case ok:
			path := filepath.Join(dir, name)
			out = append(out, snapSource{name: name, zxid: z, open: func() (io.ReadCloser, error) { return os.Open(path) }})
		case strings.HasPrefix(name, file.SnapshotPrefix):
			v.warnf("%s: a compressed or oddly named snapshot, which zabkit does not read", name)
		case strings.HasPrefix(name, "tmp."+file.SnapshotPrefix):
			v.warnf("%s: a snapshot a crash left half-written (the store deletes it on open)", name)
		}
	}
	slices.SortFunc(out, func(a, b snapSource) int { return cmp.Compare(b.zxid, a.zxid) })
	return out
}

// storeSnapshots lists snapshots through the store interface.
func storeSnapshots(v *verifier, store ext.Store) []snapSource {
	infos, err := store.Snapshots()
	if err != nil {
		v.errorf("cannot list snapshots: %v", err)
		return nil
	}
	out := make([]snapSource, len(infos))
	for i, in := range infos {
		z := in.Zxid
		out[i] = snapSource{name: in.Name, zxid: z, open: func() (io.ReadCloser, error) { return store.OpenSnapshot(z) }}
	}
	return out
}

// checkSnapshots loads every snapshot with the data tree's reader (which
// checks both seals) and compares the digest of a non-fuzzy one with its
// trailer. A fuzzy one can only be checked by replay (see replay).
func (v *verifier) checkSnapshots(srcs []snapSource) {
	for _, s := range srcs {
		rc, err := s.open()
		if err != nil {
			v.errorf("%s: %v", s.name, err)
			continue
		}
		tree, sessions, err := datatree.ReadSnapshot(rc)
		rc.Close()
		if err != nil {
			v.errorf("%s: %v", s.name, err)
			continue
		}
		c := snapCheck{name: s.name, zxid: s.zxid, nodesDigest: tree.Digest()}
		c.digestZxid, c.digest, c.hasDigest = tree.SnapshotDigest()
		v.snaps = append(v.snaps, c)
		what := fmt.Sprintf("%s: %d znodes, %d sessions, checksums ok", s.name, znodes(tree), len(sessions))
		switch {
		case !c.hasDigest:
			v.infof("%s, no digest trailer", what)
		case c.emptyDigest():
			v.infof("%s, empty digest", what)
		case c.digestZxid < s.zxid:
			v.errorf("%s: digest trailer is at zxid %s, before the snapshot's own zxid", s.name, hexInt(c.digestZxid))
		case c.digestZxid == s.zxid && c.nodesDigest != c.digest:
			c.suspect = true
			v.snaps[len(v.snaps)-1] = c
			v.infof("%s, but its nodes sum to %s, not its trailer's %s: the replay from it decides", what, hexInt(c.nodesDigest), hexInt(c.digest))
		case c.digestZxid == s.zxid:
			v.infof("%s, digest %s matches", what, hexInt(c.digest))
		default:
			v.infof("%s, fuzzy (digest at %s, checked by replay if recovery starts here)", what, hexInt(c.digestZxid))
		}
	}
	if len(srcs) > 0 && len(v.snaps) == 0 {
		v.errorf("no snapshot is readable: the node cannot recover")
	}
}

// newestSnap is the zxid of the newest readable snapshot, or -1.
func (v *verifier) newestSnap() int64 {
	if len(v.snaps) == 0 {
		return -1
	}
	return v.snaps[0].zxid
}

// zxidChecker follows the zxids of the whole log in order, applying the
// rules a store's Append enforces (ext.CheckAppend): within an epoch
// counters go up by one, a new epoch starts at counter 1, and any zxid may
// follow a snapshot at the zxid before it (a SNAP sync leaves that). The
// log's first entry is checked as if it followed zxid 0, so a log whose
// start was lost shows too.
type zxidChecker struct {
	v    *verifier
	prev int64
}

// check judges zxid z found at where. A gap no snapshot explains is an
// error when recovery from the newest snapshot would replay across it, and
// only a warning when the newest snapshot is past it (then only recovery
// from an older snapshot would miss txns).
func (c *zxidChecker) check(z int64, where string) {
	prev := c.prev
	c.prev = max(c.prev, z)
	err := ext.CheckAppend(prev, []ext.Entry{{Zxid: z}}, func(at int64) (bool, error) { return c.v.hasSnap(at), nil })
	switch {
	case errors.Is(err, ext.ErrZxidGap):
	case err != nil:
		c.v.errorf("%s: zxid %s is not above the previous %s", where, hexInt(z), hexInt(prev))
		return
	case z != prev+1 && z>>32 == prev>>32:
		c.v.infof("%s: zxids %s..%s are not in the log: snapshot %s holds them (as a SNAP sync leaves it)",
			where, hexInt(prev+1), hexInt(z-1), hexInt(z-1))
		return
	default:
		return
	}
	lo := prev + 1
	if z>>32 != prev>>32 {
		lo = z>>32<<32 | 1 // a new epoch starts at counter 1
	}
	missing := "zxid " + hexInt(lo).String() + " is"
	if z-1 > lo {
		missing = fmt.Sprintf("zxids %s..%s are", hexInt(lo), hexInt(z-1))
	}
	if c.v.newestSnap() >= z-1 {
		c.v.warnf("%s: %s not in the log; snapshot %s is past them, but recovery from an older snapshot would miss them",
			where, missing, hexInt(c.v.newestSnap()))
		return
	}
	c.v.errorf("%s: %s missing from the log, after the newest snapshot", where, missing)
}

func (v *verifier) hasSnap(zxid int64) bool {
	for _, s := range v.snaps {
		if s.zxid == zxid {
			return true
		}
	}
	return false
}

// checkLogFiles reads every store.file log directly: framing, checksums,
// names, and zxid order across files.
func (v *verifier) checkLogFiles(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		v.errorf("cannot list txn logs: %v", err)
		return
	}
	type logFile struct {
		name string
		zxid int64
	}
	var logs []logFile
	for _, e := range ents {
		if z, ok := file.ParseName(e.Name(), file.LogPrefix); ok {
			logs = append(logs, logFile{e.Name(), z})
		}
	}
	slices.SortFunc(logs, func(a, b logFile) int { return cmp.Compare(a.zxid, b.zxid) })
	zc := &zxidChecker{v: v}
	for i, lf := range logs {
		v.checkLogFile(filepath.Join(dir, lf.name), lf.name, lf.zxid, i == len(logs)-1, zc)
	}
	if len(logs) == 0 {
		v.infof("no txn logs")
	}
}

func (v *verifier) checkLogFile(path, name string, nameZxid int64, last bool, zc *zxidChecker) {
	f, err := file.OSFS{}.OpenFile(path, os.O_RDONLY, 0) // skips holes; see DumpFile
	if err != nil {
		v.errorf("%s: %v", name, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		v.errorf("%s: %v", name, err)
		return
	}
	s := file.NewLogScanner(f, st.Size())
	var n, digests int
	var first, lastZ int64
	ending := "end of file"
	for {
		it, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			v.errorf("%s: %v", name, err)
			return
		}
		switch it.Kind {
		case file.LogRecord:
			where := fmt.Sprintf("%s @%d", name, it.Offset)
			if n == 0 {
				first = it.Zxid
				if it.Zxid != nameZxid {
					v.errorf("%s: first zxid is %s, but the name says %s (recovery picks logs by name)", where, hexInt(it.Zxid), hexInt(nameZxid))
				}
			}
			n++
			lastZ = it.Zxid
			v.lastLogZxid = max(v.lastLogZxid, it.Zxid)
			zc.check(it.Zxid, where)
			txn, err := jute.DecodeTxn(it.Data)
			switch {
			case err != nil:
				v.errorf("%s: zxid %s: checksum ok but the txn does not decode: %v", where, hexInt(it.Zxid), err)
			case txn.HasDigest:
				digests++
			}
		case file.LogBad:
			switch {
			case it.Resume >= 0:
				v.errorf("%s @%d: %s, yet a valid record follows @%d: corruption in the middle of the log", name, it.Offset, it.Reason, it.Resume)
			case it.Offset == 0:
				v.errorf("%s: %s, and no valid record in it", name, it.Reason)
			case last:
				v.warnf("%s @%d: torn tail (%s): a write cut short by a crash; recovery drops it", name, it.Offset, it.Reason)
				ending = "torn tail"
			default:
				v.warnf("%s @%d: torn tail (%s) in a log that is not the last (ZooKeeper leaves these; readers skip them)", name, it.Offset, it.Reason)
				ending = "torn tail"
			}
		case file.LogEnd:
			if it.Padding {
				ending = "zero padding"
			}
		}
	}
	if n == 0 {
		v.warnf("%s: no valid records (a log created just before a crash)", name)
		return
	}
	v.infof("%s: %d txns %s..%s, %d with TxnDigest, ends with %s", name, n, hexInt(first), hexInt(lastZ), digests, ending)
}

// checkStoreLog follows the whole log through the store interface, for
// modules whose files verify cannot read itself.
func (v *verifier) checkStoreLog(ctx context.Context, store ext.Store) {
	zc := &zxidChecker{v: v}
	var n, digests int
	var first int64
	err := store.ReadLog(ctx, 0, func(e ext.Entry) error {
		where := fmt.Sprintf("log entry %s", hexInt(e.Zxid))
		if n == 0 {
			first = e.Zxid
		}
		n++
		zc.check(e.Zxid, where)
		v.lastLogZxid = max(v.lastLogZxid, e.Zxid)
		txn, err := jute.DecodeTxn(e.Data)
		switch {
		case err != nil:
			v.errorf("%s: the txn does not decode: %v", where, err)
		case txn.Header.Zxid != e.Zxid:
			v.errorf("%s: the txn header says zxid %s", where, hexInt(txn.Header.Zxid))
		case txn.HasDigest:
			digests++
		}
		return nil
	})
	if err != nil {
		v.errorf("reading the log: %v", err)
	}
	if last := store.LastZxid(); n > 0 && last != v.lastLogZxid {
		v.errorf("the store says its last zxid is %s, but its log ends at %s", hexInt(last), hexInt(v.lastLogZxid))
	}
	v.infof("log: %d txns %s..%s, %d with TxnDigest", n, hexInt(first), hexInt(v.lastLogZxid), digests)
}

// replay runs the node's own recovery with hooks that compare digests: the
// snapshot's trailer once the replay reaches the trailer's zxid (at once
// for a non-fuzzy snapshot), and each TxnDigest from then on; inside a
// fuzzy snapshot's window the tree is not yet exact, so those are skipped.
// replayResult is what one replay found.
type replayResult struct {
	ran         bool // recovery succeeded
	match, miss int  // TxnDigests compared
}

func (v *verifier) replay(store ext.Store) replayResult {
	var (
		start              ext.SnapshotInfo
		loaded             bool
		pending            int64 // fuzzy trailer zxid still to reach; 0 = none
		pendingDigest      int64
		count, firstZ      int64
		match, miss, fuzzy int
		otherVer           int
	)
	hooks := node.RecoverHooks{
		Loaded: func(s ext.SnapshotInfo, tree *datatree.Tree) error {
			start, loaded = s, true
			if z, d, ok := tree.SnapshotDigest(); ok && !(z == 0 && d == 0) && z > s.Zxid {
				pending, pendingDigest = z, d
			}
			return nil
		},
		Applied: func(txn *jute.Txn, tree *datatree.Tree) error {
			z := txn.Header.Zxid
			if count == 0 {
				firstZ = z
			}
			count++
			if pending != 0 && z >= pending {
				if z > pending {
					v.errorf("replay: %s's digest is at zxid %s, which is not in the log (it jumps to %s)", start.Name, hexInt(pending), hexInt(z))
				} else if got := tree.Digest(); got != pendingDigest {
					v.errorf("replay: at %s the tree digest is %s, %s's trailer says %s", hexInt(z), hexInt(got), start.Name, hexInt(pendingDigest))
				} else {
					v.infof("replay: %s's fuzzy digest %s matches at %s", start.Name, hexInt(pendingDigest), hexInt(z))
				}
				pending = 0
			}
			if !txn.HasDigest {
				return nil
			}
			switch {
			case pending != 0:
				fuzzy++
			case txn.Digest.Version != jute.DigestVersion:
				otherVer++
			case tree.Digest() == txn.Digest.TreeDigest:
				match++
			default:
				miss++
				if miss <= v.opts.MaxDigestReports {
					v.errorf("replay: zxid %s (%s): the tree digest after it is %s, the log says %s",
						hexInt(z), txnTypeName(txn.Header.Type), hexInt(tree.Digest()), hexInt(txn.Digest.TreeDigest))
				}
			}
			return nil
		},
	}
	col := newCollector()
	tree, sessions, _, err := node.RecoverWithHooks(store, slog.New(col), hooks)
	for _, l := range col.take() {
		v.warnf("recovery: %s", l)
	}
	if err != nil {
		v.errorf("replay: the node cannot recover: %v", err)
		return replayResult{}
	}
	from := "an empty tree"
	if loaded {
		from = start.Name
		if count > 0 {
			v.checkStart(start.Zxid, firstZ)
		}
	}
	if pending != 0 {
		v.errorf("replay: the log ends at %s, before %s's digest zxid %s: txns the snapshot contains are missing from the log",
			hexInt(tree.LastZxid()), start.Name, hexInt(pending))
	}
	if miss > v.opts.MaxDigestReports {
		v.errorf("replay: %d more digest mismatches not shown", miss-v.opts.MaxDigestReports)
	}
	v.infof("replay: %s + %d txns to zxid %s: %d znodes, %d sessions, digest %s", from, count, hexInt(tree.LastZxid()),
		znodes(tree), len(sessions), hexInt(tree.Digest()))
	v.infof("replay: TxnDigests: %d match, %d differ, %d inside the fuzzy window, %d of another version", match, miss, fuzzy, otherVer)
	v.lastLogZxid = max(v.lastLogZxid, tree.LastZxid())
	return replayResult{ran: true, match: match, miss: miss}
}

// checkStart checks that the first txn replayed directly follows the
// snapshot, which the zxid checker cannot see when the log holds nothing
// at or before the snapshot.
func (v *verifier) checkStart(snap, first int64) {
	if first == snap+1 || (first>>32 > snap>>32 && first&0xffffffff == 1) {
		return
	}
	v.errorf("replay: the first txn after snapshot %s is %s: the txns between them are missing", hexInt(snap), hexInt(first))
}

// checkMeta checks the epochs against the last zxid, as ZooKeeper does at
// start-up: acceptedEpoch >= currentEpoch >= the last zxid's epoch.
func (v *verifier) checkMeta(store ext.Store) {
	m, err := store.LoadMeta()
	if err != nil {
		v.errorf("epochs: %v", err)
		return
	}
	last := max(v.lastLogZxid, store.LastZxid())
	lastEpoch := last >> 32
	switch {
	case m.AcceptedEpoch < 0 && m.CurrentEpoch < 0:
		v.infof("epochs: none recorded (a standalone server writes none); last zxid %s is in epoch %d", hexInt(last), lastEpoch)
		return
	case m.CurrentEpoch < 0:
		v.warnf("epochs: acceptedEpoch %d but no currentEpoch", m.AcceptedEpoch)
	case m.AcceptedEpoch >= 0 && m.AcceptedEpoch < m.CurrentEpoch:
		v.errorf("epochs: acceptedEpoch %d is below currentEpoch %d", m.AcceptedEpoch, m.CurrentEpoch)
	case lastEpoch > m.CurrentEpoch:
		v.errorf("epochs: the last zxid %s is in epoch %d, after currentEpoch %d (ZooKeeper refuses to start)", hexInt(last), lastEpoch, m.CurrentEpoch)
	default:
		v.infof("epochs: acceptedEpoch %d, currentEpoch %d, last zxid %s (epoch %d): consistent", m.AcceptedEpoch, m.CurrentEpoch, hexInt(last), lastEpoch)
	}
}
