package diff

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/zkraw"
)

// SessionTimeout is what every generated session asks for; each op pings
// every open session, so none comes near expiring.
const SessionTimeout = 30 * time.Second

// Event is a notification as compared: the header zxid is kept (it must
// be -1) and the state too.
type Event struct {
	Type  int32
	State int32
	Path  string
	Zxid  int64
}

func (e Event) String() string {
	return fmt.Sprintf("(%s %s state=%d zxid=%d)", eventName(e.Type), e.Path, e.State, e.Zxid)
}

func eventName(t int32) string {
	switch t {
	case jute.EventNodeCreated:
		return "NodeCreated"
	case jute.EventNodeDeleted:
		return "NodeDeleted"
	case jute.EventNodeDataChanged:
		return "NodeDataChanged"
	case jute.EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	}
	return fmt.Sprintf("type%d", t)
}

// Created is a node an op created, with the ACL it asked for.
type Created struct {
	Path      string
	ACL       []jute.ACL
	Ephemeral bool
}

// Outcome is everything one server did in response to one op.
type Outcome struct {
	// Reply is the normalised reply: header (xid, zxid, err) and body.
	Reply string
	// Lenient is Reply with results of creates inside multi reduced to
	// their paths (see the create2-in-multi allowance).
	Lenient string
	Err     int32
	// PreEvents arrived on the op's own session before its reply.
	PreEvents []Event
	// Events arrived on each slot after the reply, up to the barrier ping.
	Events [Slots][]Event
	// Pings is each open slot's ping reply header.
	Pings [Slots]string
	// Created and Deleted list nodes the op created or deleted, for the
	// generator and the ACL model.
	Created []Created
	Deleted []string
	// AuthOK is set for a successful addAuth.
	AuthOK bool
	// WatchersElsewhere is set when another session was open on another
	// ensemble member than the op's, where its watches are out of the
	// op's member's sight.
	WatchersElsewhere bool
}

// Runner executes ops against one server or one ensemble.
type Runner struct {
	Name string
	// Addrs are the servers sessions open on: each new session on the
	// next one in turn, so on an ensemble they move between members.
	Addrs []string
	// CatchUp makes the barrier ping each open session until its server
	// reports a zxid (the last it applied) at least as high as any reply
	// so far. An ensemble member may answer before it has applied a write
	// acknowledged by another member, so without this what a session reads
	// or hears after an op would depend on timing. Pings rather than
	// syncs: pings take no xid, so both sides' xids stay alike however many
	// it takes, and the barrier does not lean on sync, which is under test.
	CatchUp bool
	// ZxidBase, when not zero, is subtracted from every positive zxid
	// rendered, so servers whose histories before the test differ (an
	// ensemble's epoch, the sessions its start-up probes opened) compare
	// by how many txns each op is after the base.
	ZxidBase int64
	conns    [Slots]*zkraw.Conn
	at       [Slots]string // the server each slot's session is on
	labels   map[int64]string
	opened   int
	seen     int64 // highest zxid a reply carried
}

// NewRunner returns a runner whose sessions open on addrs in turn.
func NewRunner(name string, addrs ...string) *Runner {
	return &Runner{Name: name, Addrs: addrs, labels: map[int64]string{}}
}

// Close ends every open session.
func (r *Runner) Close(ctx context.Context) {
	for i, c := range r.conns {
		if c != nil {
			_ = c.CloseSession(ctx)
			r.conns[i] = nil
		}
	}
}

