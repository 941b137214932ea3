package node_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/stores/mem"
)

// rawSession opens a connection and completes the handshake.
func rawSession(t testing.TB, addr string) net.Conn {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	req := jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), HasReadOnly: true}
	if err := writeFrame(c, jute.Marshal(&req)); err != nil {
		t.Fatal(err)
	}
	var resp jute.ConnectResponse
	b, err := readFrame(c)
	if err != nil || jute.Unmarshal(b, &resp) != nil || resp.SessionID == 0 {
		t.Fatalf("handshake: %v %+v", err, resp)
	}
	return c
}

func writeFrame(c net.Conn, b []byte) error {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
	_, err := c.Write(append(out, b...))
	return err
}

func readFrame(c net.Conn) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var lb [4]byte
	if _, err := io.ReadFull(c, lb[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(lb[:]))
	_, err := io.ReadFull(c, b)
	return b, err
}

// FuzzRequests sends arbitrary request bodies, under every opcode, to a
// live server. Whatever the bytes, the server must answer with a reply or
// close the connection, and keep serving other sessions with an intact
// tree.
func FuzzRequests(f *testing.F) {
	seed := func(op int32, rec jute.Record) {
		f.Add(op, jute.Marshal(rec))
	}
	seed(jute.OpCreate, &jute.CreateRequest{Path: "/f", ACL: jute.OpenACLUnsafe})
	seed(jute.OpCreateTTL, &jute.CreateTTLRequest{Path: "/t", ACL: jute.OpenACLUnsafe, Flags: 5, TTL: 10})
	seed(jute.OpMulti, &jute.MultiRequest{Ops: []jute.MultiOp{{Type: jute.OpCheck, Record: &jute.PathVersionRequest{Path: "/", Version: 0}}}})
	seed(jute.OpMultiRead, &jute.MultiRequest{Ops: []jute.MultiOp{{Type: jute.OpGetData, Record: &jute.PathWatchRequest{Path: "/"}}}})
	seed(jute.OpSetWatches2, &jute.SetWatches{Version2: true, Data: []string{"/x"}})
	seed(jute.OpGetData, &jute.PathWatchRequest{Path: "/zookeeper", Watch: true})
	seed(jute.OpAddWatch, &jute.AddWatchRequest{Path: "/", Mode: 1})
	seed(jute.OpSetACL, &jute.SetACLRequest{Path: "/f", ACL: []jute.ACL{{Perms: 1, ID: jute.Id{Scheme: "ip", ID: "1.2.3.4/40"}}}})
	seed(jute.OpAuth, &jute.AuthPacket{Scheme: "digest", Auth: []byte("a:b")})
	seed(jute.OpDeleteContainer, &jute.PathRecord{Path: "/f"})
	f.Add(int32(999), []byte{1, 2, 3})
	f.Add(jute.OpDelete, []byte{0xff, 0xff, 0xff, 0xff})

	addr, stop := startNode(f, mem.NewDisk(), nil)
	f.Cleanup(stop)
	f.Fuzz(func(t *testing.T, op int32, body []byte) {
		c := rawSession(t, addr)
		defer c.Close()
		hdr := jute.Marshal(&jute.RequestHeader{Xid: 1, Type: op})
		if err := writeFrame(c, append(hdr, body...)); err != nil {
			t.Fatal(err)
		}
		// Either a reply (or notification) arrives or the server closes.
		for {
			b, err := readFrame(c)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("op %d: neither a reply nor a close", op)
				}
				break
			}
			var rh jute.ReplyHeader
			if jute.Unmarshal(b, &rh) != nil {
				t.Fatalf("op %d: malformed reply frame %x", op, b)
			}
			if rh.Xid != jute.XidNotification {
				break
			}
		}
		// The server still serves a normal client.
		zc, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogger(discard{}))
		if err != nil {
			t.Fatal(err)
		}
		defer zc.Close()
		if _, _, err := zc.Get("/zookeeper/config"); err != nil {
			t.Fatalf("after op %d: server unhealthy: %v", op, err)
		}
	})
}
