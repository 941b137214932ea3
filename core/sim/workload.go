package sim

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zab"
)

// A client op is a write of a unique value to a key, or a read of a key.
// Both go through the log (a read is a no-op txn whose result is the value
// at its place in the total order), so every op is linearizable by
// ZooKeeper's guarantees and porcupine can check the whole history.
type clientOp struct {
	client int // porcupine client id; a new one after an unknown outcome
	worker int
	cxid   int32
	write  bool
	key    int
	value  string // written, or read
	node   int64
	call   time.Duration
	ret    time.Duration // -1 while pending; math.MaxInt64 if unknown
	zxid   int64
	acked  bool
}

type opKey struct {
	client int
	cxid   int32
}

type workload struct {
	w       *world
	ops     []*clientOp
	byKey   map[opKey]*clientOp
	clients int // next porcupine client id
	stopped bool
	cxid    int32
}

func newWorkload(w *world) *workload {
	return &workload{w: w, byKey: map[opKey]*clientOp{}}
}

func (l *workload) start() {
	for i := 0; i < l.w.opt.Clients; i++ {
		worker := i
		client := l.clients
		l.clients++
		l.w.after(l.w.between(0, 50*time.Millisecond), func() { l.next(worker, client) })
	}
}

func (l *workload) stop() { l.stopped = true }

// next issues a worker's next op to a random server.
func (l *workload) next(worker, client int) {
	w := l.w
	if l.stopped {
		return
	}
	l.cxid++
	op := &clientOp{client: client, worker: worker, cxid: l.cxid, write: w.rng.IntN(2) == 0,
		key: w.rng.IntN(w.opt.Keys), call: w.now, ret: -1}
	if op.write {
		op.value = fmt.Sprintf("v%d", l.cxid)
	}
	n := w.nodes[w.rng.IntN(len(w.nodes))]
	op.node = n.id
	if !n.submit(op) {
		// Refused before anything was sent: no effect, not in history.
		w.res.Stats.OpsFailed++
		w.after(w.between(20*time.Millisecond, 100*time.Millisecond), func() { l.next(worker, client) })
		return
	}
	l.ops = append(l.ops, op)
	l.byKey[opKey{client, op.cxid}] = op
	// A client gives up after a while; the outcome is then unknown.
	w.after(3*time.Second, func() {
		if op.ret == -1 {
			l.unknown(op)
		}
	})
}

func (l *workload) done(op *clientOp) {
	w := l.w
	op.ret = w.now
	op.acked = true
	w.res.Stats.OpsAcked++
	pause := w.between(time.Millisecond, 30*time.Millisecond)
	if t := w.opt.ClientThink; t > 0 {
		pause = w.between(t, 2*t)
	}
	w.after(pause, func() { l.next(op.worker, op.client) })
}

// unknown ends an op whose outcome the client cannot know (connection
// loss, timeout); its worker continues as a new porcupine client.
func (l *workload) unknown(op *clientOp) {
	if op.ret != -1 {
		return
	}
	op.ret = math.MaxInt64
	l.w.res.Stats.OpsUnknown++
	client := l.clients
	l.clients++
	l.w.after(l.w.between(10*time.Millisecond, 100*time.Millisecond), func() { l.next(op.worker, client) })
}

// encode is the REQUEST body a follower forwards: client, cxid, op.
func (l *workload) encode(op *clientOp) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(op.client))
	b = binary.BigEndian.AppendUint32(b, uint32(op.cxid))
	return b
}

func (l *workload) decode(b []byte) *clientOp {
	if len(b) != 12 {
		return nil
	}
	return l.byKey[opKey{int(binary.BigEndian.Uint64(b)), int32(binary.BigEndian.Uint32(b[8:]))}]
}

// submit takes a client op at this server: the leader proposes it, a
// follower forwards it. false means it was refused with no effect.
func (n *node) submit(op *clientOp) bool {
	if !n.up || !n.serving || n.observer && n.learner == nil {
		return false
	}
	key := opKey{op.client, op.cxid}
	n.pending[key] = op
	if n.leader != nil {
		if !n.propose(op) {
			delete(n.pending, key)
			return false
		}
		return true
	}
	n.doRole(n.learner.Forward(n.w.now, zab.TypeRequest, -1, n.w.load.encode(op)))
	return true
}

// propose is the leader's prep: build the txn, assign the next zxid.
func (n *node) propose(op *clientOp) bool {
	zxid := zab.Zxid(n.epoch, n.counter)
	hdr := jute.TxnHeader{ClientID: int64(op.client), Cxid: op.cxid, Zxid: zxid, Time: int64(n.w.now / time.Millisecond), Type: jute.OpError}
	var rec jute.Record
	if op.write {
		hdr.Type = jute.OpSetData
		rec = &jute.SetDataTxn{Path: keyPath(op.key), Data: []byte(op.value), Version: int32(n.counter)}
	} else {
		// The key travels in the error code so the txn names it.
		rec = &jute.IntRecord{Value: int32(op.key)}
	}
	out, err := n.leader.Propose(n.w.now, []ext.Entry{{Zxid: zxid, Data: jute.EncodeTxn(nil, &hdr, rec, nil)}})
	if err == nil {
		n.counter++
	}
	n.doRole(out)
	return err == nil
}

// complete answers the client whose op a just-applied txn carries, if it
// is waiting at this server.
func (n *node) complete(hdr *jute.TxnHeader) {
	key := opKey{int(hdr.ClientID), hdr.Cxid}
	op, ok := n.pending[key]
	if !ok {
		return
	}
	delete(n.pending, key)
	if op.ret != -1 {
		return // the client already gave up
	}
	op.zxid = hdr.Zxid
	if !op.write {
		data, _, err := n.tree.GetData(keyPath(op.key), nil, nil)
		if err != nil {
			n.w.chk.violation("server %d: read of %s: %v", n.id, keyPath(op.key), err)
		}
		op.value = string(data)
	}
	n.w.load.done(op)
}

// failPending gives every op waiting at this server an unknown outcome.
func (n *node) failPending() {
	keys := make([]opKey, 0, len(n.pending))
	for key := range n.pending {
		keys = append(keys, key)
	}
	// Map order is random; the simulator must not be.
	slices.SortFunc(keys, func(a, b opKey) int {
		return cmp.Or(cmp.Compare(a.client, b.client), cmp.Compare(a.cxid, b.cxid))
	})
	for _, key := range keys {
		op := n.pending[key]
		delete(n.pending, key)
		n.w.load.unknown(op)
	}
}