// Exec runs op, then pings every open session as a barrier. A server that
// drops a connection is reported in the outcome, not as an error; errors
// are for the harness itself (a timeout, a refused dial).
func (r *Runner) Exec(ctx context.Context, op Op) (*Outcome, error) {
	o := &Outcome{}
	if op.Kind != KindOpen && r.conns[op.Slot] == nil {
		// This server already dropped the slot's connection; that was
		// reported as a divergence when it happened.
		o.Reply = "slot has no connection"
		return o, nil
	}
	switch op.Kind {
	case KindOpen:
		addr := r.Addrs[r.opened%len(r.Addrs)]
		c, err := zkraw.Dial(ctx, addr, zkraw.Options{Timeout: SessionTimeout})
		if err != nil {
			if errors.Is(err, zkraw.ErrSessionInvalid) {
				o.Reply = "handshake refused: " + err.Error()
				c.Close()
				break
			}
			return nil, fmt.Errorf("%s: open session: %w", r.Name, err)
		}
		r.opened++
		label := fmt.Sprintf("S%d", r.opened)
		r.labels[c.SessionID()] = label
		r.conns[op.Slot] = c
		r.at[op.Slot] = addr
		resp := c.Response()
		o.Reply = fmt.Sprintf("session %s timeout=%d readOnly=%v/%v passwdLen=%d", label, resp.TimeOut, resp.SendReadOnly, resp.ReadOnly, len(resp.Passwd))
	case KindClose:
		c := r.conns[op.Slot]
		r.conns[op.Slot] = nil
		f, err := c.Call(ctx, jute.OpCloseSession, nil)
		o.Reply = r.renderFrame(jute.OpCloseSession, nil, f, err, o)
		c.Close()
	case KindAuth:
		c := r.conns[op.Slot]
		f, err := c.CallXid(ctx, jute.XidAuth, jute.OpAuth, &jute.AuthPacket{Scheme: "digest", Auth: []byte(op.User + ":pw")})
		o.Reply = r.renderFrame(jute.OpAuth, nil, f, err, o)
		o.AuthOK = err == nil && f.Header.Err == 0
		o.PreEvents = toEvents(c.Events())
	default:
		for i, c := range r.conns {
			if c != nil && r.at[i] != r.at[op.Slot] {
				o.WatchersElsewhere = true
			}
		}
		c := r.conns[op.Slot]
		f, err := c.Call(ctx, op.Code, op.Req)
		if err != nil && !errors.Is(err, zkraw.ErrClosed) && !errors.Is(err, zkraw.ErrOutOfOrder) {
			return nil, fmt.Errorf("%s: %s: %w", r.Name, Describe(op), err)
		}
		o.Reply = r.renderFrame(op.Code, op.Req, f, err, o)
		o.PreEvents = toEvents(c.Events())
		if err != nil {
			r.conns[op.Slot] = nil
		}
	}
	var pings [Slots]*zkraw.Frame
	var errs [Slots]error
	for i, c := range r.conns {
		if c != nil {
			pings[i], errs[i] = c.Ping(ctx)
			if errs[i] == nil {
				// A member that made a session had applied its
				// createSession, which no reply names: the pings do.
				r.seen = max(r.seen, pings[i].Header.Zxid)
			}
		}
	}
	for i, c := range r.conns {
		if c == nil {
			continue
		}
		f, err := pings[i], errs[i]
		for r.CatchUp && err == nil && f.Header.Zxid < r.seen {
			time.Sleep(time.Millisecond)
			f, err = c.Ping(ctx)
		}
		switch {
		case err == nil:
			o.Pings[i] = fmt.Sprintf("xid=%d zxid=%s err=%d", f.Header.Xid, r.zxid(f.Header.Zxid), f.Header.Err)
		case errors.Is(err, zkraw.ErrClosed):
			o.Pings[i] = "connection closed"
			r.conns[i] = nil
		default:
			return nil, fmt.Errorf("%s: barrier ping on slot %d: %w", r.Name, i, err)
		}
		o.Events[i] = toEvents(c.Events())
	}
	return o, nil
}

func toEvents(evs []jute.WatcherEvent) []Event {
	out := make([]Event, len(evs))
	for i, e := range evs {
		// Notifications always carry zxid -1 in the header; zkraw checked
		// the xid, and Await keeps only the body, so record the rule.
		out[i] = Event{Type: e.Type, State: e.State, Path: e.Path, Zxid: -1}
	}
	return out
}

