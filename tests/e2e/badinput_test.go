package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
	"github.com/zabkit/zabkit/internal/zkraw"
	"github.com/zabkit/zabkit/tests/internal/launch"
)

// Bad input, and what Apache ZooKeeper 3.8 does with it. Every expectation
// here was checked against the real server (ZABKIT_E2E_TARGET=zookeeper).

// expectClose waits for the server to hang up and returns what it sent
// first.
func expectClose(t *testing.T, c *zkraw.Conn, what string) []*zkraw.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	frames, err := c.WaitClosed(ctx)
	if err != nil {
		t.Fatalf("%s: server did not close the connection: %v", what, err)
	}
	return frames
}

// expectSessionAlive re-attaches to c's session on a new connection and
// checks that path (an ephemeral of that session) is still there.
func expectSessionAlive(t *testing.T, addr string, c *zkraw.Conn, path string) {
	t.Helper()
	ctx := testCtx(t)
	c2, err := zkraw.Dial(ctx, addr, zkraw.Options{SessionID: c.SessionID(), Passwd: c.Passwd()})
	if err != nil {
		t.Fatalf("re-attach to 0x%x: %v", c.SessionID(), err)
	}
	defer c2.CloseSession(ctx)
	st, err := c2.Exists(ctx, path, false)
	if err != nil || st.EphemeralOwner != c.SessionID() {
		t.Fatalf("ephemeral %s after re-attach: %+v %v", path, st, err)
	}
}

func TestBadFrames(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)
		cases := []struct {
			name string
			send func(c *zkraw.Conn) error
		}{
			{"length one over jute.maxbuffer", func(c *zkraw.Conn) error {
				var lb [4]byte
				binary.BigEndian.PutUint32(lb[:], 1048576)
				return c.WriteRaw(append(lb[:], make([]byte, 64)...))
			}},
			{"2 MiB frame", func(c *zkraw.Conn) error {
				return c.WriteFrame(zkraw.EncodeRequest(1, jute.OpSetData, &jute.SetDataRequest{Path: root, Data: make([]byte, 2<<20), Version: -1}))
			}},
			{"negative length", func(c *zkraw.Conn) error { return c.WriteRaw([]byte{0xff, 0xff, 0xff, 0xfe, 1, 2}) }},
			{"frame shorter than a request header", func(c *zkraw.Conn) error { return c.WriteFrame([]byte{0, 0, 0}) }},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := rawDial(t, srv.Addr, zkraw.Options{})
				eph := fmt.Sprintf("%s/eph%d", root, i)
				if _, err := c.Create(ctx, eph, nil, zkraw.OpenACL, jute.FlagEphemeral); err != nil {
					t.Fatal(err)
				}
				// The server may hang up while the bad bytes are still being
				// written (it only needs the length), so a write error is fine.
				_ = tc.send(c)
				if fr := expectClose(t, c, tc.name); len(fr) != 0 {
					t.Fatalf("expected no reply, got %d frames (first %+v)", len(fr), fr[0].Header)
				}
				// Closing the connection does not end the session.
				expectSessionAlive(t, srv.Addr, c, eph)
			})
		}
	})
}

