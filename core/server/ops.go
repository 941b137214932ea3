package server

import (
	"strings"
	"time"

	"github.com/zabkit/zabkit/core/auth"
	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/pipeline"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/watch"
	"github.com/zabkit/zabkit/core/zkerr"
)

// writeReply builds the reply of an applied write.
func writeReply(req *pipeline.Request, res *datatree.Result) (int32, jute.Record) {
	if req.Err != zkerr.OK {
		return int32(req.Err), nil
	}
	if res.Err != zkerr.OK {
		return int32(res.Err), nil
	}
	switch req.Op {
	case jute.OpCreate:
		return 0, &jute.PathRecord{Path: res.Path}
	case jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL:
		return 0, &jute.Create2Response{Path: res.Path, Stat: res.Stat}
	case jute.OpSetData, jute.OpSetACL:
		return 0, &jute.StatResponse{Stat: res.Stat}
	case jute.OpMulti:
		return 0, multiReply(req, res)
	case jute.OpSync:
		if r, ok := req.Record.(*jute.PathRecord); ok {
			return 0, &jute.PathRecord{Path: r.Path}
		}
	}
	return 0, nil
}

// multiReply encodes a multi's results. Result types follow 3.8.4: every
// create flavour but plain create reports create2 with a stat.
func multiReply(req *pipeline.Request, res *datatree.Result) jute.Record {
	mr, _ := req.Record.(*jute.MultiRequest)
	out := &jute.MultiResponse{Results: make([]jute.MultiResult, 0, len(res.Multi))}
	for i, sub := range res.Multi {
		op := sub.Type
		if mr != nil && i < len(mr.Ops) {
			op = mr.Ops[i].Type
		}
		if sub.Err != zkerr.OK || sub.Type == jute.OpError {
			out.Results = append(out.Results, jute.MultiResult{Type: jute.OpError, Err: int32(sub.Err)})
			continue
		}
		r := jute.MultiResult{Type: op}
		switch op {
		case jute.OpCreate:
			r.Record = &jute.PathRecord{Path: sub.Path}
		case jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL:
			r.Type = jute.OpCreate2
			r.Record = &jute.Create2Response{Path: sub.Path, Stat: sub.Stat}
		case jute.OpSetData:
			r.Record = &jute.StatResponse{Stat: sub.Stat}
		}
		out.Results = append(out.Results, r)
	}
	return out
}

func (c *Conn) checker(perm int32) func([]jute.ACL) error {
	ids := *c.ids.Load()
	a := c.s.auth
	return func(acl []jute.ACL) error { return a.Check(acl, ids, perm) }
}

// watcher returns c when the request asked for a watch, else nil. It must
// return an untyped nil so the tree sees "no watcher".
func (c *Conn) watcher(want bool) watch.Watcher {
	if want {
		return c
	}
	return nil
}

// execRead serves one read (or other non-txn request) and queues its reply.
func (c *Conn) execRead(hdr jute.RequestHeader, body []byte, start time.Time) {
	if c.isClosed() {
		return
	}
	errCode, rec := c.readOp(hdr, body)
	if c.isClosed() {
		// The connection closed while the read ran (a deferred read on the
		// apply goroutine); drop any watch it may just have registered.
		c.s.tree.RemoveWatcher(c)
		return
	}
	xid := hdr.Xid
	if hdr.Type == jute.OpPing {
		xid = jute.XidPing // ZooKeeper answers pings with a constant xid
	}
	zxid := c.s.tree.LastZxid()
	c.send(xid, zxid, errCode, rec)
	if hdr.Type != jute.OpPing {
		c.record(hdr.Type, errCode, zxid, start)
	}
	if hdr.Type == jute.OpCloseSession {
		c.closeAfterFlush()
	}
}

func codeOf(err error) int32 { return int32(zkerr.Of(err)) }

