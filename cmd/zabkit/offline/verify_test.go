package offline

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/pipeline"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/stores/file"
	"github.com/zabkit/zabkit/stores/mem"
)

func fileConfig(dir string) *config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Store.Module = fileModule
	return &cfg
}

func verifyDir(t *testing.T, dir string, opts VerifyOptions) (VerifyReport, string) {
	t.Helper()
	if opts.MaxDigestReports == 0 {
		opts.MaxDigestReports = 10
	}
	var b bytes.Buffer
	rep := VerifyConfig(context.Background(), fileConfig(dir), &b, opts)
	return rep, b.String()
}

// digestMatches returns the "N match" counts of the replays in out.
func digestMatches(out string) []string {
	re := regexp.MustCompile(`TxnDigests: (\d+) match, 0 differ`)
	var n []string
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		n = append(n, m[1])
	}
	return n
}

// TestVerifyCleanDirs: what ZooKeeper and zabkit wrote verifies clean,
// and zabkit's digest agrees with every TxnDigest ZooKeeper logged.
func TestVerifyCleanDirs(t *testing.T) {
	zk, _ := zkFixture(t)
	rep, out := verifyDir(t, zk, VerifyOptions{AllSnapshots: true})
	if rep.Errors != 0 || rep.Warnings != 0 {
		t.Fatalf("ZooKeeper's directory: %+v\n%s", rep, out)
	}
	wantAll(t, "ZooKeeper verify", out, "log.1: ", fmt.Sprintf("snapshot.0 + %d txns to zxid %#x", zkLastZxid, zkLastZxid),
		"epochs: none recorded", "OK: 0 errors, 0 warnings")
	if m := digestMatches(out); len(m) < 5 || m[0] != fmt.Sprint(zkLastZxid) {
		t.Errorf("replays from every snapshot should compare every TxnDigest: %v\n%s", m, out)
	}
	before := snapshotOfDir(t, zk)

	zab, _ := zabkitFixture(t)
	rep, out = verifyDir(t, zab, VerifyOptions{})
	if rep.Errors != 0 || rep.Warnings != 0 {
		t.Fatalf("zabkit's directory: %+v\n%s", rep, out)
	}
	wantAll(t, "zabkit verify", out, "0 with TxnDigest", "digest 0x", "matches", "OK: 0 errors")

	if after := snapshotOfDir(t, zk); after != before {
		t.Error("verify changed the directory it checked")
	}
}

// snapshotOfDir describes every file of a directory (name, size, time of
// last change), to show that verify wrote nothing.
func snapshotOfDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			fmt.Fprintf(&b, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}

// cutRecord removes record i from a log file, leaving a zxid gap.
func cutRecord(t *testing.T, path string, i int) {
	t.Helper()
	recs := recordStarts(t, path)
	rewriteLog(t, path, func(b []byte) []byte { return append(b[:recs[i]:recs[i]], b[recs[i+1]:]...) })
}

// rewriteRecord applies change to record i's entry and fixes its
// checksum: a record that frames fine but says something else.
func rewriteRecord(t *testing.T, path string, i int, change func([]byte)) {
	t.Helper()
	off := recordStarts(t, path)[i]
	rewriteLog(t, path, func(b []byte) []byte {
		n := binary.BigEndian.Uint32(b[off+8:])
		entry := b[off+12 : off+12+int64(n)]
		change(entry)
		binary.BigEndian.PutUint64(b[off:], uint64(adler32.Checksum(entry)))
		return b
	})
}

