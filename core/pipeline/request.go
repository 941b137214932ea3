// Package pipeline is zabkit's request pipeline for writes: prep (validate,
// check ACLs, build the txn against the tree plus outstanding changes,
// assign a zxid) → log (group commit: one fsync for every txn that queued
// up during the previous one) → apply (data tree, sessions, watches, reply),
// strictly in zxid order. Standalone is this path with a quorum of one; the
// ensemble's leader will run the same prep and apply.
package pipeline

import (
	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

// Origin receives the outcome of a request once its txn is applied.
// Applied runs on the apply goroutine, in zxid order, and must not block.
type Origin interface {
	Applied(req *Request, res *datatree.Result)
}

// Request is one write travelling the pipeline.
type Request struct {
	SessionID int64
	Cxid      int32
	Op        int32
	// Record is the decoded request body; for deleteContainer it is a
	// *jute.PathRecord, for createSession a *jute.IntRecord (timeout).
	Record jute.Record
	// Auth is the connection's identities, for ACL checks.
	Auth []jute.Id
	// Origin gets the result; nil for server-internal requests whose
	// outcome nobody waits for.
	Origin Origin
	// Tag is free for the origin's own use (e.g. per-request state).
	Tag any

	// Filled in by prep.
	Hdr  jute.TxnHeader
	Txn  jute.Record
	Data []byte
	// Err is the error prep found; the request is then logged as an
	// error txn and Err is what the client gets.
	Err zkerr.Code

	touched []string
	// learned marks a txn a learner got from its leader (not prepped
	// here); fwd is the local request it answers, if a client of this
	// server asked for it.
	learned bool
}

// Zxid is the zxid prep assigned.
func (r *Request) Zxid() int64 { return r.Hdr.Zxid }