// renderFrame turns a reply into the normalised text that is compared.
func (r *Runner) renderFrame(code int32, req jute.Record, f *zkraw.Frame, err error, o *Outcome) string {
	if err != nil {
		if errors.Is(err, zkraw.ErrClosed) {
			return "connection closed by server"
		}
		return "error: " + err.Error()
	}
	o.Err = f.Header.Err
	r.seen = max(r.seen, f.Header.Zxid)
	head := fmt.Sprintf("xid=%d zxid=%s err=%d", f.Header.Xid, r.zxid(f.Header.Zxid), f.Header.Err)
	body, lenient := r.renderBody(code, req, f, o)
	o.Lenient = head + " " + lenient
	return head + " " + body
}

// renderBody decodes a reply body by opcode. Bodies that fail to decode
// are shown as hex, so two servers sending the same junk still agree.
func (r *Runner) renderBody(code int32, req jute.Record, f *zkraw.Frame, o *Outcome) (strict, lenient string) {
	if f.Header.Err != 0 && code != jute.OpMulti && code != jute.OpMultiRead {
		s := fmt.Sprintf("body=%x", f.Body)
		return s, s
	}
	if pv, ok := req.(*jute.PathVersionRequest); ok && code == jute.OpDelete {
		o.Deleted = append(o.Deleted, pv.Path)
	}
	var rec jute.Record
	switch code {
	case jute.OpCreate, jute.OpSync:
		rec = &jute.PathRecord{}
	case jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL:
		rec = &jute.Create2Response{}
	case jute.OpExists, jute.OpSetData, jute.OpSetACL:
		rec = &jute.StatResponse{}
	case jute.OpGetData:
		rec = &jute.GetDataResponse{}
	case jute.OpGetACL:
		rec = &jute.GetACLResponse{}
	case jute.OpGetChildren, jute.OpGetEphemerals:
		rec = &jute.ChildrenResponse{}
	case jute.OpGetChildren2:
		rec = &jute.Children2Response{}
	case jute.OpGetAllChildrenNumber:
		rec = &jute.IntRecord{}
	case jute.OpWhoAmI:
		rec = &jute.WhoAmIResponse{}
	case jute.OpMulti, jute.OpMultiRead:
		rec = &jute.MultiResponse{}
	default:
		s := fmt.Sprintf("body=%x", f.Body)
		return s, s
	}
	if err := jute.UnmarshalExact(f.Body, rec); err != nil {
		s := fmt.Sprintf("undecodable(%v) body=%x", err, f.Body)
		return s, s
	}
	switch x := rec.(type) {
	case *jute.PathRecord:
		if code == jute.OpCreate {
			o.Created = append(o.Created, created(x.Path, req))
		}
		s := fmt.Sprintf("path=%q", x.Path)
		return s, s
	case *jute.Create2Response:
		o.Created = append(o.Created, created(x.Path, req))
		s := fmt.Sprintf("path=%q stat=%s", x.Path, r.stat(&x.Stat))
		return s, s
	case *jute.MultiResponse:
		var ops []jute.MultiOp
		if m, ok := req.(*jute.MultiRequest); ok {
			ops = m.Ops
		}
		var strict, lenient []string
		for i, res := range x.Results {
			s, l := r.multiResult(res)
			strict = append(strict, s)
			lenient = append(lenient, l)
			if i >= len(ops) {
				continue
			}
			if p := createdPath(res); p != "" {
				o.Created = append(o.Created, created(p, ops[i].Record))
			}
			// A server may answer with result types that do not match the
			// request; only a delete answering a delete counts.
			if pv, ok := ops[i].Record.(*jute.PathVersionRequest); ok && res.Type == jute.OpDelete && ops[i].Type == jute.OpDelete {
				o.Deleted = append(o.Deleted, pv.Path)
			}
		}
		return "[" + strings.Join(strict, " ") + "]", "[" + strings.Join(lenient, " ") + "]"
	}
	s := r.renderRecord(rec)
	return s, s
}

