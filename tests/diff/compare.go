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
	AllowPhantomWatch = Allowance{"exists-watch-only-on-3.8.0",
		"an exists(watch) that 3.8.4 refused for lack of READ left a watch on 3.8.0 only: its event, or its removal, shows on 3.8.0 alone"}
)

// phantom is a watch that exists on side B (3.8.0) only, because side A
// (3.8.4 semantics) refused the exists that set it.
type phantom struct {
	slot int
	path string
}

// ACLModel tracks, from the reference server's replies, which ACL each
// node was given and which digest ids each slot's session holds: enough to
// decide whether a session may READ a node, which the READ allowances
// need. Nodes the model has not seen are readable.
type ACLModel struct {
	acls     map[string][]jute.ACL
	ids      [Slots]map[string]bool
	phantoms map[phantom]bool
}

// NewACLModel returns an empty model.
func NewACLModel() *ACLModel {
	m := &ACLModel{acls: map[string][]jute.ACL{}, phantoms: map[phantom]bool{}}
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
		for p := range m.phantoms {
			if p.slot == op.Slot {
				delete(m.phantoms, p)
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
				m.phantoms[phantom{op.Slot, r.Path}] = true
			}
		case mixed && (op.Code == jute.OpRemoveWatches || op.Code == jute.OpCheckWatches) &&
			a.Err == int32(zkerr.NoWatcher) && b.Err == 0 &&
			m.phantoms[phantom{op.Slot, op.Req.(*jute.WatchTypeRequest).Path}]:
			used = append(used, AllowPhantomWatch)
			if op.Code == jute.OpRemoveWatches {
				delete(m.phantoms, phantom{op.Slot, op.Req.(*jute.WatchTypeRequest).Path})
			}
		default:
			return used, &Divergence{What: "reply", A: a.Reply, B: b.Reply}
		}
	}
	check := func(what string, slot int, ea, eb []Event) *Divergence {
		sa, sb := eventsString(ea), eventsString(eb)
		if sa == sb {
			// A data-watch event both sides saw fired any phantom too.
			for _, e := range ea {
				if e.Type != jute.EventNodeChildrenChanged {
					delete(m.phantoms, phantom{slot, e.Path})
				}
			}
			return nil
		}
		if mixed {
			fa, fb := readable(ea, slot, m), readable(eb, slot, m)
			if eventsString(fa) == sa && eventsString(fb) == sa {
				used = append(used, AllowNotifyNeedsRead)
				return nil
			}
			// Events only B has, each explained by a phantom watch.
			var rest []Event
			fired := map[phantom]bool{}
			for _, e := range fb {
				k := phantom{slot, e.Path}
				if e.Type != jute.EventNodeChildrenChanged && m.phantoms[k] && !fired[k] {
					fired[k] = true
					continue
				}
				rest = append(rest, e)
			}
			if len(fired) > 0 && eventsString(rest) == eventsString(fa) && eventsString(fa) == sa {
				for k := range fired {
					delete(m.phantoms, k)
				}
				used = append(used, AllowPhantomWatch)
				return nil
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
