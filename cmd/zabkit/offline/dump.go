package offline

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/stores/file"
)

// Exit codes of the offline tools.
const (
	exitOK       = 0
	exitProblems = 1 // the data has problems (dump: damage found; verify: checks failed)
	exitUsage    = 2 // bad arguments, unreadable input
)

// newFlags makes a command's flag set, whose usage text (for -h and
// mistakes) is synopsis, about, then the flags.
func newFlags(cmd, synopsis, about string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("zabkit "+cmd, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: zabkit %s %s\n\n%s\n\n%s", cmd, synopsis, about, fs.FlagUsages())
	}
	return fs
}

// parse parses args; when it says false the command exits with the code
// (0 after -h).
func parse(fs *pflag.FlagSet, args []string) (int, bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return exitOK, true
	case errors.Is(err, pflag.ErrHelp):
		return exitOK, false
	}
	return exitUsage, false
}

// DumpOptions control what dump prints.
type DumpOptions struct {
	JSON bool // one JSON object per line instead of text
	// DataLimit is how many bytes of each data buffer are shown; a
	// negative value shows everything.
	DataLimit int
}

const defaultDataLimit = 64

// ErrNotZooKeeperFile means a file starts with neither ZKLG nor ZKSN.
var ErrNotZooKeeperFile = errors.New("not a ZooKeeper txn log or snapshot (magic is neither ZKLG nor ZKSN)")

// DumpMain is `zabkit dump`.
func DumpMain(args []string) int { return Dump(args, os.Stdout, os.Stderr) }

// Dump runs `zabkit dump` with args, writing to stdout and stderr. It
// exits 1 when the file is damaged (after printing all that is readable).
func Dump(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("dump", "[--json] [--full] FILE",
		"Prints a ZooKeeper/zabkit txn log (log.*) or snapshot (snapshot.*),\n"+
			"recognised by its magic (ZKLG or ZKSN), with checksum status.", stderr)
	asJSON := fs.Bool("json", false, "one JSON object per line (machine-readable)")
	full := fs.Bool("full", false, "show whole data buffers instead of a preview")
	limit := fs.Int("data-limit", defaultDataLimit, "bytes of data shown per znode or txn")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	opts := DumpOptions{JSON: *asJSON, DataLimit: *limit}
	if *full {
		opts.DataLimit = -1
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	damaged, err := DumpFile(w, fs.Arg(0), opts)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "zabkit dump: %v\n", err)
		return exitUsage
	}
	if damaged {
		return exitProblems
	}
	return exitOK
}

// DumpFile prints the file at path and reports whether it is damaged.
func DumpFile(w io.Writer, path string, opts DumpOptions) (damaged bool, err error) {
	// Through store.file's file system: it skips the holes of a log's
	// pre-allocated tail instead of reading 64 MiB of zeros.
	f, err := file.OSFS{}.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	return DumpReader(w, filepath.Base(path), f, st.Size(), opts)
}

// DumpReader prints the size bytes of r; name (the file's base name) is
// only used in headings and to know a snapshot's zxid.
func DumpReader(w io.Writer, name string, r io.ReaderAt, size int64, opts DumpOptions) (damaged bool, err error) {
	var magic [4]byte
	if size < 4 {
		return false, fmt.Errorf("%s: %d bytes: %w", name, size, ErrNotZooKeeperFile)
	}
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return false, err
	}
	e := &emitter{w: w, json: opts.JSON}
	switch int32(binary.BigEndian.Uint32(magic[:])) {
	case jute.TxnLogMagic:
		damaged, err = dumpLog(e, name, r, size, opts)
	case jute.SnapshotMagic:
		damaged, err = dumpSnapshot(e, name, r, size, opts)
	default:
		return false, fmt.Errorf("%s: %w", name, ErrNotZooKeeperFile)
	}
	if err == nil {
		err = e.err
	}
	return damaged, err
}

// emitter writes either text lines or JSON objects, one per line.
type emitter struct {
	w    io.Writer
	json bool
	err  error
}

func (e *emitter) textf(format string, args ...any) {
	if e.json || e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format+"\n", args...)
}

func (e *emitter) object(kind string, m map[string]any) {
	if !e.json || e.err != nil {
		return
	}
	m["kind"] = kind
	b, err := json.Marshal(m)
	if err == nil {
		_, err = e.w.Write(append(b, '\n'))
	}
	e.err = err
}

