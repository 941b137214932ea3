package diff

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/zkraw"
)

// These tests check the comparison itself, without servers: a differential
// test that cannot see a difference proves nothing.

func outcome(reply string) *Outcome { return &Outcome{Reply: reply, Lenient: reply} }

func TestCompareFlagsEveryField(t *testing.T) {
	op := Op{Slot: 0, Kind: KindRequest, Code: jute.OpGetData, Req: &jute.PathWatchRequest{Path: "/x"}}
	m := NewACLModel()
	base := func() *Outcome {
		o := outcome("xid=1 zxid=0x5 err=0 data=\"v\"")
		o.Pings[1] = "xid=-2 zxid=0x5 err=0"
		o.Events[1] = []Event{{Type: 3, State: 3, Path: "/x", Zxid: -1}}
		return o
	}
	if _, d := Compare(op, base(), base(), false, m); d != nil {
		t.Fatalf("identical outcomes diverge: %+v", d)
	}
	mutations := map[string]func(o *Outcome){
		"reply":      func(o *Outcome) { o.Reply = strings.Replace(o.Reply, "0x5", "0x6", 1) },
		"pre-events": func(o *Outcome) { o.PreEvents = []Event{{Type: 1, Path: "/x"}} },
		"events":     func(o *Outcome) { o.Events[1] = nil },
		"event zxid": func(o *Outcome) { o.Events[1][0].Zxid = 5 },
		"ping":       func(o *Outcome) { o.Pings[1] = "connection closed" },
	}
	for name, mut := range mutations {
		for _, mixed := range []bool{false, true} {
			b := base()
			mut(b)
			if _, d := Compare(op, base(), b, mixed, m); d == nil {
				t.Errorf("%s mutation (mixed=%v) not detected", name, mixed)
			}
		}
	}
}

func TestAllowancesApplyOnlyWhereDocumented(t *testing.T) {
	m := NewACLModel()
	// Slot 1 creates /s readable only by alice; slot 1 is not alice.
	create := Op{Slot: 1, Kind: KindRequest, Code: jute.OpCreate}
	m.Observe(create, &Outcome{Created: []Created{{Path: "/s", ACL: []jute.ACL{digestACL("alice", jute.PermAll)}}}})
	if m.CanRead(1, "/s") || !m.CanRead(1, "/other") {
		t.Fatal("ACL model")
	}
	m.Observe(Op{Slot: 2, Kind: KindAuth, User: "alice"}, &Outcome{AuthOK: true})
	if !m.CanRead(2, "/s") {
		t.Fatal("alice cannot read her node")
	}

	exists := Op{Slot: 1, Kind: KindRequest, Code: jute.OpExists, Req: &jute.PathWatchRequest{Path: "/s"}}
	a, b := outcome("xid=3 zxid=0x9 err=-102 body="), outcome("xid=3 zxid=0x9 err=0 stat={...}")
	a.Err, b.Err = -102, 0
	if used, d := Compare(exists, a, b, true, m); d != nil || len(used) != 1 || used[0] != AllowExistsNeedsRead {
		t.Fatalf("exists allowance: %v %+v", used, d)
	}
	if _, d := Compare(exists, a, b, false, m); d == nil {
		t.Fatal("allowance applied between two servers of the same kind")
	}
	if _, d := Compare(exists, b, a, true, m); d == nil {
		t.Fatal("exists allowance applied in the wrong direction")
	}
	readable := Op{Slot: 2, Kind: KindRequest, Code: jute.OpExists, Req: &jute.PathWatchRequest{Path: "/s"}}
	if _, d := Compare(readable, a, b, true, m); d == nil {
		t.Fatal("exists allowance applied for a session that may read")
	}

	// Events: zabkit may omit, never add, events the session cannot read.
	ev := Event{Type: jute.EventNodeDataChanged, State: 3, Path: "/s", Zxid: -1}
	set := Op{Slot: 0, Kind: KindRequest, Code: jute.OpSetData}
	ea, eb := outcome("r"), outcome("r")
	eb.Events[1] = []Event{ev}
	if used, d := Compare(set, ea, eb, true, m); d != nil || len(used) != 1 || used[0] != AllowNotifyNeedsRead {
		t.Fatalf("notification allowance: %v %+v", used, d)
	}
	if _, d := Compare(set, eb, ea, true, m); d == nil {
		t.Fatal("notification allowance let zabkit add an event")
	}
	ea.Events[2], eb.Events[2] = nil, []Event{ev}
	eb.Events[1] = nil
	if _, d := Compare(set, ea, eb, true, m); d == nil {
		t.Fatal("notification allowance hid an event for a session that may read")
	}

	// create2 in multi: only the type/stat of create results may differ.
	multi := Op{Slot: 0, Kind: KindRequest, Code: jute.OpMulti}
	ma := &Outcome{Reply: `x [{type=15 path="/a" stat={..}}]`, Lenient: `x [{create path="/a"}]`}
	mb := &Outcome{Reply: `x [{type=1 path="/a"}]`, Lenient: `x [{create path="/a"}]`}
	if used, d := Compare(multi, ma, mb, true, m); d != nil || len(used) != 1 || used[0] != AllowCreate2InMulti {
		t.Fatalf("create2 allowance: %v %+v", used, d)
	}
	mb.Lenient = `x [{create path="/b"}]`
	if _, d := Compare(multi, ma, mb, true, m); d == nil {
		t.Fatal("create2 allowance hid a different path")
	}
}

