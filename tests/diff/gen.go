// Package diff is a differential tester: it drives two ZooKeeper-protocol
// servers (zabkit and Apache ZooKeeper, or two ZooKeepers to validate the
// harness) with the same seeded sequence of operations from several
// sessions, one operation at a time, and compares every reply and every
// watch notification after normalising only what must differ (times,
// session ids, list order).
//
// Determinism comes from the protocol itself: a session's requests are
// answered in order, and a notification caused by a write is queued on a
// watcher's connection before any later reply to that watcher. So after
// each operation the runner pings every open session; once the pings
// return, every event the operation caused has arrived.
package diff

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/zkraw"
)

// Kind is what an Op does.
type Kind int

// Op kinds besides plain requests.
const (
	KindRequest Kind = iota
	KindOpen         // open a new session in an empty slot
	KindClose        // closeSession (op -11)
	KindAuth         // addAuth (op 100, xid -4)
)

// Op is one step of a generated history.
type Op struct {
	Slot int
	Kind Kind
	Code int32       // opcode for KindRequest
	Req  jute.Record // request record (nil for bodiless ops)
	// User is the digest user for KindAuth.
	User string
}

// Slots is the number of concurrent sessions interleaved in a history.
const Slots = 3

// users that sessions may authenticate as (digest scheme, password "pw").
var users = []string{"alice", "bob"}

// aclChoice is a named ACL the generator picks from.
type aclChoice struct {
	name string
	acl  []jute.ACL
}

func digestACL(user string, perms int32) jute.ACL {
	return jute.ACL{Perms: perms, ID: jute.Id{Scheme: "digest", ID: zkraw.DigestID(user, "pw")}}
}

var world = jute.Id{Scheme: "world", ID: "anyone"}

var aclChoices = []aclChoice{
	{"open", jute.OpenACLUnsafe}, {"open", jute.OpenACLUnsafe}, {"open", jute.OpenACLUnsafe},
	{"open", jute.OpenACLUnsafe}, {"open", jute.OpenACLUnsafe}, {"open", jute.OpenACLUnsafe},
	{"open", jute.OpenACLUnsafe}, {"open", jute.OpenACLUnsafe}, {"open", jute.OpenACLUnsafe},
	{"world-read", []jute.ACL{{Perms: jute.PermRead, ID: world}}},
	{"alice-all", []jute.ACL{digestACL("alice", jute.PermAll)}},
	{"bob-all+world-read", []jute.ACL{digestACL("bob", jute.PermAll), {Perms: jute.PermRead, ID: world}}},
	{"world-all-but-read", []jute.ACL{{Perms: jute.PermAll &^ jute.PermRead, ID: world}}},
	{"auth-all", []jute.ACL{{Perms: jute.PermAll, ID: jute.Id{Scheme: "auth", ID: ""}}}},
	{"ip-loopback", []jute.ACL{{Perms: jute.PermAll, ID: jute.Id{Scheme: "ip", ID: "127.0.0.1"}}}},
	{"world-create-delete", []jute.ACL{{Perms: jute.PermCreate | jute.PermDelete | jute.PermRead, ID: world}}},
}

// Generator makes a seeded, reproducible history. It learns sequential
// node names from the reference server's replies (Observe), which both
// servers must agree on anyway.
type Generator struct {
	rng  *rand.Rand
	root string
	pool []string // paths ops pick from
	seen map[string]bool
	open [Slots]bool
	// live is the reference server's tree as far as replies tell, so most
	// ops can aim at nodes that exist; eph maps an ephemeral to its slot.
	live   []string
	isLive map[string]bool
	eph    map[string]int
}

// NewGenerator returns a generator whose paths live under root.
func NewGenerator(seed uint64, root string) *Generator {
	g := &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), root: root, seen: map[string]bool{},
		isLive: map[string]bool{}, eph: map[string]int{}}
	g.setLive(root, true)
	names := []string{"a", "b", "c"}
	g.add(root)
	for _, x := range names {
		g.add(root + "/" + x)
		for _, y := range names[:2] {
			g.add(root + "/" + x + "/" + y)
			g.add(root + "/" + x + "/" + y + "/" + "a")
		}
	}
	return g
}

