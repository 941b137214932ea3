package cli

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

func TestTokenize(t *testing.T) {
	cases := map[string][]string{
		"ls /":                     {"ls", "/"},
		"  set  /a   'two words' ": {"set", "/a", "two words"},
		`create /b "x y"z`:         {"create", "/b", "x yz"},
		`set /c ''`:                {"set", "/c", ""},
		"\t":                       nil,
		`get "/with space/n"`:      {"get", "/with space/n"},
		`set /d "it's"`:            {"set", "/d", "it's"},
	}
	for in, want := range cases {
		got, err := tokenize(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("tokenize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := tokenize(`set /a "open`); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func TestParseACL(t *testing.T) {
	acl, err := parseACL("digest:u:hash=:cdrwa,world:anyone:r,ip:10.0.0.0/8:RW,auth::a")
	if err != nil {
		t.Fatal(err)
	}
	want := []zk.ACL{
		{Scheme: "digest", ID: "u:hash=", Perms: zk.PermAll},
		{Scheme: "world", ID: "anyone", Perms: zk.PermRead},
		{Scheme: "ip", ID: "10.0.0.0/8", Perms: zk.PermRead | zk.PermWrite},
		{Scheme: "auth", ID: "", Perms: zk.PermAdmin},
	}
	if !slices.Equal(acl, want) {
		t.Fatalf("got %+v", acl)
	}
	for _, bad := range []string{"bad", "world:anyone", "world:anyone:rx"} {
		if _, err := parseACL(bad); err == nil {
			t.Errorf("parseACL(%q) accepted", bad)
		}
	}
	var buf bytes.Buffer
	writeACL(&buf, want[:2])
	if buf.String() != "'digest,'u:hash=\n: cdrwa\n'world,'anyone\n: r\n" {
		t.Fatalf("writeACL: %q", buf.String())
	}
	if permString(zk.PermRead|zk.PermCreate) != "cr" || permString(0) != "" {
		t.Fatal("permString order")
	}
}

func TestMessages(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{zk.ErrNoNode, "Node does not exist: /p"},
		{zk.ErrNodeExists, "Node already exists: /p"},
		{zk.ErrNotEmpty, "Node not empty: /p"},
		{zk.ErrNoAuth, "Insufficient permission : /p"},
		{zk.ErrBadVersion, "version No is not valid : /p"},
		{zk.ErrNoChildrenForEphemerals, "Ephemerals cannot have children: /p"},
		{zk.ErrInvalidACL, "Acl is not valid : /p"},
		{fmt.Errorf("wrapped: %w", zkerr.BadArguments), "Arguments are not valid : /p"},
		{errors.New("unknown error: -6"), "KeeperErrorCode = Unimplemented for /p"},
		{zkerr.Code(-999), "KeeperErrorCode = ERROR(-999) for /p"},
		{errors.New("plain"), "plain"},
	}
	for _, c := range cases {
		if got := message(c.err, "/p"); got != c.want {
			t.Errorf("message(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestWriteStat(t *testing.T) {
	st := &zk.Stat{Czxid: 0x1a, Mzxid: -1, Ctime: 0, Mtime: 1700000000123, Version: 3, Cversion: -1,
		Aversion: 2, EphemeralOwner: 0x100000abc, DataLength: 7, NumChildren: 1, Pzxid: 0x20}
	var buf bytes.Buffer
	old := time.Local
	time.Local = time.UTC
	defer func() { time.Local = old }()
	writeStat(&buf, st)
	want := `cZxid = 0x1a
ctime = Thu Jan 01 00:00:00 UTC 1970
mZxid = 0xffffffffffffffff
mtime = Tue Nov 14 22:13:20 UTC 2023
pZxid = 0x20
cversion = -1
dataVersion = 3
aclVersion = 2
ephemeralOwner = 0x100000abc
dataLength = 7
numChildren = 1
`
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestParseArgs(t *testing.T) {
	c := commandByName["set"]
	o, pos, err := parseArgs(c, []string{"/a", "-v", "3", "-s", "-1"})
	if err != nil || o['v'] != "3" || !o.has('s') || !slices.Equal(pos, []string{"/a", "-1"}) {
		t.Fatalf("parseArgs: %v %v %v", o, pos, err)
	}
	if _, _, err := parseArgs(c, []string{"/a", "-v"}); err == nil {
		t.Fatal("missing flag value accepted")
	}
}

func frame(payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	return append(b, payload...)
}

func TestReadFrameAndParseReply(t *testing.T) {
	w := jute.NewWriter(nil)
	hdr := jute.ReplyHeader{Xid: jute.XidNotification, Zxid: -1}
	hdr.Encode(w)
	ev := jute.WatcherEvent{Type: jute.EventNodeCreated, State: jute.StateSyncConnected, Path: "/x"}
	ev.Encode(w)
	p, err := readFrame(bytes.NewReader(frame(w.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	h, body, err := parseReply(p)
	if err != nil || h.Xid != -1 {
		t.Fatalf("parseReply: %+v %v", h, err)
	}
	var got jute.WatcherEvent
	if err := jute.Unmarshal(body, &got); err != nil || got != ev {
		t.Fatalf("event %+v %v", got, err)
	}
	if _, err := readFrame(bytes.NewReader(binary.BigEndian.AppendUint32(nil, maxSideFrame+1))); err == nil {
		t.Fatal("oversized frame accepted")
	}
	if _, _, err := parseReply([]byte{1, 2}); err == nil {
		t.Fatal("short header accepted")
	}
	var out bytes.Buffer
	writeEvent(&out, ev.Type, ev.State, ev.Path)
	if out.String() != "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeCreated path:/x\n" {
		t.Fatalf("writeEvent: %q", out.String())
	}
}

// FuzzSideFrame feeds arbitrary bytes through everything the side session
// decodes from a server: framing, reply header, notification, whoAmI.
func FuzzSideFrame(f *testing.F) {
	f.Add(frame([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 2, '/', 'x'}))
	f.Add(frame([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 'i', 'p', 0, 0, 0, 1, 'h'}))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := readFrame(bytes.NewReader(data))
		if err != nil {
			return
		}
		_, body, err := parseReply(p)
		if err != nil {
			return
		}
		var ev jute.WatcherEvent
		_ = jute.Unmarshal(body, &ev)
		var who jute.WhoAmIResponse
		_ = jute.Unmarshal(body, &who)
		var out strings.Builder
		writeEvent(&out, ev.Type, ev.State, ev.Path)
	})
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"ls /", `set /a "b c"`, "'", `"a'b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks, err := tokenize(s)
		if err != nil {
			return
		}
		for _, tok := range toks {
			if !strings.ContainsAny(s, `'"`) && (tok == "" || strings.ContainsAny(tok, " \t")) {
				t.Fatalf("unquoted input %q gave token %q", s, tok)
			}
		}
	})
}
