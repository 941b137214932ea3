package pebble_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	pdb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/pebble"
)

// readRaw returns every key and value of the Pebble database of a closed
// store directory, as another program would see them.
func readRaw(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	db, err := pdb.Open(filepath.Join(dir, "db"), &pdb.Options{Logger: pebbleQuiet{}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	kv := map[string][]byte{}
	for ok := it.First(); ok; ok = it.Next() {
		kv[string(it.Key())] = bytes.Clone(it.Value())
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return kv
}

// logKeys returns the zxids of the log keys in kv, in order.
func logKeys(kv map[string][]byte) []int64 {
	var out []int64
	for k := range kv {
		if z, ok := strings.CutPrefix(k, "log/"); ok {
			out = append(out, int64(binary.BigEndian.Uint64([]byte(z))))
		}
	}
	for i := 1; i < len(out); i++ { // few keys: insertion sort
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func logKey(zxid int64) string {
	return "log/" + string(binary.BigEndian.AppendUint64(nil, uint64(zxid)))
}

// One Append is one log key however many entries it has (that is what
// makes a large group commit cheap), except that an Append of more than
// a megabyte is split into records of about that size, all committed in
// the same batch. Reads from and truncation at any point of a record see
// exactly the right entries, also after a restart.
func TestOneRecordPerAppend(t *testing.T) {
	dir := t.TempDir()
	opts := pebble.Options{Dir: dir, ForceSync: true}
	s := mustOpen(t, opts)
	small := storetest.Entries(100, storetest.Range(1, 1, 256)...)
	storetest.MustAppend(t, s, small...)
	big := storetest.Entries(4096, storetest.Range(1, 257, 556)...) // ~1.2 MiB
	storetest.MustAppend(t, s, big...)
	want := append(small, big...)
	s.Close()

	keys := logKeys(readRaw(t, dir))
	if len(keys) != 3 || keys[0] != storetest.Zxid(1, 1) || keys[1] != storetest.Zxid(1, 257) {
		t.Fatalf("log keys %x; want one for the first Append and two for the 1.2 MiB one", keys)
	}
	split := keys[2] // the first zxid of the big Append's second record

	s = mustOpen(t, opts)
	defer s.Close()
	if s.LastZxid() != storetest.Zxid(1, 556) || s.FirstZxid() != storetest.Zxid(1, 1) {
		t.Fatalf("FirstZxid %#x LastZxid %#x after reopening", s.FirstZxid(), s.LastZxid())
	}
	for _, after := range []int64{split - 2, split - 1, split, split + 1, storetest.Zxid(1, 255), storetest.Zxid(1, 256)} {
		storetest.CheckLog(t, s, after, want[after-storetest.Zxid(1, 0):])
	}
	// Inside the second record, at the split, then inside the first.
	for _, cut := range []int64{split + 3, split - 1, storetest.Zxid(1, 100)} {
		if err := s.TruncateAfter(cut); err != nil {
			t.Fatal(err)
		}
		want = want[:cut-storetest.Zxid(1, 0)]
		if s.LastZxid() != cut {
			t.Fatalf("LastZxid after TruncateAfter(%#x) = %#x", cut, s.LastZxid())
		}
		storetest.CheckLog(t, s, 0, want)
	}
	next := storetest.Entries(100, storetest.Range(1, 101, 110)...)
	storetest.MustAppend(t, s, next...)
	want = append(want, next...)
	s.Close()
	if keys := logKeys(readRaw(t, dir)); len(keys) != 2 || keys[1] != storetest.Zxid(1, 101) {
		t.Fatalf("log keys after truncating inside the first record and appending: %x", keys)
	}
	s = mustOpen(t, opts)
	storetest.CheckLog(t, s, 0, want)
}

// v1Database writes a pebble-v1 store as the previous layout did: one
// key per entry holding its Data, epochs as 8-byte big-endian. The
// entries span two epochs and a gap after a snapshot, and about 3 MiB, so
// the upgrade takes several batches.
func v1Database(t *testing.T, dir string) (ext.Meta, []ext.Entry) {
	t.Helper()
	zxids := append(storetest.Range(1, 1, 1500), storetest.Range(2, 1, 1000)...)
	zxids = append(zxids, storetest.Range(2, 1200, 1700)...)
	log := storetest.Entries(1000, zxids...)
	meta := ext.Meta{CurrentEpoch: 2, AcceptedEpoch: 3, DBID: 7, LastVote: []byte("vote")}
	be := func(v int64) string { return string(binary.BigEndian.AppendUint64(nil, uint64(v))) }
	kv := map[string]string{
		"meta/format":        "pebble-v1",
		"meta/currentEpoch":  be(meta.CurrentEpoch),
		"meta/acceptedEpoch": be(meta.AcceptedEpoch),
		"meta/dbid":          be(meta.DBID),
		"meta/lastVote":      string(meta.LastVote),
	}
	for _, e := range log {
		kv[logKey(e.Zxid)] = string(e.Data)
	}
	writeRaw(t, dir, kv)
	return meta, log
}

// checkUpgraded checks a store opened on a v1Database: the same log and
// metadata, in the current format, and a log that goes on.
func checkUpgraded(t *testing.T, dir string, meta ext.Meta, log []ext.Entry) {
	t.Helper()
	s := mustOpen(t, pebble.Options{Dir: dir, ForceSync: true})
	if f := s.Capabilities().Format; f != pebble.FormatName || f == "pebble-v1" {
		t.Fatalf("format after upgrade = %q", f)
	}
	storetest.CheckLog(t, s, 0, log)
	storetest.CheckLog(t, s, storetest.Zxid(2, 1100), log[2500:])
	last := log[len(log)-1].Zxid
	if s.FirstZxid() != log[0].Zxid || s.LastZxid() != last {
		t.Fatalf("FirstZxid %#x LastZxid %#x after upgrade", s.FirstZxid(), s.LastZxid())
	}
	if got, err := s.LoadMeta(); err != nil || got.CurrentEpoch != meta.CurrentEpoch ||
		got.AcceptedEpoch != meta.AcceptedEpoch || got.DBID != meta.DBID || string(got.LastVote) != string(meta.LastVote) {
		t.Fatalf("LoadMeta after upgrade = %+v, %v; want %+v", got, err, meta)
	}
	storetest.MustAppend(t, s, storetest.Entry(last+1, 10))
	s.Close()

	kv := readRaw(t, dir)
	if string(kv["meta/format"]) != pebble.FormatName {
		t.Fatalf("meta/format = %q after upgrade", kv["meta/format"])
	}
	if _, ok := kv["meta/upgradedThrough"]; ok {
		t.Fatal("the upgrade marker is still there after a complete upgrade")
	}
	// Records of up to 1 MiB: hundreds of entries each.
	if n := len(logKeys(kv)); n*250 > len(log) {
		t.Fatalf("%d log keys after upgrading %d entries (~3 MiB)", n, len(log))
	}
}

// Open upgrades a pebble-v1 database in place.
func TestUpgradeFromV1(t *testing.T) {
	dir := t.TempDir()
	meta, log := v1Database(t, dir)
	checkUpgraded(t, dir, meta, log)
	checkUpgraded(t, dir, meta, append(log, storetest.Entry(log[len(log)-1].Zxid+1, 10))) // reopening: nothing left to do
}

// upgradeChildEnv makes the test binary an upgrading process that dies
// by SIGKILL as it is about to sync its WAL for the k-th time:
// "<dir>:<k>".
const upgradeChildEnv = "ZABKIT_PEBBLE_UPGRADE_CHILD"

// upgradeChildMain is the child of TestUpgradeKilled; it returns if this
// process is not one.
func upgradeChildMain() {
	arg := os.Getenv(upgradeChildEnv)
	if arg == "" {
		return
	}
	i := strings.LastIndexByte(arg, ':')
	dir := arg[:i]
	k, _ := strconv.ParseInt(arg[i+1:], 10, 64)
	var syncs atomic.Int64
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			if strings.HasSuffix(op.Path, ".log") && syncs.Add(1) == k {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
		return nil
	}))
	s, err := pebble.Open(pebble.Options{Dir: dir, ForceSync: true, FS: fs, Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "upgrade child:", err)
		os.Exit(3)
	}
	s.Close()
	os.Exit(0)
}

// A process killed at any point of an upgrade (here: as it is about to
// make each of its synced batches durable) leaves a database that the
// next Open upgrades completely, with nothing lost or doubled.
func TestUpgradeKilled(t *testing.T) {
	partial := 0
	for k := 1; ; k++ {
		dir := t.TempDir()
		meta, log := v1Database(t, dir)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", upgradeChildEnv, dir, k))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err == nil:
			if partial == 0 {
				t.Fatal("no kill left an upgrade half done")
			}
			t.Logf("%d of %d kills left an upgrade half done; all were resumed", partial, k-1)
			return
		case !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL:
			t.Fatalf("upgrade child: %v\n%s", err, out)
		}
		if kv := readRaw(t, dir); kv["meta/upgradedThrough"] != nil {
			partial++
		}
		checkUpgraded(t, dir, meta, log)
	}
}

// A database with an upgrade marker but a malformed one is refused, not
// half read.
func TestUpgradeMarkerCorrupt(t *testing.T) {
	dir := t.TempDir()
	writeRaw(t, dir, map[string]string{"meta/format": pebble.FormatName, "meta/upgradedThrough": "x"})
	s, err := pebble.Open(pebble.Options{Dir: dir, Logger: quietLogger()})
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a malformed upgrade marker")
	}
	if !errors.Is(err, ext.ErrCorrupt) {
		t.Fatalf("Open: %v; want ErrCorrupt", err)
	}
}