func TestBadRequests(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)

		t.Run("unknown opcode", func(t *testing.T) {
			c := rawDial(t, srv.Addr, zkraw.Options{})
			if err := c.Send(5, 999, nil); err != nil {
				t.Fatal(err)
			}
			fr := expectClose(t, c, "unknown opcode")
			if len(fr) != 1 || fr[0].Header != (jute.ReplyHeader{Xid: 5, Zxid: -1, Err: int32(zkerr.Unimplemented)}) || len(fr[0].Body) != 0 {
				t.Fatalf("got %d frames %+v, want exactly (5, -1, -6)", len(fr), fr)
			}
		})

		t.Run("truncated records", func(t *testing.T) {
			c := rawDial(t, srv.Addr, zkraw.Options{})
			if _, err := c.Create(ctx, root+"/n", nil, zkraw.OpenACL, 0); err != nil {
				t.Fatal(err)
			}
			ping, _ := c.Ping(ctx)
			last := ping.Header.Zxid
			// A truncated read is a marshalling error at the last zxid.
			p := zkraw.EncodeRequest(7, jute.OpGetData, &jute.PathWatchRequest{Path: root + "/n"})
			if err := c.WriteFrame(p[:len(p)-3]); err != nil {
				t.Fatal(err)
			}
			f, err := c.Await(ctx, 7)
			if err != nil || f.Err() != zkerr.MarshallingError || f.Header.Zxid != last {
				t.Fatalf("truncated getData: %+v %v", f, err)
			}
			// A truncated write is logged as an error txn: it takes a zxid.
			p = zkraw.EncodeRequest(8, jute.OpCreate, &jute.CreateRequest{Path: root + "/t", ACL: zkraw.OpenACL})
			if err := c.WriteFrame(p[:len(p)-6]); err != nil {
				t.Fatal(err)
			}
			f, err = c.Await(ctx, 8)
			if err != nil || f.Err() != zkerr.MarshallingError || f.Header.Zxid != last+1 {
				t.Fatalf("truncated create: %+v %v (last zxid %x)", f, err, last)
			}
			// The connection stays usable.
			if _, err := c.GetData(ctx, root+"/n", false); err != nil {
				t.Fatalf("after truncated requests: %v", err)
			}
		})

		t.Run("reads and writes mixed in multi", func(t *testing.T) {
			c := rawDial(t, srv.Addr, zkraw.Options{})
			f, err := c.Call(ctx, jute.OpMulti, &jute.MultiRequest{Ops: []jute.MultiOp{
				{Type: jute.OpGetData, Record: &jute.PathWatchRequest{Path: root}},
			}})
			if err != nil || f.Err() != zkerr.MarshallingError {
				t.Fatalf("multi with a read: %+v %v", f, err)
			}
			f, err = c.Call(ctx, jute.OpMultiRead, &jute.MultiRequest{Ops: []jute.MultiOp{
				{Type: jute.OpDelete, Record: &jute.PathVersionRequest{Path: root, Version: -1}},
			}})
			if err != nil || f.Err() != zkerr.MarshallingError {
				t.Fatalf("multiRead with a write: %+v %v", f, err)
			}
			if _, err := c.Exists(ctx, root, false); err != nil {
				t.Fatalf("root gone or connection dead after rejected multiRead: %v", err)
			}
		})

		t.Run("unknown auth scheme", func(t *testing.T) {
			c := rawDial(t, srv.Addr, zkraw.Options{})
			if err := c.Send(jute.XidAuth, jute.OpAuth, &jute.AuthPacket{Scheme: "nope", Auth: []byte("x")}); err != nil {
				t.Fatal(err)
			}
			fr := expectClose(t, c, "unknown auth scheme")
			if len(fr) != 1 || fr[0].Header != (jute.ReplyHeader{Xid: -4, Zxid: 0, Err: int32(zkerr.AuthFailed)}) {
				t.Fatalf("got %+v, want (-4, 0, -115) then close", fr)
			}
		})
	})
}

// TestMalformedPaths pins, path by path, what ZooKeeper answers. Writes
// look up the parent before validating the whole path, so "//x" under an
// existing node is NONODE on create but "x/" is BADARGUMENTS; reads never
// validate; setData always validates. Each failed write still takes a zxid.
func TestMalformedPaths(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)
		c := rawDial(t, srv.Addr, zkraw.Options{})
		if _, err := c.Create(ctx, root+"/n", nil, zkraw.OpenACL, 0); err != nil {
			t.Fatal(err)
		}
		const (
			ok  = zkerr.OK
			bad = zkerr.BadArguments
			no  = zkerr.NoNode
		)
		cases := []struct {
			path                                  string
			create, getData, exists, del, setData zkerr.Code
		}{
			{"rel", bad, no, no, bad, bad},
			{root + "/", bad, no, no, no, bad},
			{root + "/n/", bad, no, no, no, bad},
			{root + "//x", no, no, no, no, bad},
			{root + "/./x", no, no, no, no, bad},
			{root + "/../x", no, no, no, no, bad},
			{root + "/.", bad, no, no, no, bad},
			{root + "/..", bad, no, no, no, bad},
			{root + "/a\x00b", bad, no, bad, bad, bad},
			{root + "/\x01", bad, no, no, no, bad},
			{root + "/\ufff0", bad, no, no, no, bad},
			{"", bad, ok, ok, bad, bad},
		}
		for _, tc := range cases {
			prev, _ := c.Ping(ctx)
			fc, _ := c.Call(ctx, jute.OpCreate, &jute.CreateRequest{Path: tc.path, ACL: zkraw.OpenACL})
			fg, _ := c.Call(ctx, jute.OpGetData, &jute.PathWatchRequest{Path: tc.path})
			fe, _ := c.Call(ctx, jute.OpExists, &jute.PathWatchRequest{Path: tc.path})
			fd, _ := c.Call(ctx, jute.OpDelete, &jute.PathVersionRequest{Path: tc.path, Version: -1})
			fs, err := c.Call(ctx, jute.OpSetData, &jute.SetDataRequest{Path: tc.path, Version: -1})
			if err != nil {
				t.Fatalf("path %q: %v", tc.path, err)
			}
			got := [5]zkerr.Code{fc.Err(), fg.Err(), fe.Err(), fd.Err(), fs.Err()}
			want := [5]zkerr.Code{tc.create, tc.getData, tc.exists, tc.del, tc.setData}
			if got != want {
				t.Errorf("path %q: create/getData/exists/delete/setData = %v, want %v", tc.path, got, want)
			}
			base := prev.Header.Zxid
			if fc.Header.Zxid != base+1 || fd.Header.Zxid != base+2 || fs.Header.Zxid != base+3 {
				t.Errorf("path %q: write zxids %x %x %x after %x, want one each", tc.path, fc.Header.Zxid, fd.Header.Zxid, fs.Header.Zxid, base)
			}
		}
		// Non-ASCII that is not forbidden is a fine path.
		if _, err := c.Create(ctx, root+"/é\ud7ff", nil, zkraw.OpenACL, 0); err != nil {
			t.Errorf("create with allowed non-ASCII: %v", err)
		}
	})
}