func TestVerifyFindsDamage(t *testing.T) {
	zk, _ := zkFixture(t)
	logs := func(dir string) []string { return files(t, dir, file.LogPrefix) }
	snaps := func(dir string) []string { return files(t, dir, file.SnapshotPrefix) }
	recsOf := func(path string) []int64 { return recordStarts(t, path) }
	// What the fixture looks like: the last log holds the tail, after the
	// newest snapshot (the one ZooKeeper took at its restart).
	lastLog := filepath.Base(last(logs(zk)))
	midLog := filepath.Base(logs(zk)[1])
	midRecs := recsOf(logs(zk)[1])
	newest := filepath.Base(last(snaps(zk)))
	newestZxid, _ := file.ParseName(newest, file.SnapshotPrefix)
	previous := filepath.Base(snaps(zk)[len(snaps(zk))-2])
	cut := zxidAt(t, last(logs(zk)), 2)

	cases := []struct {
		name   string
		damage func(dir string)
		errors int
		want   []string
	}{
		{"flipped byte mid-log", func(dir string) {
			flipByte(t, logs(dir)[1], midRecs[1]+40)
		}, 1, []string{
			fmt.Sprintf("ERROR %s @%d: checksum mismatch, yet a valid record follows @%d: corruption in the middle of the log", midLog, midRecs[1], midRecs[2]),
			fmt.Sprintf("WARNING %s @%d: zxid", midLog, midRecs[2]), fmt.Sprintf("snapshot %#x is past them", newestZxid)}},
		{"zxid gap after the newest snapshot", func(dir string) {
			cutRecord(t, last(logs(dir)), 2)
		}, 1 + tailTxns - 3, []string{ // the gap, then every later TxnDigest differs
			fmt.Sprintf("ERROR %s @", lastLog), fmt.Sprintf("zxid %#x is missing from the log, after the newest snapshot", cut),
			fmt.Sprintf("ERROR replay: zxid %#x (create): the tree digest after it is 0x", cut+1)}},
		{"corruption in the last log", func(dir string) {
			flipByte(t, last(logs(dir)), recsOf(last(logs(dir)))[1]+20)
		}, 3, []string{"ERROR cannot open the store: store: corrupt txn log", // the store refuses it: no replay
			fmt.Sprintf("ERROR %s @", lastLog), "checksum mismatch, yet a valid record follows", "is missing from the log"}},
		{"truncated newest snapshot", func(dir string) {
			p := last(snaps(dir))
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-30], 0o644)
		}, 1, []string{fmt.Sprintf("ERROR %s: datatree: corrupt snapshot: truncated", newest),
			"WARNING recovery: skipping unreadable snapshot", fmt.Sprintf("replay: %s + ", previous), fmt.Sprintf("to zxid %#x", zkLastZxid)}},
		{"txn changed after its digest was computed", func(dir string) {
			rewriteRecord(t, last(logs(dir)), tailTxns-1, func(e []byte) { // create /tail/last "last"
				e[bytes.LastIndex(e, []byte("last"))] = 'L'
			})
		}, 1, []string{fmt.Sprintf("ERROR replay: zxid %#x (create): the tree digest after it is 0x", zkLastZxid), "1 differ"}},
		{"epochs out of order", func(dir string) {
			os.WriteFile(filepath.Join(dir, file.VersionDir, "acceptedEpoch"), []byte("1"), 0o644)
			os.WriteFile(filepath.Join(dir, file.VersionDir, "currentEpoch"), []byte("2"), 0o644)
		}, 1, []string{"ERROR epochs: acceptedEpoch 1 is below currentEpoch 2"}},
		{"torn tail", func(dir string) {
			p := last(logs(dir))
			recs := recsOf(p)
			os.Truncate(p, recs[len(recs)-2]+10)
		}, 0, []string{fmt.Sprintf("WARNING %s @", lastLog), "torn tail", "WARNING store.file on open: truncating torn tail",
			fmt.Sprintf("to zxid %#x", zkLastZxid-1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, zk)
			c.damage(dir)
			before := snapshotOfDir(t, dir)
			rep, out := verifyDir(t, dir, VerifyOptions{})
			if rep.Errors != c.errors {
				t.Errorf("%d errors, want %d:\n%s", rep.Errors, c.errors, out)
			}
			wantAll(t, c.name, out, c.want...)
			if c.errors > 0 && !strings.Contains(out, "FAILED:") {
				t.Errorf("no FAILED verdict:\n%s", out)
			}
			if snapshotOfDir(t, dir) != before {
				t.Error("verify changed the directory")
			}
		})
	}
}

