package offline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/stores/file"
)

// dumpText dumps one file and returns the text and whether it is damaged.
func dumpText(t *testing.T, path string, opts DumpOptions) (string, bool) {
	t.Helper()
	var b bytes.Buffer
	damaged, err := DumpFile(&b, path, opts)
	if err != nil {
		t.Fatalf("dump %s: %v", path, err)
	}
	return b.String(), damaged
}

// dumpJSON dumps one file as JSON lines and decodes every line.
func dumpJSON(t *testing.T, path string) []map[string]any {
	t.Helper()
	out, _ := dumpText(t, path, DumpOptions{JSON: true, DataLimit: defaultDataLimit})
	var objs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		objs = append(objs, m)
	}
	return objs
}

func wantAll(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// TestDumpZooKeeperLogs dumps the logs Apache ZooKeeper wrote: every zxid
// appears once, in order, with its checksum, and each kind of txn shows
// its fields.
func TestDumpZooKeeperLogs(t *testing.T) {
	dir, _ := zkFixture(t)
	var all strings.Builder
	for _, p := range files(t, dir, file.LogPrefix) {
		out, damaged := dumpText(t, p, DumpOptions{DataLimit: defaultDataLimit})
		if damaged {
			t.Errorf("%s reported damaged:\n%s", p, out)
		}
		wantAll(t, p, out, "ZooKeeper txn log, magic 0x5a4b4c47 version 2 dbid 0", "zero padding to", "0 damaged regions")
		all.WriteString(out)
	}
	out := all.String()
	wantAll(t, "ZooKeeper logs", out,
		"cxid 0x0 zxid 0x1 createSession timeout=30000 digest=v2:0x",
		`create path=/app data="root data" acl=[world:anyone:cdrwa] ephemeral=false parentCVersion=1`,
		"setData path=/app/n01 data=0x000102ff version=1",
		"setACL path=/app/acl acl=[digest:bob:",
		"createContainer path=/app/box data=null",
		`createTTL path=/app/ttl data="t"`, "ttl=3600000",
		"delete path=/app/n29",
		"multi ops=2", "    [1] setData path=/app/n03", "    [1] error err=-101(NONODE)",
		"closeSession paths=[/app/gone]",
		"adler32 0x", " ok]")
	last := 0
	for z := 1; ; z++ {
		n := strings.Count(out, fmt.Sprintf(" zxid 0x%x ", z))
		if n == 0 {
			break
		}
		if n != 1 {
			t.Errorf("zxid %#x appears %d times", z, n)
		}
		last = z
	}
	if last != zkLastZxid {
		t.Errorf("zxids stop at %#x", last)
	}

	// The JSON form carries the same facts.
	var found bool
	for _, p := range files(t, dir, file.LogPrefix) {
		for _, o := range dumpJSON(t, p) {
			if o["kind"] == "txn" && o["type"] == "setData" && o["path"] == "/app/n01" {
				found = true
				data := o["data"].(map[string]any)
				if data["hex"] != "000102ff" || data["length"] != 4.0 || o["digest"] == nil {
					t.Errorf("setData as JSON: %v", o)
				}
			}
		}
	}
	if !found {
		t.Error("JSON dump lacks the setData of /app/n01")
	}
}

// TestDumpSnapshots dumps ZooKeeper's newest snapshot and zabkit's
// shutdown snapshot.
func TestDumpSnapshots(t *testing.T) {
	dir, w := zkFixture(t)
	snaps := files(t, dir, file.SnapshotPrefix)
	out, damaged := dumpText(t, snaps[len(snaps)-1], DumpOptions{DataLimit: defaultDataLimit})
	if damaged {
		t.Fatalf("ZooKeeper snapshot reported damaged:\n%s", out)
	}
	wantAll(t, "ZooKeeper snapshot", out, "ZooKeeper snapshot, magic 0x5a4b534e version 2 dbid -1",
		fmt.Sprintf("session %#x timeout 30000", w.sessionOpen),
		"key 1: [world:anyone:r]", "[digest:bob:",
		"  / czxid=0x0", "  /app czxid=0x2 mzxid=0x2", `data="root data"`,
		"ephemeralOwner=0x8000000000000000 (container)", "(ttl 3600000ms)",
		"/app/n01 czxid=0x6 mzxid=0x23", "data=0x000102ff", "/app/eph czxid=0x2e mzxid=0x2e pzxid=0x2e",
		fmt.Sprintf("ephemeralOwner=%#x dataLength=5 data=\"stays\"", w.sessionOpen),
		"tree checksum @", "digest checksum @", "tree digest of the nodes: 0x")
	if strings.Contains(out, "MISMATCH") || strings.Contains(out, "BAD") {
		t.Errorf("clean snapshot shows damage:\n%s", out)
	}

	zdir, zw := zabkitFixture(t)
	zsnaps := files(t, zdir, file.SnapshotPrefix)
	out, damaged = dumpText(t, zsnaps[len(zsnaps)-1], DumpOptions{DataLimit: -1})
	if damaged {
		t.Fatalf("zabkit snapshot reported damaged:\n%s", out)
	}
	wantAll(t, "zabkit snapshot", out, "/app/eph czxid=", fmt.Sprintf("ephemeralOwner=%#x dataLength=5 data=\"stays\"", zw.sessionOpen),
		"matches the trailer")
	nodes := 0
	for _, o := range dumpJSON(t, zsnaps[len(zsnaps)-1]) {
		if o["kind"] == "node" {
			nodes++
		}
	}
	if got := strings.Count(out, "\n  /"); nodes != got || nodes < 40 {
		t.Errorf("JSON has %d nodes, text %d", nodes, got)
	}
}

// TestDumpDamage shows damage where it is and carries on.
func TestDumpDamage(t *testing.T) {
	dir, _ := zkFixture(t)
	logs := files(t, dir, file.LogPrefix)
	recs := recordStarts(t, logs[1])
	tmp := t.TempDir()

	p := filepath.Join(tmp, "log.flipped")
	copySparse(logs[1], p, recs[len(recs)-1]+100)
	flipByte(t, p, recs[1]+30)
	out, damaged := dumpText(t, p, DumpOptions{DataLimit: defaultDataLimit})
	if !damaged {
		t.Errorf("flipped byte not reported:\n%s", out)
	}
	wantAll(t, "flipped log", out, fmt.Sprintf("BAD @%d: checksum mismatch; next valid record @%d", recs[1], recs[2]), "1 damaged regions")
	if strings.Count(out, " ok]") != len(recs)-2 { // recs ends with the end offset
		t.Errorf("the records after the damage are not all shown:\n%s", out)
	}

	p = filepath.Join(tmp, "log.torn")
	copySparse(logs[1], p, recs[len(recs)-2]+20)
	out, damaged = dumpText(t, p, DumpOptions{DataLimit: defaultDataLimit})
	if damaged {
		t.Errorf("a torn tail is not damage:\n%s", out)
	}
	wantAll(t, "torn log", out, fmt.Sprintf("TORN @%d:", recs[len(recs)-2]), "torn tail")

	snaps := files(t, dir, file.SnapshotPrefix)
	snap, err := os.ReadFile(snaps[len(snaps)-1])
	if err != nil {
		t.Fatal(err)
	}
	p = filepath.Join(tmp, "snapshot.cut")
	os.WriteFile(p, snap[:len(snap)/2], 0o644)
	out, damaged = dumpText(t, p, DumpOptions{DataLimit: defaultDataLimit})
	if !damaged {
		t.Errorf("truncated snapshot not reported:\n%s", out)
	}
	wantAll(t, "truncated snapshot", out, "BAD: truncated in ")

	bad := bytes.Clone(snap)
	i := bytes.Index(bad, []byte("root data"))
	bad[i] = 'R'
	p = filepath.Join(tmp, filepath.Base(snaps[len(snaps)-1]))
	os.WriteFile(p, bad, 0o644)
	out, damaged = dumpText(t, p, DumpOptions{DataLimit: defaultDataLimit})
	if !damaged {
		t.Errorf("changed byte not reported:\n%s", out)
	}
	wantAll(t, "changed snapshot", out, `data="Root data"`, "tree checksum @", "MISMATCH (content sums to")

	if _, err := DumpFile(&bytes.Buffer{}, filepath.Join(dir, file.VersionDir, "..", file.VersionDir), DumpOptions{}); err == nil {
		t.Error("dumping a directory succeeded")
	}
	p = filepath.Join(tmp, "other")
	os.WriteFile(p, []byte("hello, world"), 0o644)
	if _, err := DumpFile(&bytes.Buffer{}, p, DumpOptions{}); !errors.Is(err, ErrNotZooKeeperFile) {
		t.Errorf("a text file: %v", err)
	}
}

func TestDumpCommand(t *testing.T) {
	dir, _ := zkFixture(t)
	logs := files(t, dir, file.LogPrefix)
	var out, errb bytes.Buffer
	if code := Dump([]string{logs[0], "--json"}, &out, &errb); code != exitOK || !strings.HasPrefix(out.String(), `{"dbid":0`) {
		t.Errorf("exit %d, stdout %.80q, stderr %q", code, out.String(), errb.String())
	}
	if code := Dump(nil, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "usage: zabkit dump") {
		t.Errorf("no file: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := Dump([]string{filepath.Join(dir, "nope")}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "no such file") {
		t.Errorf("missing file: exit %d, stderr %q", code, errb.String())
	}
}
