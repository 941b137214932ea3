package diff

import (
	"fmt"
	"strings"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
	"github.com/zabkit/zabkit/internal/zkraw"
)

// Allowance is a documented, expected difference between zabkit (which
// follows Apache ZooKeeper 3.8.4) and the Debian 3.8.0 oracle. Each one
// is applied only when the strict comparison has already failed, only
// when the two servers are of different kinds, and only in the direction
// the 3.8.0 → 3.8.4 change goes (side A is zabkit, side B ZooKeeper).
type Allowance struct {
	Name   string
	Reason string
}

// Allowances, by name.
var (
	AllowCreate2InMulti = Allowance{"create2-in-multi",
		"3.8.2+ report create2/createContainer/createTTL inside multi as type 15 with a stat; 3.8.0 answers type 1 with the path only (spec trap 8)"}
	AllowExistsNeedsRead = Allowance{"exists-needs-READ",
		"3.8.4 checks READ on exists of an existing node; 3.8.0 does not (spec trap 8)"}
	AllowNotifyNeedsRead = Allowance{"notification-needs-READ",
		"3.8.4 delivers a watch event only to connections with READ on the node; 3.8.0 delivers it regardless (spec trap 8)"}
	AllowWatchesPerMember = Allowance{"checkWatches-sees-one-member",
		"each ensemble member keeps its own watch table, so checkWatches on a member answers for the connections to that member only (Apache ZooKeeper ensembles do the same), while a standalone reference sees every session's watches; applied whatever the kinds, only when side A is an ensemble with another session open on another member, and only to A's NOWATCHER against B's OK"}
	AllowTaintedWatch = Allowance{"exists-watch-only-on-3.8.0",
		"an exists(watch) that 3.8.4 refused for lack of READ set a watch on 3.8.0 only; with 3.8's one watch mode per path it may also have replaced a persistent watch there, so that session's events on the path and below, and its removeWatches there, may differ for the rest of the session"}
)

// taint marks a (slot, path) whose watches differ between the sides
// because side A (3.8.4 semantics) refused an exists(watch) that side B
// (3.8.0) accepted.
type taint struct {
	slot int
	path string
}

// ACLModel tracks, from the reference server's replies, which ACL each
// node was given and which digest ids each slot's session holds: enough to
// decide whether a session may READ a node, which the READ allowances
// need. Nodes the model has not seen are readable.
type ACLModel struct {
	acls    map[string][]jute.ACL
	ids     [Slots]map[string]bool
	tainted map[taint]bool
}

// NewACLModel returns an empty model.
func NewACLModel() *ACLModel {
	m := &ACLModel{acls: map[string][]jute.ACL{}, tainted: map[taint]bool{}}
	for i := range m.ids {
		m.ids[i] = map[string]bool{}
	}
	return m
}

// Observe updates the model with an op and its reference outcome.
func (m *ACLModel) Observe(op Op, o *Outcome) {
	switch op.Kind {
	case KindOpen:
		m.ids[op.Slot] = map[string]bool{}
		return
	case KindClose:
		for k := range m.tainted {
			if k.slot == op.Slot {
				delete(m.tainted, k)
			}
		}
		return
	case KindAuth:
		if o.AuthOK {
			m.ids[op.Slot][zkraw.DigestID(op.User, "pw")] = true
		}
		return
	}
	for _, c := range o.Created {
		m.acls[c.Path] = m.expand(op.Slot, c.ACL)
	}
	if op.Code == jute.OpSetACL && o.Err == 0 && !strings.HasPrefix(o.Reply, "connection") {
		r := op.Req.(*jute.SetACLRequest)
		m.acls[r.Path] = m.expand(op.Slot, r.ACL)
	}
}

// expand replaces the "auth" scheme with the slot's digest ids, as the
// server does at create/setACL time.
func (m *ACLModel) expand(slot int, acl []jute.ACL) []jute.ACL {
	var out []jute.ACL
	for _, a := range acl {
		if a.ID.Scheme != "auth" {
			out = append(out, a)
			continue
		}
		for id := range m.ids[slot] {
			out = append(out, jute.ACL{Perms: a.Perms, ID: jute.Id{Scheme: "digest", ID: id}})
		}
	}
	return out
}

// CanRead reports whether the session in slot has READ on path.
func (m *ACLModel) CanRead(slot int, path string) bool {
	acl, ok := m.acls[path]
	if !ok {
		return true
	}
	for _, a := range acl {
		if a.Perms&jute.PermRead == 0 {
			continue
		}
		switch a.ID.Scheme {
		case "world":
			if a.ID.ID == "anyone" {
				return true
			}
		case "digest":
			if m.ids[slot][a.ID.ID] {
				return true
			}
		case "ip":
			if a.ID.ID == "127.0.0.1" {
				return true
			}
		}
	}
	return false
}

