package offline

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sys/unix"

	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/node"
	"github.com/zabkit/zabkit/internal/testzk"
	"github.com/zabkit/zabkit/stores/file"
)

// fixtureRoot holds the data directories generated once per test run;
// tests copy them before changing anything.
var fixtureRoot string

func TestMain(m *testing.M) {
	var err error
	if fixtureRoot, err = os.MkdirTemp("", "zabkit-offline-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(fixtureRoot)
	os.Exit(code)
}

// workload describes what runWorkload did: it causes every txn type a
// client can, with a session that ends (closeSession) and one left open.
type workload struct {
	sessionOpen int64
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

func connect(t testing.TB, addr string) *zk.Conn {
	t.Helper()
	// 30s sessions: the session a fixture leaves open must not expire
	// (and log a closeSession) while a restarted server runs.
	c, _, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for c.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			t.Fatalf("no session with %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c
}

func runWorkload(t testing.TB, addr string) workload {
	t.Helper()
	acl := zk.WorldACL(zk.PermAll)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	c := connect(t, addr)
	must(c.Create("/app", []byte("root data"), 0, acl))
	// The one new ACL list comes first, before ZooKeeper (snapCount 10)
	// can take its first snapshot (after txn 6 at the earliest): a
	// snapshot walk that sees a node use an ACL list added after the walk
	// wrote its ACL section makes a snapshot zabkit's loader refuses
	// (ZooKeeper's ignores the unknown key and replay repairs the node).
	must(c.Create("/app/acl", []byte("secret"), 0, acl))
	must(c.SetACL("/app/acl", zk.DigestACL(zk.PermRead, "bob", "secret"), -1))
	for i := range 30 {
		must(c.Create(fmt.Sprintf("/app/n%02d", i), []byte(fmt.Sprintf("value-%d", i)), 0, acl))
	}
	must(c.Set("/app/n01", []byte{0, 1, 2, 0xff}, 0))
	must(c.Create("/app/seq-", nil, zk.FlagSequence, acl))
	must(c.CreateContainer("/app/box", nil, zk.FlagTTL&0|4, acl))
	must(c.Create("/app/box/item", []byte("i"), 0, acl))
	must(c.CreateTTL("/app/ttl", []byte("t"), zk.FlagTTL, acl, time.Hour))
	if err := c.Delete("/app/n29", -1); err != nil {
		t.Fatal(err)
	}
	must(c.Multi(&zk.CreateRequest{Path: "/app/m1", Data: []byte("m"), Acl: acl}, &zk.SetDataRequest{Path: "/app/n03", Data: []byte("multi"), Version: -1}))
	if _, err := c.Multi(&zk.CreateRequest{Path: "/app/m2", Acl: acl}, &zk.DeleteRequest{Path: "/nope", Version: -1}); err == nil {
		t.Fatal("failing multi succeeded")
	}
	gone := connect(t, addr)
	must(gone.Create("/app/gone", []byte("e"), zk.FlagEphemeral, acl))
	gone.Close() // closeSession deletes its ephemeral
	must(c.Create("/app/eph", []byte("stays"), zk.FlagEphemeral, acl))
	w := workload{sessionOpen: c.SessionID()}
	// The connection is dropped, not closed: the session and its
	// ephemeral stay in the data as a crash leaves them.
	return w
}

// tailTxns is how many txns runTail logs: a createSession, then creates.
const tailTxns = 6

// runTail logs tailTxns txns with a new session, the last one a create of
// /tail/last with data "last"; the session stays open.
func runTail(t testing.TB, addr string) {
	t.Helper()
	c := connect(t, addr)
	for _, p := range []string{"/tail", "/tail/a", "/tail/b", "/tail/c", "/tail/last"} {
		if _, err := c.Create(p, []byte(path.Base(p)), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	zkOnce, zabOnce sync.Once
	zkWork, zabWork workload
	zkDir, zabDir   string
)

// zkFixture is a data directory Apache ZooKeeper 3.8 wrote (snapCount 10,
// so several snapshots and logs), killed with SIGKILL once its snapshots
// are complete.
func zkFixture(t testing.TB) (string, workload) {
	zkOnce.Do(func() {
		dir := filepath.Join(fixtureRoot, "zookeeper")
		srv := testzk.Start(t, testzk.Options{DataDir: dir, SnapCount: 10, ExtendedTypes: true})
		zkWork = runWorkload(t, srv.Addr)
		// ZooKeeper writes snapshots in the background: wait until they
		// all load before the kill, so the fixture is clean.
		deadline := time.Now().Add(20 * time.Second)
		for {
			err := snapshotsComplete(filepath.Join(dir, file.VersionDir))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ZooKeeper's snapshots never completed: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		srv.Stop()
		// A restart with the default snapCount snapshots the recovered
		// state at once, then logs the tail without another snapshot:
		// the fixture always has txns after its newest snapshot.
		srv = testzk.Start(t, testzk.Options{DataDir: dir, ExtendedTypes: true})
		runTail(t, srv.Addr)
		srv.Stop()
		zkDir = dir
	})
	if zkDir == "" {
		t.Fatal("the ZooKeeper fixture failed earlier")
	}
	return zkDir, zkWork
}

func snapshotsComplete(dir string) error {
	m, _ := filepath.Glob(filepath.Join(dir, "snapshot.*"))
	if len(m) < 2 {
		return fmt.Errorf("%d snapshots", len(m))
	}
	for _, p := range m {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, _, err = datatree.ReadSnapshot(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// zabkitFixture is a data directory zabkit's file store wrote, from an
// in-process node with snapCount 10, stopped cleanly (shutdown snapshot).
func zabkitFixture(t testing.TB) (string, workload) {
	zabOnce.Do(func() {
		dir := filepath.Join(fixtureRoot, "zabkit")
		cfg := config.Default()
		cfg.DataDir = dir
		cfg.ClientPort = 0
		cfg.ClientPortAddress = "127.0.0.1"
		cfg.SnapCount = 10
		cfg.ExtendedTypesEnabled = true
		cfg.MaxClientCnxns = 0
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		st, err := file.Open(file.Options{DataDir: dir, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		n, err := node.Open(&cfg, st, log)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Listen(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		zabWork = runWorkload(t, n.Server().Addr().String())
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		zabDir = dir
	})
	if zabDir == "" {
		t.Fatal("the zabkit fixture failed earlier")
	}
	return zabDir, zabWork
}

// copyDir copies a data directory tree so a test can damage its copy.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copySparse(p, target, info.Size())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// copySparse copies only the data regions of src and leaves its holes
// holes: a log is 64 MiB of mostly pre-allocated hole, and copying the
// zeros would dominate the tests' run time (under -race above all).
func copySparse(src, dst string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	fd := int(in.Fd())
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break
		}
		if err != nil {
			return err
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, data), io.NewSectionReader(in, data, hole-data)); err != nil {
			return err
		}
		off = hole
	}
	return out.Truncate(size)
}

// rewriteLog replaces the records of a log file (everything before its
// zero padding) with what change makes of them, keeping the file's size.
func rewriteLog(t testing.TB, path string, change func(records []byte) []byte) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	recs := recordStarts(t, path)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, recs[len(recs)-1])
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	b = change(b)
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(st.Size()); err != nil {
		t.Fatal(err)
	}
}

// recordStarts returns the offsets of a clean log's records and, last,
// the offset where they end.
func recordStarts(t testing.TB, path string) []int64 {
	t.Helper()
	f, err := file.OSFS{}.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	s := file.NewLogScanner(f, st.Size())
	var out []int64
	for {
		it, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, it.Offset)
		if it.Kind != file.LogRecord {
			return out
		}
	}
}

// files lists the data directory's files with a prefix, by zxid.
func files(t testing.TB, dir, prefix string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, file.VersionDir))
	if err != nil {
		t.Fatal(err)
	}
	type f struct {
		path string
		z    int64
	}
	var out []f
	for _, e := range ents {
		if z, ok := file.ParseName(e.Name(), prefix); ok {
			out = append(out, f{filepath.Join(dir, file.VersionDir, e.Name()), z})
		}
	}
	for i := range out { // insertion sort: a handful of files
		for j := i; j > 0 && out[j].z < out[j-1].z; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	paths := make([]string, len(out))
	for i, x := range out {
		paths[i] = x.path
	}
	return paths
}

// zkLastZxid is the last zxid of the ZooKeeper fixture: the workload's
// 0x2e, then the tail.
const zkLastZxid = 0x2e + tailTxns

// last returns the last element.
func last(s []string) string { return s[len(s)-1] }

// zxidAt returns the zxid of record i of a log file.
func zxidAt(t *testing.T, path string, i int) int64 {
	t.Helper()
	recs := recordStarts(t, path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [8]byte
	if _, err := f.ReadAt(b[:], recs[i]+12+12); err != nil { // record header, then TxnHeader's clientId and cxid
		t.Fatal(err)
	}
	return int64(binary.BigEndian.Uint64(b[:]))
}

// flipByte inverts the lowest bit of the byte at off.
func flipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}
