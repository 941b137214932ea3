package file_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/testzk"
	"github.com/zabkit/zabkit/stores/file"
)

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

func connect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawRecords walks a log file independently of the store and returns the
// number of records whose Adler32 (over the entry bytes only) verifies;
// it fails on any that does not.
func rawRecords(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "ZKLG" || binary.BigEndian.Uint32(b[4:]) != 2 {
		t.Fatalf("%s: bad header %q", path, b[:8])
	}
	n := 0
	for off := 16; off+12 <= len(b); {
		sum := binary.BigEndian.Uint64(b[off:])
		ln := int(binary.BigEndian.Uint32(b[off+8:]))
		if ln == 0 {
			break
		}
		data := b[off+12 : off+12+ln]
		if uint64(adler32.Checksum(data)) != sum || b[off+12+ln] != 'B' {
			t.Fatalf("%s: record at %d does not verify", path, off)
		}
		n++
		off += 12 + ln + 1
	}
	return n
}

// TestInteropWithApacheZooKeeper checks byte compatibility both ways:
// the store reads a data dir Apache ZooKeeper 3.8 wrote, appends txns of
// its own, and ZooKeeper then starts from the result and serves them.
func TestInteropWithApacheZooKeeper(t *testing.T) {
	dir := t.TempDir()
	srv := testzk.Start(t, testzk.Options{DataDir: dir, Config: map[string]string{"forceSync": "yes"}})
	c := connect(t, srv.Addr)
	acl := zk.WorldACL(zk.PermAll)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Create("/a", []byte("java"), 0, acl))
	must(c.Create("/a/b", nil, 0, acl))
	must(c.Set("/a", []byte("java-2"), 0))
	if _, err := c.Create("/a", nil, 0, acl); !errors.Is(err, zk.ErrNodeExists) { // logged as an error txn
		t.Fatalf("create existing: %v", err)
	}
	must(c.Multi(&zk.CreateRequest{Path: "/m", Data: []byte("1"), Acl: acl}, &zk.SetDataRequest{Path: "/m", Data: []byte("2"), Version: 0}))
	must(c.Create("/eph", nil, zk.FlagEphemeral, acl))
	must(nil, c.Delete("/a/b", 0))
	c.Close() // closeSession txn, which also removes /eph
	srv.Stop()

	// The store opens ZooKeeper's data dir.
	logs, _ := filepath.Glob(filepath.Join(dir, "version-2", "log.*"))
	if len(logs) != 1 || filepath.Base(logs[0]) != "log.1" {
		t.Fatalf("ZooKeeper wrote logs %v, want log.1", logs)
	}
	if size := fileSize(t, logs[0]); size != 64<<20+16 {
		t.Fatalf("ZooKeeper's fresh log is %d bytes; the spec says 64 MiB + 16", size)
	}
	raw := rawRecords(t, logs[0])
	s := mustOpen(t, file.Options{DataDir: dir, ForceSync: true})
	snaps, err := s.Snapshots()
	if err != nil || len(snaps) == 0 || snaps[len(snaps)-1].Zxid != 0 || snaps[len(snaps)-1].Name != "snapshot.0" {
		t.Fatalf("Snapshots() = %+v, %v; want ZooKeeper's snapshot.0", snaps, err)
	}
	r, err := s.OpenSnapshot(0)
	if err != nil {
		t.Fatal(err)
	}
	var magic [4]byte
	r.Read(magic[:])
	r.Close()
	if string(magic[:]) != "ZKSN" {
		t.Fatalf("snapshot.0 starts with %q", magic)
	}
	types := map[int32]int{}
	count := 0
	prev := int64(0)
	err = s.ReadLog(context.Background(), 0, func(e ext.Entry) error {
		txn, err := jute.DecodeTxn(e.Data)
		if err != nil {
			return fmt.Errorf("zxid %#x: %w", e.Zxid, err)
		}
		if txn.Header.Zxid != e.Zxid || e.Zxid <= prev {
			return fmt.Errorf("entry zxid %#x, header zxid %#x, previous %#x", e.Zxid, txn.Header.Zxid, prev)
		}
		prev = e.Zxid
		types[txn.Header.Type]++
		count++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != raw || s.LastZxid() != prev {
		t.Fatalf("ReadLog gave %d entries up to %#x; the file holds %d; LastZxid %#x", count, prev, raw, s.LastZxid())
	}
	for _, typ := range []int32{jute.OpCreateSession, jute.OpCreate, jute.OpSetData, jute.OpError, jute.OpMulti, jute.OpDelete, jute.OpCloseSession} {
		if types[typ] == 0 {
			t.Errorf("no txn of type %d in ZooKeeper's log; types seen: %v", typ, types)
		}
	}

	// The store appends txns of its own in ZooKeeper's format...
	z := s.LastZxid()
	now := time.Now().UnixMilli()
	var ours []ext.Entry
	for i := range 3 {
		z++
		hdr := &jute.TxnHeader{ClientID: 0, Cxid: 0, Zxid: z, Time: now, Type: jute.OpCreate}
		rec := &jute.CreateTxn{Path: fmt.Sprintf("/zabkit-%d", i), Data: []byte(fmt.Sprintf("from zabkit %d", i)), ACL: jute.OpenACLUnsafe, ParentCVersion: -1}
		ours = append(ours, ext.Entry{Zxid: z, Data: jute.EncodeTxn(nil, hdr, rec, nil)})
	}
	if err := s.Append(context.Background(), ours); err != nil {
		t.Fatal(err)
	}
	z++
	set := &jute.SetDataTxn{Path: "/a", Data: []byte("zabkit"), Version: 2}
	if err := s.Append(context.Background(), []ext.Entry{{Zxid: z, Data: jute.EncodeTxn(nil, &jute.TxnHeader{Zxid: z, Time: now, Type: jute.OpSetData}, set, nil)}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// ...and ZooKeeper restarts from the result and serves them.
	srv = testzk.Start(t, testzk.Options{DataDir: dir, Config: map[string]string{"forceSync": "yes"}})
	c = connect(t, srv.Addr)
	for i := range 3 {
		data, _, err := c.Get(fmt.Sprintf("/zabkit-%d", i))
		if err != nil || string(data) != fmt.Sprintf("from zabkit %d", i) {
			t.Fatalf("ZooKeeper reads /zabkit-%d as %q, %v\nlog:\n%s", i, data, err, srv.Log())
		}
	}
	data, st, err := c.Get("/a")
	if err != nil || string(data) != "zabkit" || st.Version != 2 || st.Mzxid != z {
		t.Fatalf("ZooKeeper reads /a as %q %+v, %v", data, st, err)
	}
	if ok, _, _ := c.Exists("/eph"); ok {
		t.Fatal("/eph survived its session's close")
	}
	must(c.Create("/after-restart", nil, 0, acl))
	c.Close()
	srv.Stop()

	// The store reads everything, ZooKeeper's new log included, in order.
	s = mustOpen(t, file.Options{DataDir: dir, ForceSync: true})
	var zx []int64
	var paths []string
	err = s.ReadLog(context.Background(), 0, func(e ext.Entry) error {
		txn, err := jute.DecodeTxn(e.Data)
		if err != nil {
			return err
		}
		zx = append(zx, e.Zxid)
		if cr, ok := txn.Record.(*jute.CreateTxn); ok {
			paths = append(paths, cr.Path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sort.SliceIsSorted(zx, func(i, j int) bool { return zx[i] < zx[j] }) || zx[len(zx)-1] != s.LastZxid() || s.LastZxid() <= z {
		t.Fatalf("zxids %x, LastZxid %#x, our last %#x", zx, s.LastZxid(), z)
	}
	t.Logf("ZooKeeper's first log held txn types %v; after the round trip the log runs %#x..%#x; creates %v", types, zx[0], zx[len(zx)-1], paths)
	if paths[len(paths)-1] != "/after-restart" {
		t.Fatalf("created paths %v; want ZooKeeper's /after-restart last", paths)
	}
}
