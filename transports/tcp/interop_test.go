package tcp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/transporttest"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/testzk"
	"github.com/zabkit/zabkit/transports/internal/nettest"
	"github.com/zabkit/zabkit/transports/tcp"
)

// These tests put transport.tcp in a two-server ensemble with a real
// Apache ZooKeeper 3.8 (Debian's package) and play the other server's part
// by hand, through the transport: election notifications on the election
// port, then the whole Zab 1.0 discovery and synchronisation on the quorum
// port, including a SNAP. ZooKeeper ending up serving as leader (or
// follower) proves that it read every byte we wrote; our inbox receiving
// its notifications, LEADERINFO, SNAP stream and NEWLEADER in the right
// places proves the reverse.

// notification is a FastLeaderElection message, version 2 (spec 5.2).
type notification struct {
	State                          int32
	Leader, Zxid, Round, PeerEpoch int64
	Version                        int32
	Config                         string
}

func decodeNotification(t *testing.T, b []byte) notification {
	t.Helper()
	if len(b) < 44 {
		t.Fatalf("notification of %d bytes, want 44+N", len(b))
	}
	r := jute.NewReader(b)
	n := notification{State: r.ReadInt(), Leader: r.ReadLong(), Zxid: r.ReadLong(), Round: r.ReadLong(),
		PeerEpoch: r.ReadLong(), Version: r.ReadInt()}
	cfgLen := r.ReadInt()
	if int(cfgLen) != r.Remaining() {
		t.Fatalf("notification config length %d with %d bytes left", cfgLen, r.Remaining())
	}
	n.Config = string(r.Rest())
	return n
}

func (n notification) encode() []byte {
	w := jute.NewWriter(nil)
	w.WriteInt(n.State)
	w.WriteLong(n.Leader)
	w.WriteLong(n.Zxid)
	w.WriteLong(n.Round)
	w.WriteLong(n.PeerEpoch)
	w.WriteInt(n.Version)
	w.WriteInt(int32(len(n.Config)))
	w.WriteRaw([]byte(n.Config))
	return w.Bytes()
}

// zkPeer is a ZooKeeper QuorumPeerMain in a two-server ensemble.
type zkPeer struct {
	client string
	log    string
}

// startZK starts server myid; seed, if set, fills its data dir first.
func startZK(t *testing.T, myid int64, addrs []ext.PeerAddr, seed func(dataDir string), props ...string) *zkPeer {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java not found (install default-jre-headless): %v", err)
	}
	if _, err := os.Stat(testzk.DefaultJar); err != nil {
		t.Fatalf("Apache ZooKeeper not installed (apt-get install zookeeper): %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(fmt.Sprint(myid)), 0o644); err != nil {
		t.Fatal(err)
	}
	if seed != nil {
		seed(dir)
	}
	client := nettest.FreeAddr(t)
	_, port, _ := strings.Cut(client, ":")
	cfg := fmt.Sprintf("tickTime=1000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=*\nadmin.enableServer=false\n", dir, port)
	for _, a := range addrs {
		cfg += fmt.Sprintf("server.%d=%s:%s:participant\n", a.ID, a.QuorumAddr, portOf(a.ElectionAddr))
	}
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dzookeeper.jmx.log4j.disable=true"}
	for _, p := range props {
		args = append(args, "-D"+p)
	}
	args = append(args, "-cp", testzk.DefaultJar+":"+testzk.DefaultConfDir+":/usr/share/java/slf4j-simple.jar",
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(dir, "zoo.cfg"))
	z := &zkPeer{client: client, log: filepath.Join(dir, "zookeeper.log")}
	logf, err := os.Create(z.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(java, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(z.log)
			t.Logf("ZooKeeper log:\n%s", b)
		}
	})
	return z
}

func portOf(addr string) string { _, p, _ := strings.Cut(addr, ":"); return p }