func TestBadACLsFlagsAndTTL(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)
		c := rawDial(t, srv.Addr, zkraw.Options{})
		if _, err := c.Create(ctx, root+"/n", nil, zkraw.OpenACL, 0); err != nil {
			t.Fatal(err)
		}
		id := func(s, i string) []jute.ACL { return []jute.ACL{{Perms: jute.PermAll, ID: jute.Id{Scheme: s, ID: i}}} }
		badACLs := map[string][]jute.ACL{
			"empty list":        {},
			"null list":         nil,
			"digest w/o hash":   id("digest", "nocolon"),
			"unknown scheme":    id("foo", "bar"),
			"auth unauthed":     id("auth", ""),
			"ip not an address": id("ip", "notanip"),
			"world not anyone":  id("world", "someone"),
		}
		for name, acl := range badACLs {
			if _, err := c.Create(ctx, root+"/a", nil, acl, 0); !errors.Is(err, zkerr.InvalidACL) {
				t.Errorf("create with %s ACL: %v, want INVALIDACL", name, err)
			}
			if _, err := c.SetACL(ctx, root+"/n", acl, -1); !errors.Is(err, zkerr.InvalidACL) {
				t.Errorf("setACL with %s ACL: %v, want INVALIDACL", name, err)
			}
		}
		for _, flags := range []int32{7, -1, 100, jute.FlagPersistentWithTTL} {
			if _, err := c.Create(ctx, root+"/f", nil, zkraw.OpenACL, flags); !errors.Is(err, zkerr.BadArguments) {
				t.Errorf("create (op 1) with flags %d: %v, want BADARGUMENTS", flags, err)
			}
		}
		for _, tc := range []struct {
			flags int32
			ttl   int64
		}{{jute.FlagPersistentWithTTL, 0}, {jute.FlagPersistentWithTTL, 1 << 40}, {jute.FlagPersistentSequentialWithTTL, 0}, {jute.FlagPersistent, 1000}, {jute.FlagEphemeral, 1000}} {
			if _, err := c.CreateTTL(ctx, root+"/ttl", nil, zkraw.OpenACL, tc.flags, tc.ttl); !errors.Is(err, zkerr.BadArguments) {
				t.Errorf("createTTL flags %d ttl %d: %v, want BADARGUMENTS", tc.flags, tc.ttl, err)
			}
		}
		if srv.Kind == launch.Zabkit {
			// Apache ZooKeeper 3.8.0 accepts this, logs the txn and then dies
			// applying it (IllegalArgumentException in SyncThread), so this
			// case is asserted on zabkit only: refuse it up front.
			if _, err := c.CreateTTL(ctx, root+"/ttl", nil, zkraw.OpenACL, jute.FlagPersistent, -1); !errors.Is(err, zkerr.BadArguments) {
				t.Errorf("createTTL flags 0 ttl -1: %v, want BADARGUMENTS", err)
			}
		}
		if _, err := c.Exists(ctx, root, false); err != nil {
			t.Fatalf("server unwell after bad requests: %v", err)
		}
	})
}