func TestVerifyCommand(t *testing.T) {
	zk, _ := zkFixture(t)
	var out, errb bytes.Buffer
	if code := Verify(context.Background(), []string{"--dataDir", zk}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	dir := copyDir(t, zk)
	l := last(files(t, dir, file.LogPrefix))
	gap := zxidAt(t, l, 1)
	cutRecord(t, l, 1)
	cfg := filepath.Join(t.TempDir(), "zoo.cfg")
	os.WriteFile(cfg, []byte("tickTime=2000\nclientPort=2181\ndataDir="+dir+"\n"), 0o644)
	out.Reset()
	if code := Verify(context.Background(), []string{"--config", cfg}, &out, &errb); code != exitProblems ||
		!strings.Contains(out.String(), fmt.Sprintf("zxid %#x is missing", gap)) {
		t.Fatalf("a gap: exit %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := Verify(context.Background(), []string{"--dataDir", filepath.Join(dir, "nope")}, &out, &errb); code != exitProblems ||
		!strings.Contains(out.String(), "ERROR not a ZooKeeper data directory") || !strings.Contains(out.String(), "FAILED: 1 errors") {
		t.Fatalf("a missing directory: exit %d\n%s", code, out.String())
	}
	errb.Reset()
	if code := Verify(context.Background(), nil, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "usage: zabkit verify") {
		t.Fatalf("no arguments: exit %d, %q", code, errb.String())
	}
}

// aheadOfTrailer builds a store whose newest snapshot, at zxid 5, holds
// the effects of txn 6 while its trailer has the digest at 5: what
// ZooKeeper writes when a txn is applied as its walk ends. withDigests
// puts ZooKeeper's TxnDigest on each logged txn.
func aheadOfTrailer(t *testing.T, withDigests bool) ext.Store {
	t.Helper()
	store := mem.New()
	tree := datatree.New()
	if err := pipeline.WriteSnapshot(store, tree, nil, 0); err != nil {
		t.Fatal(err)
	}
	var entries []ext.Entry
	var digestAt5 int64
	var snap bytes.Buffer
	for z := int64(1); z <= 8; z++ {
		hdr := jute.TxnHeader{ClientID: 1, Zxid: z, Time: 1000 + z, Type: jute.OpCreate}
		rec := &jute.CreateTxn{Path: fmt.Sprintf("/n%d", z), Data: []byte("d"), ACL: jute.OpenACLUnsafe, ParentCVersion: int32(z)}
		tree.Apply(&hdr, rec)
		var d *jute.TxnDigest
		if withDigests {
			d = &jute.TxnDigest{Version: jute.DigestVersion, TreeDigest: tree.Digest()}
		}
		entries = append(entries, ext.Entry{Zxid: z, Data: jute.EncodeTxn(nil, &hdr, rec, d)})
		switch z {
		case 5:
			digestAt5 = tree.Digest()
		case 6:
			if _, err := tree.WriteSnapshot(&snap, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Trailer: long zxid | int version | long digest | long checksum | "/".
	b := snap.Bytes()
	tr := len(b) - 5 - 8 - 8 - 4 - 8
	binary.BigEndian.PutUint64(b[tr:], 5)
	binary.BigEndian.PutUint64(b[tr+12:], uint64(digestAt5))
	binary.BigEndian.PutUint64(b[len(b)-13:], uint64(adler32.Checksum(b[:len(b)-13])))
	w, err := store.CreateSnapshot(5)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := store.Append(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	return store
}

func TestVerifySettlesSnapshotAheadOfItsTrailer(t *testing.T) {
	var out bytes.Buffer
	rep := VerifyStore(context.Background(), aheadOfTrailer(t, true), &out, VerifyOptions{MaxDigestReports: 10})
	if rep.Errors+rep.Warnings != 0 {
		t.Fatalf("with TxnDigests the replay settles it:\n%s", out.String())
	}
	wantAll(t, "settled", out.String(), "not its trailer's", "snapshot.5: its nodes were ahead of its trailer's digest", "3 match, 0 differ")

	out.Reset()
	rep = VerifyStore(context.Background(), aheadOfTrailer(t, false), &out, VerifyOptions{MaxDigestReports: 10})
	if rep.Errors != 0 || rep.Warnings != 1 {
		t.Fatalf("without TxnDigests it stays a warning:\n%s", out.String())
	}
	wantAll(t, "unsettled", out.String(), "WARNING snapshot.5: its nodes sum to", "no TxnDigest to settle")
}