// refusal is the answer to a request that needs a txn once the store has
// failed: NOTREADONLY, as ZooKeeper's read-only server answers writes and
// sync. A connection-local session's closeSession succeeds (nothing to log).
func (c *Conn) refusal(op int32) (code int32, ok bool) {
	switch op {
	case jute.OpCloseSession:
		if c.local {
			return 0, true
		}
		return int32(zkerr.NotReadOnly), true
	case jute.OpSync:
		if c.s.proc.Failed() {
			return int32(zkerr.NotReadOnly), true
		}
		return 0, false
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL, jute.OpDelete,
		jute.OpSetData, jute.OpSetACL, jute.OpCheck, jute.OpMulti, jute.OpReconfig, jute.OpDeleteContainer:
		return int32(zkerr.NotReadOnly), true
	}
	return 0, false
}

func (c *Conn) readOp(hdr jute.RequestHeader, body []byte) (int32, jute.Record) {
	if code, ok := c.refusal(hdr.Type); ok {
		return code, nil
	}
	t := c.s.tree
	switch hdr.Type {
	case jute.OpPing:
		return 0, nil

	case jute.OpExists:
		var r jute.PathWatchRequest
		if jute.Unmarshal(body, &r) != nil {
			return int32(zkerr.MarshallingError), nil
		}
		if strings.IndexByte(r.Path, 0) >= 0 {
			return int32(zkerr.BadArguments), nil
		}
		st, err := t.Exists(r.Path, c.checker(jute.PermRead), c.watcher(r.Watch))
		if err != nil {
			return codeOf(err), nil
		}
		return 0, &jute.StatResponse{Stat: st}

	case jute.OpGetData:
		var r jute.PathWatchRequest
		if jute.Unmarshal(body, &r) != nil {
			return int32(zkerr.MarshallingError), nil
		}
		data, st, err := t.GetData(r.Path, c.checker(jute.PermRead), c.watcher(r.Watch))
		if err != nil {
			return codeOf(err), nil
		}
		return 0, &jute.GetDataResponse{Data: data, Stat: st}

	case jute.OpGetChildren, jute.OpGetChildren2:
		var r jute.PathWatchRequest
		if jute.Unmarshal(body, &r) != nil {
			return int32(zkerr.MarshallingError), nil
		}
		kids, st, err := t.GetChildren(r.Path, c.checker(jute.PermRead), c.watcher(r.Watch))
		if err != nil {
			return codeOf(err), nil
		}
		if kids == nil {
			kids = []string{}
		}
		if hdr.Type == jute.OpGetChildren {
			return 0, &jute.ChildrenResponse{Children: kids}
		}
		return 0, &jute.Children2Response{Children: kids, Stat: st}

	case jute.OpGetACL:
		var r jute.PathRecord
		if jute.Unmarshal(body, &r) != nil {
			return int32(zkerr.MarshallingError), nil
		}
		acl, st, err := t.GetACL(r.Path)
		if err != nil {
			return codeOf(err), nil
		}
		ids := *c.ids.Load()
		if err := c.s.auth.Check(acl, ids, jute.PermRead|jute.PermAdmin); err != nil {
			return codeOf(err), nil
		}
		if c.s.auth.Check(acl, ids, jute.PermAdmin) != nil {
			acl = auth.RedactDigests(acl)
		}
		return 0, &jute.GetACLResponse{ACL: acl, Stat: st}

	case jute.OpSync:
		var r jute.PathRecord
		if jute.Unmarshal(body, &r) != nil {
			return int32(zkerr.MarshallingError), nil
		}
		return 0, &jute.PathRecord{Path: r.Path}

	case jute.OpGetAllChildrenNumber:
		var r jute.PathRecord
		if jute.Unmarshal(body, &r) != nil {
			return int32(zkerr.MarshallingError), nil
		}
		n, err := t.AllChildrenNumber(r.Path, c.checker(jute.PermRead))
		if err != nil {
			return codeOf(err), nil
		}
		return 0, &jute.IntRecord{Value: n}

	case jute.OpGetEphemerals:
		var r jute.PathRecord
		if jute.Unmarshal(body, &r) != nil {
			return int32(zkerr.MarshallingError), nil
		}
		all := t.Ephemerals(c.session())
		prefix := strings.TrimSpace(r.Path)
		out := make([]string, 0, len(all))
		for _, p := range all {
			if prefix == "" || prefix == "/" || strings.HasPrefix(p, r.Path) {
				out = append(out, p)
			}
		}
		return 0, &jute.ChildrenResponse{Children: out}

	case jute.OpMultiRead:
		var r jute.MultiRequest
		if jute.Unmarshal(body, &r) != nil {
			return int32(zkerr.MarshallingError), nil
		}
		for _, o := range r.Ops {
			if o.Type != jute.OpGetData && o.Type != jute.OpGetChildren {
				return int32(zkerr.MarshallingError), nil // writes cannot be in a multiRead
			}
		}
		return 0, c.multiRead(&r)

	case jute.OpSetWatches, jute.OpSetWatches2:
		r := jute.SetWatches{Version2: hdr.Type == jute.OpSetWatches2}
		if jute.Unmarshal(body, &r) != nil {
			return int32(zkerr.MarshallingError), nil
		}
		t.SetWatches(r.RelativeZxid, r.Data, r.Exist, r.Child, r.Persistent, r.PersistentRecursive, c)
		return 0, nil

	case jute.OpAddWatch:
		var r jute.AddWatchRequest
		if jute.Unmarshal(body, &r) != nil {
			return int32(zkerr.MarshallingError), nil
		}
		if _, ok := watch.ModeFromAddWatch(r.Mode); !ok {
			return int32(zkerr.BadArguments), nil
		}
		t.AddWatch(r.Path, r.Mode, c)
		return 0, &jute.IntRecord{Value: 0}

	case jute.OpCheckWatches, jute.OpRemoveWatches:
		var r jute.WatchTypeRequest
		if jute.Unmarshal(body, &r) != nil {
			return int32(zkerr.MarshallingError), nil
		}
		if !t.RemoveWatches(r.Path, r.Type, c, hdr.Type == jute.OpCheckWatches) {
			return int32(zkerr.NoWatcher), nil
		}
		return 0, nil

	case jute.OpWhoAmI:
		ids := *c.ids.Load()
		out := &jute.WhoAmIResponse{Infos: make([]jute.ClientInfo, 0, len(ids))}
		for _, id := range ids {
			// As ZooKeeper's AuthUtil.getUser: the digest provider names
			// the user without the password hash.
			user := id.ID
			if id.Scheme == "digest" {
				user, _, _ = strings.Cut(user, ":")
			}
			out.Infos = append(out.Infos, jute.ClientInfo{AuthScheme: id.Scheme, User: user})
		}
		return 0, out
	}
	return int32(zkerr.Unimplemented), nil
}