// mode polls srvr until ZooKeeper reports a mode.
func (z *zkPeer) mode(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(transporttest.WaitTimeout)
	for time.Now().Before(deadline) {
		out, err := (&testzk.Server{Addr: z.client}).FourLetter("srvr")
		if _, m, ok := strings.Cut(out, "Mode: "); err == nil && ok {
			return strings.TrimSpace(strings.SplitN(m, "\n", 2)[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("ZooKeeper never reported a mode")
	return ""
}

// ours is the transport playing the other server, and its inbox.
type ours struct {
	t   *testing.T
	tr  *tcp.Transport
	rec *transporttest.Recorder
	zk  int64
}

// packet waits for the next broadcast packet from ZooKeeper (index i).
func (o *ours) packet(i int) jute.QuorumPacket {
	o.t.Helper()
	o.rec.WaitCount(o.t, o.zk, ext.ChanBroadcast, i+1)
	qp, err := transporttest.Decode(o.rec.Messages(o.zk, ext.ChanBroadcast)[i])
	if err != nil {
		o.t.Fatalf("packet %d from ZooKeeper: %v", i, err)
	}
	return qp
}

func (o *ours) send(ch ext.Channel, msgs ...[]byte) {
	o.t.Helper()
	transporttest.MustSend(o.t, o.tr, o.zk, ch, msgs...)
}

// vote waits for a notification from ZooKeeper satisfying ok.
func (o *ours) vote(what string, ok func(notification) bool) notification {
	o.t.Helper()
	var got notification
	o.rec.Wait(o.t, what, func() bool {
		for _, m := range o.rec.Messages(o.zk, ext.ChanElection) {
			if n := decodeNotification(o.t, m); ok(n) {
				got = n
				return true
			}
		}
		return false
	})
	return got
}

// lastVote is ZooKeeper's newest notification so far.
func (o *ours) lastVote() notification {
	m := o.rec.Messages(o.zk, ext.ChanElection)
	return decodeNotification(o.t, m[len(m)-1])
}

func setup(t *testing.T, self, zk int64, seed func(string), props ...string) (*ours, *zkPeer) {
	// A port found free can be taken by someone's outgoing connection
	// before we bind it (a JVM starting next door opens many): try again
	// with fresh ports then.
	for try := 0; ; try++ {
		addrs := []ext.PeerAddr{
			{ID: self, ElectionAddr: nettest.FreeAddr(t), QuorumAddr: nettest.FreeAddr(t)},
			{ID: zk, ElectionAddr: nettest.FreeAddr(t), QuorumAddr: nettest.FreeAddr(t)},
		}
		tr := tcp.New(tcp.Options{Logger: quiet()})
		rec := transporttest.NewRecorder()
		err := tr.Start(context.Background(), ext.TransportConfig{Self: self, Peers: addrs}, rec)
		if errors.Is(err, syscall.EADDRINUSE) && try < 5 {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return &ours{t: t, tr: tr, rec: rec, zk: zk}, startZK(t, zk, addrs, seed, props...)
	}
}

// firstVote checks ZooKeeper's first notification: LOOKING, for itself,
// with its last zxid, version 2, and the ensemble's config text.
func firstVote(o *ours, zxid int64) notification {
	n := o.vote("ZooKeeper's first notification", func(notification) bool { return true })
	if n.State != 0 || n.Leader != o.zk || n.Zxid != zxid || n.PeerEpoch != 0 || n.Version != 2 ||
		!strings.Contains(n.Config, fmt.Sprintf("server.%d=", o.zk)) || !strings.Contains(n.Config, "version=") {
		o.t.Fatalf("ZooKeeper's first notification: %+v", n)
	}
	return n
}

func learnerInfo(sid int64) []byte {
	return jute.Marshal(&jute.LearnerInfo{ServerID: sid, ProtocolVersion: 0x10000})
}

func epochBytes(v int32) []byte {
	w := jute.NewWriter(nil)
	w.WriteInt(v)
	return w.Bytes()
}

// seedTree writes a snapshot with many small nodes and a few large ones
// into a ZooKeeper data dir, so the SNAP stream ZooKeeper sends us is
// megabytes long, with fields that straddle our bulk chunks.
func seedTree(t *testing.T) func(string) {
	return func(dir string) {
		tree := datatree.New()
		const small, large = 2000, 3
		for i := int64(1); i <= small+large; i++ {
			data := transporttest.Payload(i, 20)
			if i > small {
				data = transporttest.Payload(i, 700<<10)
			}
			hdr := &jute.TxnHeader{Zxid: i, Time: 1700000000000, Type: jute.OpCreate}
			if r := tree.Apply(hdr, &jute.CreateTxn{Path: fmt.Sprintf("/seed%05d", i), Data: data, ACL: jute.OpenACLUnsafe, ParentCVersion: int32(i)}); r.Err != 0 {
				t.Fatalf("seed node %d: %v", i, r.Err)
			}
		}
		if err := os.MkdirAll(filepath.Join(dir, "version-2"), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, "version-2", fmt.Sprintf("snapshot.%x", small+large)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := tree.WriteSnapshot(f, map[int64]int32{0x100: 30000}); err != nil {
			t.Fatal(err)
		}
	}
}

// ZooKeeper (sid 2) leads, we follow: ZooKeeper dials our election port
// (the larger sid dials), wins on our vote, and syncs us by SNAP.
func TestInteropZooKeeperLeads(t *testing.T) {
	t.Parallel()
	o, zk := setup(t, 1, 2, seedTree(t), "zookeeper.forceSnapshotSync=true")
	first := firstVote(o, 2003)
	o.rec.WaitEvents(t, 2, ext.ChanElection, true)
	o.send(ext.ChanElection, notification{Leader: 2, Zxid: first.Zxid, Round: first.Round, Version: 2, Config: first.Config}.encode())

	// Discovery. ZooKeeper opens its quorum port only once it leads, so
	// a FOLLOWERINFO may find nobody at first: that is a Down, and we try
	// again.
	for tries := 0; ; tries++ {
		// Should ZooKeeper fail to lead and look again, vote again in its
		// new round, as a real peer would.
		if last := o.lastVote(); last.State == 0 && last.Round > first.Round {
			first = last
			o.send(ext.ChanElection, notification{Leader: 2, Zxid: first.Zxid, Round: first.Round, Version: 2, Config: first.Config}.encode())
		}
		downs := len(o.rec.Events(2, ext.ChanBroadcast))
		o.send(ext.ChanBroadcast, transporttest.Packet(transporttest.PktFollowerInfo, 0, learnerInfo(1)))
		o.rec.Wait(t, "quorum link up or down", func() bool { return len(o.rec.Events(2, ext.ChanBroadcast)) > downs })
		if ev := o.rec.Events(2, ext.ChanBroadcast); ev[len(ev)-1] {
			break
		}
		if tries > 100 {
			t.Fatal("ZooKeeper's quorum port never accepted us")
		}
		time.Sleep(200 * time.Millisecond)
	}
	li := o.packet(0)
	if li.Type != 17 || li.Zxid != 1<<32 || !bytes.Equal(li.Data, epochBytes(0x10000)) {
		t.Fatalf("LEADERINFO: %+v", li)
	}
	o.send(ext.ChanBroadcast, transporttest.Packet(18, 0, epochBytes(0)))

	// Synchronisation: SNAP, the snapshot stream on the bulk channel, then
	// NEWLEADER exactly where the stream ends.
	if snap := o.packet(1); snap.Type != 15 || snap.Zxid != 2003 {
		t.Fatalf("expected SNAP(2003), got %+v", snap)
	}
	nl := o.packet(2)
	if nl.Type != 10 || nl.Zxid != 1<<32 || !strings.Contains(string(nl.Data), "server.1=") {
		t.Fatalf("expected NEWLEADER(1<<32, config), got type %d zxid %#x", nl.Type, nl.Zxid)
	}
	stream := bytes.Join(o.rec.Messages(2, ext.ChanBulk), nil)
	if !bytes.HasSuffix(stream, append([]byte{0, 0, 0, 10}, "BenWasHere"...)) || !bytes.Contains(stream, []byte("/zookeeper/quota")) ||
		!bytes.Contains(stream, []byte("/seed02003")) || len(stream) < 3*700<<10 {
		t.Fatalf("snapshot stream of %d bytes does not look like ZooKeeper's data tree", len(stream))
	}
	for _, c := range o.rec.Messages(2, ext.ChanBulk) {
		if len(c) > tcp.DefaultBulkChunk {
			t.Fatalf("bulk message of %d bytes", len(c))
		}
	}
	o.send(ext.ChanBroadcast, transporttest.Packet(3, 1<<32, nil))
	if up := o.packet(3); up.Type != 12 {
		t.Fatalf("expected UPTODATE, got %+v", up)
	}
	o.send(ext.ChanBroadcast, transporttest.Packet(3, 1<<32, nil))
	if m := zk.mode(t); m != "leader" {
		t.Fatalf("ZooKeeper mode %q, want leader", m)
	}
	t.Logf("ZooKeeper leads us; its SNAP stream was %d bytes in %d bulk messages", len(stream), o.rec.Count(2, ext.ChanBulk))
}

// We lead, ZooKeeper (sid 1) follows: ZooKeeper's connection to our
// election port is closed and we dial back (we are the larger sid); it
// dials our quorum port with FOLLOWERINFO and we sync it by SNAP.
func TestInteropZooKeeperFollows(t *testing.T) {
	t.Parallel()
	o, zk := setup(t, 2, 1, nil)
	first := firstVote(o, 0)
	o.send(ext.ChanElection, notification{Leader: 2, Round: first.Round, Version: 2, Config: first.Config}.encode())
	o.vote("ZooKeeper adopting our vote", func(n notification) bool { return n.Leader == 2 })
	o.rec.WaitEvents(t, 1, ext.ChanElection, true)

	o.rec.WaitEvents(t, 1, ext.ChanBroadcast, true)
	fi := o.packet(0)
	var info jute.LearnerInfo
	if err := jute.UnmarshalExact(fi.Data, &info); fi.Type != 11 || fi.Zxid != 0 || err != nil || info.ServerID != 1 || info.ProtocolVersion != 0x10000 {
		t.Fatalf("FOLLOWERINFO: %+v %+v %v", fi, info, err)
	}
	o.send(ext.ChanBroadcast, transporttest.Packet(17, 1<<32, epochBytes(0x10000)))
	if ack := o.packet(1); ack.Type != 18 || ack.Zxid != 0 || !bytes.Equal(ack.Data, epochBytes(0)) {
		t.Fatalf("ACKEPOCH: %+v", ack)
	}
	stream := transporttest.SnapStream(9, 20, 100)
	o.send(ext.ChanBroadcast, transporttest.Packet(15, 0, nil))
	o.send(ext.ChanBulk, stream[:len(stream)/3], stream[len(stream)/3:])
	o.send(ext.ChanBroadcast, transporttest.Packet(10, 1<<32, []byte(first.Config)))
	if ack := o.packet(2); ack.Type != 3 || ack.Zxid != 1<<32 {
		t.Fatalf("ACK of NEWLEADER: %+v", ack)
	}
	o.send(ext.ChanBroadcast, transporttest.Packet(12, -1, nil))
	if ack := o.packet(3); ack.Type != 3 || ack.Zxid != 1<<32 {
		t.Fatalf("ACK of UPTODATE: %+v", ack)
	}
	if m := zk.mode(t); m != "follower" {
		t.Fatalf("ZooKeeper mode %q, want follower", m)
	}
	t.Logf("ZooKeeper follows us after loading our %d-byte SNAP stream", len(stream))
	if err := o.tr.Send(1, ext.ChanBroadcast, transporttest.Packet(5, 1<<32, nil)); err != nil && !errors.Is(err, ext.ErrBackpressure) {
		t.Fatalf("PING to the follower: %v", err)
	}
}