func TestHandshakeEdges(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)

		t.Run("new session id and password", func(t *testing.T) {
			c := rawDial(t, srv.Addr, zkraw.Options{})
			defer c.CloseSession(ctx)
			r := c.Response()
			if r.ProtocolVersion != 0 || !r.SendReadOnly || r.ReadOnly {
				t.Fatalf("response %+v", r)
			}
			// The top byte is the id of the server that made the session:
			// 1 standalone, an ensemble member's myid.
			want := uint64(max(srv.Myid(), 1))
			if top := uint64(r.SessionID) >> 56; top != want {
				t.Errorf("session id 0x%x from %s: top byte %d, want %d", r.SessionID, srv.Label(), top, want)
			}
			if want := javaSessionPasswd(r.SessionID); string(r.Passwd) != string(want) {
				t.Errorf("password %x, want Java Random(id ^ 0xB3415C00) bytes %x", r.Passwd, want)
			}
		})

		t.Run("old client without readOnly byte", func(t *testing.T) {
			c := rawDial(t, srv.Addr, zkraw.Options{OmitReadOnly: true})
			defer c.CloseSession(ctx)
			if c.Response().SendReadOnly {
				t.Fatal("server sent the readOnly byte to a client that did not send it")
			}
			if _, err := c.Exists(ctx, root, false); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("client ahead of server", func(t *testing.T) {
			c, err := zkraw.DialRaw(ctx, srv.Addr, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.WriteFrame(jute.Marshal(zkraw.ConnectRequestFor(zkraw.Options{LastZxidSeen: 1 << 40}))); err != nil {
				t.Fatal(err)
			}
			if fr := expectClose(t, c, "client ahead"); len(fr) != 0 {
				t.Fatalf("got a reply (%d frames), want a bare close", len(fr))
			}
		})

		t.Run("wrong password", func(t *testing.T) {
			c := rawDial(t, srv.Addr, zkraw.Options{})
			defer c.CloseSession(ctx)
			c2, err := zkraw.Dial(ctx, srv.Addr, zkraw.Options{SessionID: c.SessionID(), Passwd: make([]byte, 16)})
			if !errors.Is(err, zkraw.ErrSessionInvalid) {
				t.Fatalf("err %v, want ErrSessionInvalid", err)
			}
			r := c2.Response()
			if r.TimeOut != 0 || r.SessionID != 0 || string(r.Passwd) != string(make([]byte, 16)) {
				t.Fatalf("response %+v, want zeros", r)
			}
			expectClose(t, c2, "wrong password")
		})

		t.Run("closed session", func(t *testing.T) {
			c := rawDial(t, srv.Addr, zkraw.Options{})
			sid, pw := c.SessionID(), c.Passwd()
			if err := c.CloseSession(ctx); err != nil {
				t.Fatal(err)
			}
			c2, err := zkraw.Dial(ctx, srv.Addr, zkraw.Options{SessionID: sid, Passwd: pw})
			if !errors.Is(err, zkraw.ErrSessionInvalid) {
				t.Fatalf("re-attach to a closed session: %v, want ErrSessionInvalid", err)
			}
			expectClose(t, c2, "closed session")
		})

		t.Run("short ConnectRequest", func(t *testing.T) {
			c, err := zkraw.DialRaw(ctx, srv.Addr, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.WriteFrame([]byte{0, 0, 0, 0, 1})
			if fr := expectClose(t, c, "short ConnectRequest"); len(fr) != 0 {
				t.Fatalf("got %d frames", len(fr))
			}
		})
	})
}

// TestExpiredSession lets a session lapse: its ephemeral goes, a watcher
// hears NodeDeleted, and re-attaching is refused with timeOut 0.
func TestExpiredSession(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx := testCtx(t)
		c := rawDial(t, srv.Addr, zkraw.Options{Timeout: 4 * time.Second})
		w := rawDial(t, srv.AddrFor(1), zkraw.Options{})
		eph := root + "/eph"
		if _, err := c.Create(ctx, eph, nil, zkraw.OpenACL, jute.FlagEphemeral); err != nil {
			t.Fatal(err)
		}
		rawCatchUp(t, srv, w, eph)
		if _, err := w.Exists(ctx, eph, true); err != nil {
			t.Fatal(err)
		}
		c.Close() // no closeSession: the session must expire on its own
		f, err := w.NextFrame(ctx)
		if err != nil || !f.IsNotification() {
			t.Fatalf("watcher got %+v %v", f, err)
		}
		ev, _ := f.Event()
		if ev.Type != jute.EventNodeDeleted || ev.Path != eph || ev.State != jute.StateSyncConnected || f.Header.Zxid != -1 {
			t.Fatalf("event %+v header %+v", ev, f.Header)
		}
		c2, err := zkraw.Dial(ctx, srv.Addr, zkraw.Options{SessionID: c.SessionID(), Passwd: c.Passwd()})
		if !errors.Is(err, zkraw.ErrSessionInvalid) {
			t.Fatalf("re-attach to expired session: %v, want ErrSessionInvalid", err)
		}
		expectClose(t, c2, "expired session")
	})
}