func (c *Conn) multiRead(r *jute.MultiRequest) *jute.MultiResponse {
	t := c.s.tree
	out := &jute.MultiResponse{Results: make([]jute.MultiResult, 0, len(r.Ops))}
	for _, op := range r.Ops {
		pw, ok := op.Record.(*jute.PathWatchRequest)
		var err error
		var res jute.MultiResult
		switch {
		case !ok:
			err = zkerr.Unimplemented
		case op.Type == jute.OpGetChildren:
			var kids []string
			kids, _, err = t.GetChildren(pw.Path, c.checker(jute.PermRead), nil)
			if kids == nil {
				kids = []string{}
			}
			res = jute.MultiResult{Type: jute.OpGetChildren, Record: &jute.ChildrenResponse{Children: kids}}
		case op.Type == jute.OpGetData:
			var data []byte
			var st jute.Stat
			data, st, err = t.GetData(pw.Path, c.checker(jute.PermRead), nil)
			res = jute.MultiResult{Type: jute.OpGetData, Record: &jute.GetDataResponse{Data: data, Stat: st}}
		default:
			err = zkerr.Unimplemented
		}
		if err != nil {
			res = jute.MultiResult{Type: jute.OpError, Err: int32(zkerr.Of(err))}
		}
		out.Results = append(out.Results, res)
	}
	return out
}
