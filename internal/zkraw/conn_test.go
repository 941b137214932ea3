package zkraw

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

// fakeServer accepts one connection and runs script on it. It is a stand-in
// only for the framing logic of zkraw; behaviour against real servers is
// covered by tests/e2e.
func fakeServer(t *testing.T, script func(nc net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		script(nc)
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

func readFrame(t *testing.T, nc net.Conn) []byte {
	var lb [4]byte
	if _, err := io.ReadFull(nc, lb[:]); err != nil {
		t.Errorf("server read length: %v", err)
		return nil
	}
	b := make([]byte, binary.BigEndian.Uint32(lb[:]))
	if _, err := io.ReadFull(nc, b); err != nil {
		t.Errorf("server read body: %v", err)
	}
	return b
}

func writeFrame(nc net.Conn, payload []byte) {
	var lb [4]byte
	binary.BigEndian.PutUint32(lb[:], uint32(len(payload)))
	nc.Write(append(lb[:], payload...))
}

func reply(xid int32, zxid int64, errc int32, rec jute.Record) []byte {
	w := jute.NewWriter(nil)
	h := jute.ReplyHeader{Xid: xid, Zxid: zxid, Err: errc}
	h.Encode(w)
	if rec != nil {
		rec.Encode(w)
	}
	return w.Bytes()
}

func TestHandshakeCallAndNotificationOrder(t *testing.T) {
	addr := fakeServer(t, func(nc net.Conn) {
		var req jute.ConnectRequest
		if err := jute.Unmarshal(readFrame(t, nc), &req); err != nil {
			t.Error(err)
			return
		}
		if !req.HasReadOnly || req.TimeOut != 4000 || len(req.Passwd) != 16 {
			t.Errorf("connect request %+v", req)
		}
		writeFrame(nc, jute.Marshal(&jute.ConnectResponse{TimeOut: 4000, SessionID: 77, Passwd: make([]byte, 16), SendReadOnly: true}))
		p := readFrame(t, nc)
		var h jute.RequestHeader
		r := jute.NewReader(p)
		h.Decode(r)
		var cr jute.CreateRequest
		cr.Decode(r)
		if h.Xid != 1 || h.Type != jute.OpCreate || cr.Path != "/a" {
			t.Errorf("request %+v %+v", h, cr)
		}
		// A notification precedes the reply, as ZooKeeper orders them.
		writeFrame(nc, reply(-1, -1, 0, &jute.WatcherEvent{Type: jute.EventNodeCreated, State: 3, Path: "/a"}))
		writeFrame(nc, reply(1, 5, 0, &jute.PathRecord{Path: "/a"}))
		readFrame(t, nc)
		writeFrame(nc, reply(2, 5, int32(zkerr.NoNode), nil))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, Options{Timeout: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.SessionID() != 77 || !c.Response().SendReadOnly {
		t.Fatalf("response %+v", c.Response())
	}
	p, err := c.Create(ctx, "/a", nil, OpenACL, 0)
	if err != nil || p != "/a" {
		t.Fatalf("create = %q, %v", p, err)
	}
	ev := c.Events()
	if len(ev) != 1 || ev[0].Path != "/a" || ev[0].Type != jute.EventNodeCreated {
		t.Fatalf("events %+v", ev)
	}
	if _, err := c.GetData(ctx, "/b", false); !errors.Is(err, zkerr.NoNode) {
		t.Fatalf("getData err = %v, want NONODE", err)
	}
	if _, err := c.NextFrame(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("after server close: %v, want ErrClosed", err)
	}
}

func TestOldClientHandshakeAndInvalidSession(t *testing.T) {
	addr := fakeServer(t, func(nc net.Conn) {
		p := readFrame(t, nc)
		if len(p) != 44 {
			t.Errorf("old-client ConnectRequest is %d bytes, want 44", len(p))
		}
		writeFrame(nc, jute.Marshal(&jute.ConnectResponse{Passwd: make([]byte, 16)}))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, Options{OmitReadOnly: true, SessionID: 5, Passwd: make([]byte, 16)})
	if !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("err = %v, want ErrSessionInvalid", err)
	}
	if c.Response().SendReadOnly {
		t.Fatal("36-byte response read as carrying readOnly")
	}
	frames, err := c.WaitClosed(ctx)
	if err != nil || len(frames) != 0 {
		t.Fatalf("WaitClosed = %v, %v", frames, err)
	}
}

func TestOutOfOrderReplyIsAnError(t *testing.T) {
	addr := fakeServer(t, func(nc net.Conn) {
		readFrame(t, nc)
		writeFrame(nc, jute.Marshal(&jute.ConnectResponse{TimeOut: 4000, SessionID: 1, Passwd: make([]byte, 16)}))
		readFrame(t, nc)
		writeFrame(nc, reply(9, 1, 0, nil))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exists(ctx, "/x", false); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("err = %v, want ErrOutOfOrder", err)
	}
}

func TestDigestID(t *testing.T) {
	// The value the spec sheet records from a live server.
	if got := DigestID("bob", "secret"); got != "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=" {
		t.Fatalf("DigestID = %q", got)
	}
}

func FuzzParseFrame(f *testing.F) {
	f.Add(reply(-1, -1, 0, &jute.WatcherEvent{Type: 1, State: 3, Path: "/a"}))
	f.Add(reply(3, 0x100000002, -101, nil))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b)
		if err != nil {
			if len(b) >= 16 {
				t.Fatalf("16+ bytes rejected: %v", err)
			}
			return
		}
		if len(fr.Body) != len(b)-16 {
			t.Fatalf("body %d of %d", len(fr.Body), len(b))
		}
		// Decoders on arbitrary bodies must fail cleanly, never panic.
		_, _ = fr.Event()
		var mr jute.MultiResponse
		_ = fr.Decode(&mr)
	})
}