func (g *Generator) add(p string) {
	if !g.seen[p] {
		g.seen[p] = true
		g.pool = append(g.pool, p)
	}
}

// Observe feeds a reference reply back so later ops can name nodes whose
// names the server chose (sequential suffixes).
func (g *Generator) Observe(op Op, o *Outcome) {
	switch op.Kind {
	case KindOpen:
		g.open[op.Slot] = true
	case KindClose:
		g.open[op.Slot] = false
		for p, slot := range g.eph {
			if slot == op.Slot {
				g.setLive(p, false)
			}
		}
	}
	for _, c := range o.Created {
		g.add(c.Path)
		g.setLive(c.Path, true)
		if c.Ephemeral {
			g.eph[c.Path] = op.Slot
		}
	}
	for _, p := range o.Deleted {
		g.setLive(p, false)
	}
}

func (g *Generator) setLive(p string, live bool) {
	if live == g.isLive[p] {
		return
	}
	g.isLive[p] = live
	if live {
		g.live = append(g.live, p)
		return
	}
	delete(g.eph, p)
	for i, q := range g.live {
		if q == p {
			g.live = append(g.live[:i], g.live[i+1:]...)
			break
		}
	}
}

func (g *Generator) pick(items int) int { return g.rng.IntN(items) }

func (g *Generator) chance(pct int) bool { return g.rng.IntN(100) < pct }

func (g *Generator) path() string {
	switch {
	case g.chance(3):
		return g.root + "/nope/x"
	case len(g.live) > 0 && g.chance(70):
		return g.live[g.pick(len(g.live))]
	}
	return g.pool[g.pick(len(g.pool))]
}

// parentish returns a path under which to create: an existing pool path
// plus a short name, sometimes a fresh deeper one.
func (g *Generator) createPath(seq bool) string {
	if seq {
		return g.path() + "/s-"
	}
	p := g.path()
	if p == g.root || g.chance(25) {
		return p + "/" + string(rune('a'+g.pick(3)))
	}
	return p
}

// victim is a path to delete: never the subtree root, which would leave
// the rest of the history with nothing to do.
func (g *Generator) victim() string {
	for {
		if p := g.path(); p != g.root {
			return p
		}
	}
}

func (g *Generator) data() []byte {
	switch g.pick(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	default:
		return []byte(fmt.Sprintf("v%d", g.pick(1000)))
	}
}

func (g *Generator) version() int32 {
	if g.chance(50) {
		return -1
	}
	return int32(g.pick(4))
}

func (g *Generator) acl() []jute.ACL {
	if g.chance(3) {
		return []jute.ACL{} // invalid: empty list
	}
	return aclChoices[g.pick(len(aclChoices))].acl
}

// createOp returns a create of some mode as (opcode, record).
func (g *Generator) createOp() (int32, jute.Record) {
	switch g.pick(10) {
	case 0, 1, 2, 3:
		flags := int32(g.pick(4)) // persistent, ephemeral, and their sequential forms
		return jute.OpCreate, &jute.CreateRequest{Path: g.createPath(flags&2 != 0), Data: g.data(), ACL: g.acl(), Flags: flags}
	case 4, 5, 6:
		flags := int32(g.pick(4))
		return jute.OpCreate2, &jute.CreateRequest{Path: g.createPath(flags&2 != 0), Data: g.data(), ACL: g.acl(), Flags: flags}
	case 7, 8:
		return jute.OpCreateContainer, &jute.CreateRequest{Path: g.createPath(false), Data: g.data(), ACL: g.acl(), Flags: jute.FlagContainer}
	default:
		flags := jute.FlagPersistentWithTTL + int32(g.pick(2))
		ttl := int64(1 + g.pick(1_000_000))
		if g.chance(10) {
			ttl = 0 // invalid; only with a TTL mode (3.8.0 crashes on some other combinations)
		}
		return jute.OpCreateTTL, &jute.CreateTTLRequest{Path: g.createPath(flags == jute.FlagPersistentSequentialWithTTL), Data: g.data(), ACL: g.acl(), Flags: flags, TTL: ttl}
	}
}