// Divergence describes the first difference found in one op.
type Divergence struct {
	What string // "reply", "events on slot N", ...
	A, B string
}

// Compare checks two outcomes of the same op. It returns the allowances
// that had to be applied and the first divergence not covered by one.
func Compare(op Op, a, b *Outcome, mixed bool, m *ACLModel) (used []Allowance, div *Divergence) {
	if a.Reply != b.Reply {
		switch {
		case mixed && a.Lenient == b.Lenient && op.Code == jute.OpMulti:
			used = append(used, AllowCreate2InMulti)
		case mixed && op.Code == jute.OpExists && a.Err == int32(zkerr.NoAuth) && b.Err == 0 &&
			!m.CanRead(op.Slot, op.Req.(*jute.PathWatchRequest).Path):
			used = append(used, AllowExistsNeedsRead)
			if r := op.Req.(*jute.PathWatchRequest); r.Watch {
				m.tainted[taint{op.Slot, r.Path}] = true
			}
		case op.Code == jute.OpCheckWatches && a.WatchersElsewhere &&
			a.Err == int32(zkerr.NoWatcher) && b.Err == 0:
			used = append(used, AllowWatchesPerMember)
		case mixed && (op.Code == jute.OpRemoveWatches && m.isTainted(op.Slot, op.Req.(*jute.WatchTypeRequest).Path, false) ||
			// checkWatches answers for any connection's watch on the path
			// (3.8 quirk), so any slot's taint counts.
			op.Code == jute.OpCheckWatches && m.taintedBySomeSlot(op.Req.(*jute.WatchTypeRequest).Path)) &&
			errIn(a.Err, 0, int32(zkerr.NoWatcher)) && errIn(b.Err, 0, int32(zkerr.NoWatcher)):
			used = append(used, AllowTaintedWatch)
		default:
			return used, &Divergence{What: "reply", A: a.Reply, B: b.Reply}
		}
	}
	check := func(what string, slot int, ea, eb []Event) *Divergence {
		sa, sb := eventsString(ea), eventsString(eb)
		if sa == sb {
			return nil
		}
		if mixed {
			fa, fb := readable(ea, slot, m), readable(eb, slot, m)
			if eventsString(fa) == sa && eventsString(fb) == sa {
				used = append(used, AllowNotifyNeedsRead)
				return nil
			}
			// Tainted paths, alone or with the READ rule on top.
			ta, tb := m.untainted(ea, slot), m.untainted(eb, slot)
			if len(ta) < len(ea) || len(tb) < len(eb) {
				st := eventsString(ta)
				if eventsString(tb) == st ||
					(eventsString(readable(ta, slot, m)) == st && eventsString(readable(tb, slot, m)) == st) {
					used = append(used, AllowTaintedWatch)
					return nil
				}
			}
		}
		return &Divergence{What: what, A: sa, B: sb}
	}
	if d := check("events before the reply", op.Slot, a.PreEvents, b.PreEvents); d != nil {
		return used, d
	}
	for i := 0; i < Slots; i++ {
		if d := check(fmt.Sprintf("events on slot %d", i), i, a.Events[i], b.Events[i]); d != nil {
			return used, d
		}
		if a.Pings[i] != b.Pings[i] {
			return used, &Divergence{What: fmt.Sprintf("barrier ping on slot %d", i), A: a.Pings[i], B: b.Pings[i]}
		}
	}
	return used, nil
}

func errIn(e int32, codes ...int32) bool {
	for _, c := range codes {
		if e == c {
			return true
		}
	}
	return false
}

// isTainted reports whether path (or, with below, any ancestor of it) is
// tainted for slot.
func (m *ACLModel) isTainted(slot int, path string, below bool) bool {
	if m.tainted[taint{slot, path}] {
		return true
	}
	if !below {
		return false
	}
	for k := range m.tainted {
		if k.slot == slot && (k.path == "/" || strings.HasPrefix(path, k.path+"/")) {
			return true
		}
	}
	return false
}

func (m *ACLModel) taintedBySomeSlot(path string) bool {
	for k := range m.tainted {
		if k.path == path {
			return true
		}
	}
	return false
}

// untainted drops events of slot on tainted paths and their subtrees.
func (m *ACLModel) untainted(evs []Event, slot int) []Event {
	var out []Event
	for _, e := range evs {
		if !m.isTainted(slot, e.Path, true) {
			out = append(out, e)
		}
	}
	return out
}

func readable(evs []Event, slot int, m *ACLModel) []Event {
	var out []Event
	for _, e := range evs {
		if m.CanRead(slot, e.Path) {
			out = append(out, e)
		}
	}
	return out
}

func eventsString(evs []Event) string {
	parts := make([]string, len(evs))
	for i, e := range evs {
		parts[i] = e.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}
