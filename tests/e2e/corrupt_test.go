package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
	"github.com/zabkit/zabkit/internal/zkraw"
	"github.com/zabkit/zabkit/tests/internal/launch"
)

// logRecordOffsets returns where each record of a ZooKeeper txn log starts
// (after the 16-byte file header: crc 8, length 4, txn, end-of-record 1)
// and the zxid in each record's TxnHeader.
func logRecordOffsets(t *testing.T, b []byte) (offs []int, zxids []int64) {
	t.Helper()
	for off := 16; off+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off+8:]))
		if n == 0 {
			break // pre-allocated zeros
		}
		if off+12+n+1 > len(b) || n < 20 {
			t.Fatalf("log record at %d claims %d bytes", off, n)
		}
		offs = append(offs, off)
		zxids = append(zxids, int64(binary.BigEndian.Uint64(b[off+12+12:]))) // clientId 8, cxid 4, zxid
		off += 12 + n + 1
	}
	return offs, zxids
}

// TestCorruptLogRefusesStart (zabkit only: ZooKeeper has no such switch):
// a txn log damaged in the middle stops `zabkit server` at start-up with a
// message naming the file and the offset; with
// --set store.options.recoverCorrupt=true it starts from the valid prefix.
func TestCorruptLogRefusesStart(t *testing.T) {
	srv := launch.StartZabkit(t, launch.Options{})
	ctx := testCtx(t)
	c := rawDial(t, srv.Addr, zkraw.Options{})
	var zxids []int64 // of each acknowledged create
	for i := range 6 {
		f, err := c.Call(ctx, jute.OpCreate, &jute.CreateRequest{Path: fmt.Sprintf("/corrupt-%d", i), Data: []byte("data"), ACL: zkraw.OpenACL})
		if err != nil || f.Err() != 0 {
			t.Fatalf("create %d: %v %v", i, f, err)
		}
		zxids = append(zxids, f.Header.Zxid)
	}
	srv.Kill() // no shutdown snapshot: the restart has to replay the log

	logs, err := filepath.Glob(filepath.Join(srv.DataDir, "version-2", "log.*"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("txn logs %v, %v; want one", logs, err)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	offs, recZxids := logRecordOffsets(t, b)
	// Damage the record of the third create: records after it prove the
	// writer went on, so this is corruption, not a torn tail.
	bad := -1
	for i, z := range recZxids {
		if z == zxids[2] {
			bad = i
		}
	}
	if bad < 1 || bad == len(offs)-1 {
		t.Fatalf("record of zxid %#x at index %d of %d", zxids[2], bad, len(offs))
	}
	b[offs[bad]+12+30] ^= 0xff // inside the txn, so the CRC no longer matches
	if err := os.WriteFile(logs[0], b, 0o644); err != nil {
		t.Fatal(err)
	}

	bin, err := launch.ZabkitBinary()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(srv.Dir, "zoo.cfg")
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(runCtx, bin, "server", "--config", cfg).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("zabkit server on a corrupt log: %v, want a non-zero exit\n%s", err, out)
	}
	if want := fmt.Sprint(offs[bad]); !strings.Contains(string(out), logs[0]) || !strings.Contains(string(out), want) {
		t.Fatalf("start-up error does not name %s and offset %s:\n%s", logs[0], want, out)
	}
	if after, _ := os.ReadFile(logs[0]); string(after) != string(b) {
		t.Fatal("the refused start modified the log")
	}

	// With the recovery switch it cuts the log at the damage and serves.
	cmd := exec.Command(bin, "server", "--config", cfg, "--set", "store.options.recoverCorrupt=true")
	logPath := filepath.Join(t.TempDir(), "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	serverLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if out, err := launch.FourLetter(srv.Addr, "ruok", time.Second); err == nil && out == "imok" {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("zabkit server with recoverCorrupt exited: %v\n%s", err, serverLog())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("zabkit server with recoverCorrupt not serving after 30 s\n%s", serverLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c = rawDial(t, srv.Addr, zkraw.Options{})
	for i := range zxids {
		_, err := c.Exists(ctx, fmt.Sprintf("/corrupt-%d", i), false)
		switch {
		case i < 2 && err != nil:
			t.Errorf("/corrupt-%d, before the damage, is gone: %v", i, err)
		case i >= 2 && !errors.Is(err, zkerr.NoNode):
			t.Errorf("/corrupt-%d, at or after the damage, survived the cut: %v", i, err)
		}
	}
	if !strings.Contains(serverLog(), "cutting txn log at corrupt record") {
		t.Errorf("the cut is not logged:\n%s", serverLog())
	}
}