func (g *Generator) multiWriteOp() jute.MultiOp {
	switch g.pick(6) {
	case 0, 1:
		code, rec := g.createOp()
		return jute.MultiOp{Type: code, Record: rec}
	case 2:
		return jute.MultiOp{Type: jute.OpDelete, Record: &jute.PathVersionRequest{Path: g.victim(), Version: g.version()}}
	case 3, 4:
		return jute.MultiOp{Type: jute.OpSetData, Record: &jute.SetDataRequest{Path: g.path(), Data: g.data(), Version: g.version()}}
	default:
		return jute.MultiOp{Type: jute.OpCheck, Record: &jute.PathVersionRequest{Path: g.path(), Version: g.version()}}
	}
}

// Next returns the next operation.
func (g *Generator) Next() Op {
	slot := g.pick(Slots)
	if !g.open[slot] {
		return Op{Slot: slot, Kind: KindOpen}
	}
	op := Op{Slot: slot, Kind: KindRequest}
	w := g.pick(100)
	switch {
	case w < 24:
		op.Code, op.Req = g.createOp()
	case w < 32:
		op.Code, op.Req = jute.OpDelete, &jute.PathVersionRequest{Path: g.victim(), Version: g.version()}
	case w < 42:
		op.Code, op.Req = jute.OpSetData, &jute.SetDataRequest{Path: g.path(), Data: g.data(), Version: g.version()}
	case w < 48:
		op.Code, op.Req = jute.OpExists, &jute.PathWatchRequest{Path: g.path(), Watch: g.chance(60)}
	case w < 54:
		op.Code, op.Req = jute.OpGetData, &jute.PathWatchRequest{Path: g.path(), Watch: g.chance(60)}
	case w < 59:
		op.Code, op.Req = jute.OpGetChildren2, &jute.PathWatchRequest{Path: g.path(), Watch: g.chance(60)}
	case w < 61:
		op.Code, op.Req = jute.OpGetChildren, &jute.PathWatchRequest{Path: g.path(), Watch: g.chance(60)}
	case w < 64:
		op.Code, op.Req = jute.OpGetACL, &jute.PathRecord{Path: g.path()}
	case w < 67:
		op.Code, op.Req = jute.OpSetACL, &jute.SetACLRequest{Path: g.path(), ACL: g.acl(), Version: g.version()}
	case w < 75:
		n := 1 + g.pick(4)
		m := &jute.MultiRequest{}
		for i := 0; i < n; i++ {
			m.Ops = append(m.Ops, g.multiWriteOp())
		}
		op.Code, op.Req = jute.OpMulti, m
	case w < 78:
		n := 1 + g.pick(3)
		m := &jute.MultiRequest{}
		for i := 0; i < n; i++ {
			code := jute.OpGetData
			if g.chance(50) {
				code = jute.OpGetChildren
			}
			m.Ops = append(m.Ops, jute.MultiOp{Type: code, Record: &jute.PathWatchRequest{Path: g.path()}})
		}
		op.Code, op.Req = jute.OpMultiRead, m
	case w < 80:
		op.Code, op.Req = jute.OpSync, &jute.PathRecord{Path: g.path()}
	case w < 82:
		op.Code, op.Req = jute.OpGetAllChildrenNumber, &jute.PathRecord{Path: g.path()}
	case w < 84:
		prefix := []string{"", "/", g.root, g.path()}[g.pick(4)]
		op.Code, op.Req = jute.OpGetEphemerals, &jute.PathRecord{Path: prefix}
	case w < 88:
		op.Code, op.Req = jute.OpAddWatch, &jute.AddWatchRequest{Path: g.path(), Mode: int32(g.pick(2))}
	case w < 91:
		code := jute.OpRemoveWatches
		if g.chance(30) {
			code = jute.OpCheckWatches
		}
		op.Code, op.Req = code, &jute.WatchTypeRequest{Path: g.path(), Type: int32(1 + g.pick(3))}
	case w < 92:
		op.Code = jute.OpWhoAmI
	case w < 94:
		op.Kind, op.User = KindAuth, users[g.pick(len(users))]
	case w < 99:
		// Watches on the subtree root see most of the traffic.
		op.Code, op.Req = jute.OpAddWatch, &jute.AddWatchRequest{Path: g.root, Mode: int32(g.pick(2))}
	default:
		op.Kind = KindClose
	}
	return op
}