func TestFourLetterWords(t *testing.T) {
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		get := func(cmd string) string {
			out, err := launch.FourLetter(srv.Addr, cmd, 10*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			return out
		}
		if out := get("ruok"); out != "imok" {
			t.Errorf("ruok = %q, want imok with no newline", out)
		}
		srvr := get("srvr")
		// An ensemble member is the leader or a follower; which one this
		// test's member is, only its own answers can say, so the mode
		// srvr names is checked against stat and mntr.
		mode := "standalone"
		if srv.Ensemble() != nil {
			mode = "follower"
			if strings.Contains(srvr, "\nMode: leader\n") {
				mode = "leader"
			}
		}
		for _, line := range []string{"Zookeeper version: ", "Latency min/avg/max: ", "Received: ", "Sent: ", "Connections: ", "Outstanding: ", "Zxid: 0x", "Mode: " + mode + "\n", "Node count: "} {
			if !strings.Contains(srvr, "\n"+line) && !strings.HasPrefix(srvr, line) {
				t.Errorf("srvr lacks %q:\n%s", line, srvr)
			}
		}
		if stat := get("stat"); !strings.Contains(stat, "Clients:\n") || !strings.Contains(stat, "Mode: "+mode+"\n") {
			t.Errorf("stat:\n%s", stat)
		}
		conf := get("conf")
		for _, kv := range []string{fmt.Sprintf("clientPort=%d", srv.Port), "tickTime=2000", "maxClientCnxns=0", "minSessionTimeout=4000", "maxSessionTimeout=40000"} {
			if !strings.Contains(conf, kv+"\n") {
				t.Errorf("conf lacks %q:\n%s", kv, conf)
			}
		}
		mntr := get("mntr")
		for _, k := range []string{"zk_version\t", "zk_server_state\t" + mode + "\n", "zk_znode_count\t", "zk_watch_count\t", "zk_ephemerals_count\t"} {
			if !strings.Contains(mntr, k) {
				t.Errorf("mntr lacks %q", k)
			}
		}
		if out := get("wchs"); !strings.Contains(out, "connections watching") || !strings.Contains(out, "Total watches:") {
			t.Errorf("wchs = %q", out)
		}
		if out := get("isro"); out != "rw" {
			t.Errorf("isro = %q, want rw", out)
		}
		// Not a command: read as a frame length over the limit, so a close.
		if out := get("xyzw"); out != "" {
			t.Errorf("xyzw = %q, want nothing", out)
		}
		// After a handshake the same bytes are a bad length, not a command.
		c := rawDial(t, srv.Addr, zkraw.Options{})
		c.WriteRaw([]byte("ruok"))
		if fr := expectClose(t, c, "ruok after handshake"); len(fr) != 0 {
			t.Fatalf("ruok after handshake answered %d frames", len(fr))
		}
	})
}

// javaSessionPasswd is the first 16 bytes of Java's
// new Random(sessionId ^ 0xB3415C00).nextBytes(): a 48-bit LCG whose ints
// are taken least significant byte first.
func javaSessionPasswd(sid int64) []byte {
	const mult, mask = 0x5DEECE66D, 1<<48 - 1
	s := (uint64(sid^0xB3415C00) ^ mult) & mask
	out := make([]byte, 0, 16)
	for len(out) < 16 {
		s = (s*mult + 0xB) & mask
		v := int32(s >> 16)
		for i := 0; i < 4; i++ {
			out = append(out, byte(v))
			v >>= 8
		}
	}
	return out
}