func created(path string, req jute.Record) Created {
	switch x := req.(type) {
	case *jute.CreateRequest:
		return Created{Path: path, ACL: x.ACL, Ephemeral: x.Flags == jute.FlagEphemeral || x.Flags == jute.FlagEphemeralSequential}
	case *jute.CreateTTLRequest:
		return Created{Path: path, ACL: x.ACL}
	}
	return Created{Path: path}
}

func createdPath(res jute.MultiResult) string {
	switch x := res.Record.(type) {
	case *jute.PathRecord:
		return x.Path
	case *jute.Create2Response:
		return x.Path
	}
	return ""
}

func (r *Runner) multiResult(res jute.MultiResult) (strict, lenient string) {
	switch x := res.Record.(type) {
	case *jute.PathRecord:
		return fmt.Sprintf("{type=%d path=%q}", res.Type, x.Path), fmt.Sprintf("{create path=%q}", x.Path)
	case *jute.Create2Response:
		return fmt.Sprintf("{type=%d path=%q stat=%s}", res.Type, x.Path, r.stat(&x.Stat)), fmt.Sprintf("{create path=%q}", x.Path)
	case nil:
		s := fmt.Sprintf("{type=%d err=%d}", res.Type, res.Err)
		return s, s
	}
	s := fmt.Sprintf("{type=%d %s}", res.Type, r.renderRecord(res.Record))
	return s, s
}

func (r *Runner) renderRecord(rec jute.Record) string {
	switch x := rec.(type) {
	case *jute.StatResponse:
		return "stat=" + r.stat(&x.Stat)
	case *jute.GetDataResponse:
		return fmt.Sprintf("data=%q stat=%s", x.Data, r.stat(&x.Stat))
	case *jute.GetACLResponse:
		return fmt.Sprintf("acl=%v stat=%s", x.ACL, r.stat(&x.Stat))
	case *jute.ChildrenResponse:
		return "children=" + sorted(x.Children)
	case *jute.Children2Response:
		return fmt.Sprintf("children=%s stat=%s", sorted(x.Children), r.stat(&x.Stat))
	case *jute.IntRecord:
		return fmt.Sprintf("n=%d", x.Value)
	case *jute.WhoAmIResponse:
		ids := make([]string, len(x.Infos))
		for i, c := range x.Infos {
			ids[i] = c.AuthScheme + ":" + c.User
		}
		return "ids=" + sorted(ids)
	}
	return fmt.Sprintf("%+v", rec)
}

// sorted renders a list whose order ZooKeeper does not define.
func sorted(v []string) string {
	if v == nil {
		return "null"
	}
	c := append([]string(nil), v...)
	sort.Strings(c)
	return fmt.Sprintf("%q", c)
}

// stat renders a Stat without ctime/mtime and with session ids mapped to
// the labels of the sessions that own them.
func (r *Runner) stat(s *jute.Stat) string {
	return fmt.Sprintf("{czxid=%s mzxid=%s pzxid=%s v=%d cv=%d av=%d owner=%s dlen=%d nch=%d}",
		r.zxid(s.Czxid), r.zxid(s.Mzxid), r.zxid(s.Pzxid), s.Version, s.Cversion, s.Aversion, r.owner(s.EphemeralOwner), s.DataLength, s.NumChildren)
}

// zxid renders a zxid, relative to ZxidBase when one is set. Zero and -1
// (no zxid, a notification) stay as they are.
func (r *Runner) zxid(z int64) string {
	if r.ZxidBase == 0 || z <= 0 {
		return fmt.Sprintf("%#x", z)
	}
	if d := z - r.ZxidBase; d < 0 {
		return fmt.Sprintf("base-%#x", -d)
	}
	return fmt.Sprintf("base+%#x", z-r.ZxidBase)
}

func (r *Runner) owner(id int64) string {
	if id == 0 {
		return "0"
	}
	if l, ok := r.labels[id]; ok {
		return l
	}
	return fmt.Sprintf("unknown(%#x)", uint64(id))
}