// Describe renders an op for humans.
func Describe(op Op) string {
	s := fmt.Sprintf("slot %d: ", op.Slot)
	switch op.Kind {
	case KindOpen:
		return s + "open session"
	case KindClose:
		return s + "closeSession"
	case KindAuth:
		return s + fmt.Sprintf("addAuth digest %s:pw", op.User)
	}
	return s + describeReq(op.Code, op.Req)
}

func aclName(acl []jute.ACL) string {
	for _, c := range aclChoices {
		if fmt.Sprint(c.acl) == fmt.Sprint(acl) {
			return c.name
		}
	}
	if acl != nil && len(acl) == 0 {
		return "empty(invalid)"
	}
	return fmt.Sprint(acl)
}

func describeReq(code int32, req jute.Record) string {
	name := opNames[code]
	if name == "" {
		name = fmt.Sprintf("op%d", code)
	}
	switch r := req.(type) {
	case *jute.CreateRequest:
		return fmt.Sprintf("%s %s data=%q acl=%s flags=%d", name, r.Path, r.Data, aclName(r.ACL), r.Flags)
	case *jute.CreateTTLRequest:
		return fmt.Sprintf("%s %s data=%q acl=%s flags=%d ttl=%d", name, r.Path, r.Data, aclName(r.ACL), r.Flags, r.TTL)
	case *jute.PathVersionRequest:
		return fmt.Sprintf("%s %s version=%d", name, r.Path, r.Version)
	case *jute.SetDataRequest:
		return fmt.Sprintf("%s %s data=%q version=%d", name, r.Path, r.Data, r.Version)
	case *jute.PathWatchRequest:
		return fmt.Sprintf("%s %s watch=%v", name, r.Path, r.Watch)
	case *jute.PathRecord:
		return fmt.Sprintf("%s %q", name, r.Path)
	case *jute.SetACLRequest:
		return fmt.Sprintf("%s %s acl=%s version=%d", name, r.Path, aclName(r.ACL), r.Version)
	case *jute.AddWatchRequest:
		return fmt.Sprintf("%s %s mode=%d", name, r.Path, r.Mode)
	case *jute.WatchTypeRequest:
		return fmt.Sprintf("%s %s type=%d", name, r.Path, r.Type)
	case *jute.MultiRequest:
		parts := make([]string, len(r.Ops))
		for i, o := range r.Ops {
			parts[i] = describeReq(o.Type, o.Record)
		}
		return fmt.Sprintf("%s [%s]", name, strings.Join(parts, "; "))
	case nil:
		return name
	}
	return fmt.Sprintf("%s %+v", name, req)
}

var opNames = map[int32]string{
	jute.OpCreate: "create", jute.OpCreate2: "create2", jute.OpCreateContainer: "createContainer",
	jute.OpCreateTTL: "createTTL", jute.OpDelete: "delete", jute.OpSetData: "setData",
	jute.OpExists: "exists", jute.OpGetData: "getData", jute.OpGetChildren: "getChildren",
	jute.OpGetChildren2: "getChildren2", jute.OpGetACL: "getACL", jute.OpSetACL: "setACL",
	jute.OpMulti: "multi", jute.OpMultiRead: "multiRead", jute.OpSync: "sync", jute.OpCheck: "check",
	jute.OpGetAllChildrenNumber: "getAllChildrenNumber", jute.OpGetEphemerals: "getEphemerals",
	jute.OpAddWatch: "addWatch", jute.OpRemoveWatches: "removeWatches", jute.OpCheckWatches: "checkWatches",
	jute.OpWhoAmI: "whoAmI", jute.OpCloseSession: "closeSession", jute.OpAuth: "auth",
}
