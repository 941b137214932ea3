package datatree_test

import (
	"bytes"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/testzk"
)

type quiet struct{}

func (quiet) Printf(string, ...any) {}

func toJute(s *zk.Stat) jute.Stat {
	return jute.Stat{
		Czxid: s.Czxid, Mzxid: s.Mzxid, Ctime: s.Ctime, Mtime: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
		EphemeralOwner: s.EphemeralOwner, DataLength: s.DataLength,
		NumChildren: s.NumChildren, Pzxid: s.Pzxid,
	}
}

// TestReadApacheZooKeeperSnapshot creates nodes of every mode on Debian's
// Apache ZooKeeper 3.8, restarts it (it writes a snapshot while loading its
// database), and checks that ReadSnapshot parses that snapshot with valid
// checksums, the same nodes and stats the client saw, and a tree digest
// equal to the one ZooKeeper computed.
func TestReadApacheZooKeeperSnapshot(t *testing.T) {
	srv := testzk.Start(t, testzk.Options{ExtendedTypes: true})
	conn, _, err := zk.Connect([]string{srv.Addr}, 20*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	open := zk.WorldACL(zk.PermAll)
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(conn.Create("/app", []byte("hello"), 0, open))
	must(conn.Create("/app/q", nil, 0, open))
	for i := 0; i < 4; i++ {
		must(conn.Create("/app/q/item-", []byte{byte(i)}, zk.FlagSequence, open))
	}
	if err := conn.Delete("/app/q/item-0000000001", -1); err != nil {
		t.Fatal(err)
	}
	must(conn.Create("/app/eph", []byte("e"), zk.FlagEphemeral, open))
	eseq, err := conn.Create("/app/eseq-", nil, zk.FlagEphemeral|zk.FlagSequence, open)
	if err != nil || eseq != "/app/eseq-0000000002" {
		t.Fatalf("ephemeral sequential: %q %v", eseq, err)
	}
	must(conn.CreateContainer("/cont", nil, zk.FlagContainer, open))
	must(conn.Create("/cont/kid", nil, 0, open))
	must(conn.CreateTTL("/ttl", []byte("t"), zk.FlagTTL, open, time.Hour))
	digestACL := zk.DigestACL(zk.PermRead|zk.PermAdmin, "bob", "secret")
	must(conn.Create("/secret", []byte("s"), 0, append(digestACL, zk.WorldACL(zk.PermRead)...)))
	if _, err := conn.Set("/app", []byte("hello, again"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.SetACL("/app/q", zk.WorldACL(zk.PermRead|zk.PermCreate|zk.PermDelete), -1); err != nil {
		t.Fatal(err)
	}
	paths := []string{"/", "/app", "/app/q", "/app/q/item-0000000000", "/app/q/item-0000000002",
		"/app/q/item-0000000003", "/app/eph", "/app/eseq-0000000002", "/cont", "/cont/kid", "/ttl", "/secret",
		"/zookeeper", "/zookeeper/config", "/zookeeper/quota"}
	want := map[string]jute.Stat{}
	wantData := map[string][]byte{}
	for _, p := range paths {
		d, st, err := conn.Get(p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		want[p] = toJute(st)
		wantData[p] = d
	}
	session := conn.SessionID()

	// Crash the server with the session still open, so its ephemerals are
	// in the snapshot written when the server restarts and replays its log.
	srv.Stop()
	srv2 := testzk.Start(t, testzk.Options{DataDir: srv.DataDir, ExtendedTypes: true})
	srv2.Stop()
	snaps := srv2.Snapshots()
	if len(snaps) < 2 {
		t.Fatalf("expected a snapshot from the restart, have %v", snaps)
	}
	raw, err := os.ReadFile(snaps[len(snaps)-1])
	if err != nil {
		t.Fatal(err)
	}
	tree, sessions, err := datatree.ReadSnapshot(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", snaps[len(snaps)-1], err)
	}
	if _, ok := sessions[session]; !ok {
		t.Fatalf("session %#x not in snapshot sessions %v", session, sessions)
	}
	for _, p := range paths {
		d, st, err := tree.GetData(p, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if st != want[p] {
			t.Errorf("%s: stat\n got %+v\nwant %+v", p, st, want[p])
		}
		if !bytes.Equal(d, wantData[p]) {
			t.Errorf("%s: data %q, want %q", p, d, wantData[p])
		}
	}
	if n, _ := tree.AllChildrenNumber("/", nil); int(n) != len(paths)-1 {
		t.Errorf("snapshot has %d nodes besides root, want %d", n, len(paths)-1)
	}
	if got := tree.Ephemerals(session); !reflect.DeepEqual(got, []string{"/app/eph", "/app/eseq-0000000002"}) {
		t.Errorf("ephemerals %v", got)
	}
	if info, _ := tree.Node("/cont"); !datatree.IsContainer(info.Stat.EphemeralOwner) {
		t.Errorf("/cont owner %#x", info.Stat.EphemeralOwner)
	}
	if info, _ := tree.Node("/ttl"); !datatree.IsTTL(info.Stat.EphemeralOwner) || datatree.TTLOf(info.Stat.EphemeralOwner) != 3600_000 {
		t.Errorf("/ttl owner %#x", info.Stat.EphemeralOwner)
	}
	if info, _ := tree.Node("/app/q"); info.Stat.Cversion != 4 {
		t.Errorf("/app/q stored cversion %d, want 4", info.Stat.Cversion)
	}
	acl, _, _ := tree.GetACL("/secret")
	if len(acl) != 2 || acl[0].ID.Scheme != "digest" || acl[0].ID.ID != "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=" {
		t.Errorf("/secret ACL %+v", acl)
	}
	if acl, _, _ := tree.GetACL("/zookeeper/config"); !reflect.DeepEqual(acl, jute.ReadACLUnsafe) {
		t.Errorf("config ACL %+v", acl)
	}
	// Our digest algorithm must agree with ZooKeeper's.
	zxid, digest, ok := tree.SnapshotDigest()
	if !ok || zxid == 0 {
		t.Fatalf("no digest trailer in ZooKeeper's snapshot (zxid %#x ok %v)", zxid, ok)
	}
	if got := tree.Digest(); got != digest {
		t.Fatalf("digest %#x, ZooKeeper says %#x at zxid %#x", got, digest, zxid)
	}
	// And what we write, we read back identically.
	var buf bytes.Buffer
	tree.SetLastZxid(zxid)
	if _, err := tree.WriteSnapshot(&buf, sessions); err != nil {
		t.Fatal(err)
	}
	again, _, err := datatree.ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		_, a, _ := again.GetData(p, nil, nil)
		if a != want[p] {
			t.Errorf("%s after our round trip: %+v", p, a)
		}
	}
	if again.Digest() != digest {
		t.Fatal("digest changed in our round trip")
	}
}
