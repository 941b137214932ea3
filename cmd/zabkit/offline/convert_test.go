package offline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/stores/file"
	"github.com/zabkit/zabkit/stores/mem"
)

// readOnlySource opens a data directory as convert opens a store.file
// source.
func readOnlySource(t *testing.T, dir string) ext.Store {
	t.Helper()
	s, err := openStore(context.Background(), fileConfig(dir), true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openFile(t *testing.T, dir string) *file.Store {
	t.Helper()
	s, err := file.Open(file.Options{DataDir: dir, ForceSync: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConvertRoundTrip copies ZooKeeper's directory into store.mem and
// back into a new store.file directory, checking each copy with verify.
func TestConvertRoundTrip(t *testing.T) {
	ctx := context.Background()
	zk, _ := zkFixture(t)
	before := snapshotOfDir(t, zk)
	src := readOnlySource(t, zk)
	nsnaps := len(files(t, zk, file.SnapshotPrefix))

	disk := mem.NewDisk()
	res, err := CopyStore(ctx, src, mem.Open(disk), CopyOptions{})
	if err != nil {
		t.Fatalf("file -> mem: %v", err)
	}
	if len(res.Snapshots) != nsnaps || res.Txns != zkLastZxid || res.FirstTxn != 1 || res.LastTxn != zkLastZxid {
		t.Fatalf("file -> mem copied %+v", res)
	}
	if res.Source.LastZxid != zkLastZxid || res.Source.Digest != res.Dest.Digest || len(res.Dest.Sessions) != 2 {
		t.Fatalf("recovered %+v / %+v", res.Source, res.Dest)
	}
	var out bytes.Buffer
	if rep := VerifyStore(ctx, mem.Open(disk), &out, VerifyOptions{MaxDigestReports: 10, AllSnapshots: true}); rep.Errors+rep.Warnings != 0 {
		t.Fatalf("the mem copy does not verify:\n%s", out.String())
	}
	if m := digestMatches(out.String()); len(m) == 0 || m[0] != fmt.Sprint(zkLastZxid) {
		t.Errorf("the copy's TxnDigests: %v\n%s", m, out.String())
	}

	back := t.TempDir()
	dst := openFile(t, back)
	res2, err := CopyStore(ctx, mem.Open(disk), dst, CopyOptions{})
	if err != nil {
		t.Fatalf("mem -> file: %v", err)
	}
	if res2.Dest.Digest != res.Source.Digest || res2.Txns != zkLastZxid {
		t.Fatalf("mem -> file: %+v", res2)
	}
	dst.Close()
	rep, vout := verifyDir(t, back, VerifyOptions{})
	if rep.Errors+rep.Warnings != 0 {
		t.Fatalf("the file copy does not verify:\n%s", vout)
	}
	// The log is rolled at each snapshot, as ZooKeeper lays it out.
	if logs := files(t, back, file.LogPrefix); len(logs) != nsnaps {
		t.Errorf("%d logs for %d snapshots", len(logs), nsnaps)
	}
	text, _ := dumpText(t, last(files(t, back, file.LogPrefix)), DumpOptions{DataLimit: 64})
	wantAll(t, "dump of the copy", text, `create path=/tail/last data="last"`, "digest=v2:0x")

	if snapshotOfDir(t, zk) != before {
		t.Error("convert changed its source")
	}
}

func TestConvertDestinationRules(t *testing.T) {
	ctx := context.Background()
	zk, _ := zkFixture(t)
	src := readOnlySource(t, zk)
	dir := t.TempDir()
	dst := openFile(t, dir)
	if _, err := CopyStore(ctx, src, dst, CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := CopyStore(ctx, src, dst, CopyOptions{}); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("copy into a non-empty store: %v", err)
	}
	// --force with --snapshots 1: only the newest snapshot and the log
	// after it remain.
	res, err := CopyStore(ctx, src, dst, CopyOptions{Force: true, Snapshots: 1})
	if err != nil {
		t.Fatal(err)
	}
	newest := last(files(t, zk, file.SnapshotPrefix))
	if len(res.Snapshots) != 1 || !strings.HasSuffix(newest, res.Snapshots[0]) || res.Txns != tailTxns {
		t.Fatalf("--snapshots 1 copied %+v", res)
	}
	if got := files(t, dir, file.SnapshotPrefix); len(got) != 1 {
		t.Fatalf("the destination has snapshots %v", got)
	}
	if dst.FirstZxid() != zkLastZxid-tailTxns+1 {
		t.Fatalf("the destination log starts at %#x", dst.FirstZxid())
	}

	// A source with an unreadable newest snapshot: it is not copied, and
	// both sides recover from the one before.
	broken := copyDir(t, zk)
	p := last(files(t, broken, file.SnapshotPrefix))
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/2], 0o644)
	res, err = CopyStore(ctx, readOnlySource(t, broken), mem.New(), CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 1 || res.Dest.LastZxid != zkLastZxid {
		t.Fatalf("broken source: %+v", res)
	}

	// A store that fails to take a snapshot fails the copy.
	if _, err := CopyStore(ctx, src, failingSnapshots{mem.New()}, CopyOptions{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("a failing destination: %v", err)
	}
}

// failingSnapshots is a store whose snapshot writes fail, as on a full disk.
type failingSnapshots struct{ ext.Store }

func (f failingSnapshots) CreateSnapshot(zxid int64) (ext.SnapshotWriter, error) {
	w, err := f.Store.CreateSnapshot(zxid)
	return failingWriter{w}, err
}

type failingWriter struct{ ext.SnapshotWriter }

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

var _ io.Writer = failingWriter{}