// dumpLog prints a txn log record by record. Damage is printed where it
// is and the dump carries on after it.
func dumpLog(e *emitter, name string, r io.ReaderAt, size int64, opts DumpOptions) (bool, error) {
	s := file.NewLogScanner(r, size)
	hdr, hdrOK := s.Header()
	e.textf("%s: ZooKeeper txn log, magic %#x version %d dbid %d, %d bytes", name, uint32(hdr.Magic), hdr.Version, hdr.DBID, size)
	e.object("header", map[string]any{"file": name, "type": "txnlog", "magic": fmt.Sprintf("%#x", uint32(hdr.Magic)),
		"version": hdr.Version, "dbid": hdr.DBID, "valid": hdrOK, "size": size})
	var txns, digests, bad int
	var first, last int64
	torn := false
	for {
		it, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bad > 0, err
		}
		switch it.Kind {
		case file.LogRecord:
			if txns == 0 {
				first = it.Zxid
			}
			txns++
			last = it.Zxid
			if dumpTxn(e, it, opts) {
				digests++
			}
		case file.LogBad:
			// A torn tail is how a crash mid-write looks, not damage.
			if it.Resume < 0 && it.Offset > 0 {
				torn = true
			} else {
				bad++
			}
			dumpDamage(e, it, size)
		case file.LogEnd:
			how := "end of file"
			if it.Padding {
				how = fmt.Sprintf("zero padding to %d bytes", size)
			}
			e.textf("end @%d: %s", it.Offset, how)
			e.object("end", map[string]any{"offset": it.Offset, "padding": it.Padding})
		}
	}
	tail := ""
	if torn {
		tail = ", torn tail"
	}
	e.textf("summary: %d txns, zxid %s..%s, %d with TxnDigest, %d damaged regions%s", txns, hexInt(first), hexInt(last), digests, bad, tail)
	e.object("summary", map[string]any{"txns": txns, "firstZxid": hexInt(first).String(), "lastZxid": hexInt(last).String(),
		"withDigest": digests, "damaged": bad, "tornTail": torn})
	return bad > 0, nil
}

// dumpTxn prints one verified record and reports whether it carries a
// TxnDigest.
func dumpTxn(e *emitter, it file.LogItem, opts DumpOptions) bool {
	txn, err := jute.DecodeTxn(it.Data)
	if err != nil {
		d := newData(it.Data, opts.DataLimit)
		e.textf("zxid %s UNDECODABLE (%v): %s  [@%d adler32 %#08x ok]", hexInt(it.Zxid), err, d, it.Offset, it.Checksum)
		e.object("txn", map[string]any{"offset": it.Offset, "checksum": fmt.Sprintf("%#08x", it.Checksum),
			"zxid": hexInt(it.Zxid).String(), "undecodable": err.Error(), "raw": d.jsonValue()})
		return false
	}
	h := txn.Header
	fields := recordFields(h.Type, txn.Record, opts.DataLimit)
	digest := ""
	if txn.HasDigest {
		digest = fmt.Sprintf(" digest=v%d:%s", txn.Digest.Version, hexInt(txn.Digest.TreeDigest))
	}
	body := fieldsText(fields)
	if body != "" {
		body = " " + body
	}
	e.textf("%s session %s cxid %s zxid %s %s%s%s  [@%d adler32 %#08x ok]%s", millis(h.Time), hexInt(h.ClientID),
		hexInt(int64(uint32(h.Cxid))), hexInt(h.Zxid), txnTypeName(h.Type), body, digest, it.Offset, it.Checksum, subLines(fields))
	if e.json {
		m := map[string]any{"offset": it.Offset, "checksum": fmt.Sprintf("%#08x", it.Checksum), "time": millis(h.Time).String(),
			"timeMs": h.Time, "session": hexInt(h.ClientID).String(), "cxid": h.Cxid, "zxid": hexInt(h.Zxid).String(),
			"type": txnTypeName(h.Type)}
		fieldsJSON(fields, m)
		if txn.HasDigest {
			m["digest"] = map[string]any{"version": txn.Digest.Version, "treeDigest": hexInt(txn.Digest.TreeDigest).String()}
		}
		e.object("txn", m)
	}
	return txn.HasDigest
}

func dumpDamage(e *emitter, it file.LogItem, size int64) {
	switch {
	case it.Resume >= 0:
		e.textf("BAD @%d: %s; next valid record @%d", it.Offset, it.Reason, it.Resume)
	case it.Offset == 0:
		e.textf("BAD @0: %s; no valid record in the file", it.Reason)
	default:
		e.textf("TORN @%d: %s, and nothing valid follows: a write cut short (recovery drops these %d bytes)",
			it.Offset, it.Reason, size-it.Offset)
	}
	e.object("bad", map[string]any{"offset": it.Offset, "reason": it.Reason, "resume": it.Resume, "torn": it.Resume < 0 && it.Offset > 0})
}