func TestGeneratorIsReproducible(t *testing.T) {
	run := func() string {
		g := NewGenerator(42, "/r")
		var b strings.Builder
		for i := 0; i < 500; i++ {
			op := g.Next()
			fmt.Fprintln(&b, Describe(op))
			o := &Outcome{}
			if op.Kind == KindRequest && op.Code == jute.OpCreate {
				o.Created = []Created{{Path: op.Req.(*jute.CreateRequest).Path}}
			}
			g.Observe(op, o)
		}
		return b.String()
	}
	a, b := run(), run()
	if a != b {
		t.Fatal("same seed, different histories")
	}
	for _, want := range []string{"multi [", "createTTL", "createContainer", "addWatch", "removeWatches", "getEphemerals", "multiRead", "closeSession", "addAuth", "setACL"} {
		if !strings.Contains(a, want) {
			t.Errorf("500 ops never produced %q", want)
		}
	}
}

// FuzzRenderReply feeds arbitrary reply bodies to the renderer for every
// opcode: it must describe junk, never panic.
func FuzzRenderReply(f *testing.F) {
	f.Add(int32(jute.OpMulti), []byte{0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff})
	f.Add(int32(jute.OpGetChildren2), []byte{0, 0, 0, 1, 0, 0, 0, 1, 'a'})
	f.Add(int32(jute.OpCreate2), []byte{0, 0, 0, 2, '/', 'a'})
	f.Fuzz(func(t *testing.T, code int32, body []byte) {
		r := NewRunner("fuzz", "")
		payload := append(zkraw.EncodeRequest(1, 0, nil)[:0], make([]byte, 16)...)
		payload = append(payload, body...)
		fr, err := zkraw.ParseFrame(payload)
		if err != nil {
			t.Fatal(err)
		}
		var req jute.Record
		if code == jute.OpMulti {
			req = &jute.MultiRequest{Ops: []jute.MultiOp{{Type: jute.OpCreate, Record: &jute.CreateRequest{Path: "/a"}}}}
		}
		o := &Outcome{}
		if s := r.renderFrame(code, req, fr, nil, o); s == "" {
			t.Fatal("empty rendering")
		}
	})
}

func TestTaintedWatchAllowance(t *testing.T) {
	m := NewACLModel()
	m.Observe(Op{Slot: 1, Kind: KindRequest, Code: jute.OpCreate}, &Outcome{Created: []Created{{Path: "/r", ACL: []jute.ACL{digestACL("alice", jute.PermAll)}}}})
	exists := Op{Slot: 1, Kind: KindRequest, Code: jute.OpExists, Req: &jute.PathWatchRequest{Path: "/r", Watch: true}}
	a, b := outcome("err=-102"), outcome("err=0")
	a.Err = -102
	if used, d := Compare(exists, a, b, true, m); d != nil || len(used) != 1 {
		t.Fatalf("exists: %v %+v", used, d)
	}
	// zabkit kept a recursive watch on /r that 3.8.0's exists replaced.
	set := Op{Slot: 0, Kind: KindRequest, Code: jute.OpCreate}
	ea, eb := outcome("r"), outcome("r")
	ea.Events[1] = []Event{{Type: jute.EventNodeCreated, State: 3, Path: "/r/x/y", Zxid: -1}}
	if used, d := Compare(set, ea, eb, true, m); d != nil || len(used) != 1 || used[0] != AllowTaintedWatch {
		t.Fatalf("tainted subtree event: %v %+v", used, d)
	}
	ea.Events[1], ea.Events[2] = nil, []Event{{Type: jute.EventNodeCreated, State: 3, Path: "/r/x", Zxid: -1}}
	if _, d := Compare(set, ea, eb, true, m); d == nil {
		t.Fatal("taint of slot 1 excused an event on slot 2")
	}
	ea.Events[2], ea.Events[1] = nil, []Event{{Type: jute.EventNodeCreated, State: 3, Path: "/rx", Zxid: -1}}
	if _, d := Compare(set, ea, eb, true, m); d == nil {
		t.Fatal("taint of /r excused an event on /rx")
	}
	m.Observe(Op{Slot: 1, Kind: KindClose}, &Outcome{})
	ea.Events[1] = []Event{{Type: jute.EventNodeCreated, State: 3, Path: "/r/x", Zxid: -1}}
	if _, d := Compare(set, ea, eb, true, m); d == nil {
		t.Fatal("taint outlived its session")
	}
}
