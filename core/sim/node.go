package sim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zab"
)

// snapBlob is a durable (or in-flight) snapshot: the real serialised tree
// plus a ghost list of the zxids it contains, which only the checkers read.
type snapBlob struct {
	zxid    int64
	data    []byte
	applied []int64
}

// node is one simulated server: the host that carries out what the pure
// kernels ask, against a simulated disk and the real data tree. It follows
// the rules core/node follows on a real machine.
type node struct {
	w        *world
	id       int64
	observer bool
	up       bool
	inc      int // incarnation: bumped by every crash

	// Durable state: survives crashes.
	dlog     []ext.Entry
	dsnap    *snapBlob
	accepted int64
	current  int64
	vote     []byte

	// The disk: appends wait in unsynced until an fsync completes.
	unsynced []ext.Entry
	fsyncing bool
	diskGen  uint64

	// Volatile state.
	tree    *datatree.Tree
	applied []int64 // ghost: zxids applied, in order

	elect     ext.Election
	electGen  uint64
	electWake time.Duration

	leader   *zab.Leader
	learner  *zab.Learner
	roleGen  uint64
	roleWake time.Duration
	serving  bool
	epoch    int64
	counter  int64 // the leader's next zxid counter

	frozenUntil time.Duration // a paused process handles nothing before this
	deferred    []func()      // what arrived during a pause, in order
	thawing     bool
	// early holds quorum packets that arrived while this server was still
	// looking: a learner that decided first may already be knocking.
	early []earlyPacket

	pending    map[opKey]*clientOp // client ops waiting for their txn here
	snapExpect int64               // SNAP zxid the learner waits for, or -1
	bulk       []byte              // a SNAP stream that arrived first
}

type earlyPacket struct {
	from int64
	data []byte
}

func newNode(w *world, id int64, observer bool) *node {
	return &node{w: w, id: id, observer: observer, pending: map[opKey]*clientOp{}, snapExpect: -1}
}

// boot gives every server the same initial data directory: epoch 1 with
// the workload's znodes created, as if the ensemble had run before.
func (n *node) boot() {
	n.accepted, n.current = 1, 1
	for k := 0; k < n.w.opt.Keys; k++ {
		zxid := zab.Zxid(1, int64(k+1))
		hdr := jute.TxnHeader{ClientID: 1, Cxid: int32(k + 1), Zxid: zxid, Time: 1, Type: jute.OpCreate}
		rec := &jute.CreateTxn{Path: keyPath(k), Data: []byte("init"), ACL: jute.OpenACLUnsafe, ParentCVersion: int32(k + 1)}
		n.dlog = append(n.dlog, ext.Entry{Zxid: zxid, Data: jute.EncodeTxn(nil, &hdr, rec, nil)})
	}
	n.restart()
}

func keyPath(k int) string { return fmt.Sprintf("/k%d", k) }

func (n *node) tracef(format string, args ...any) {
	n.w.tracef("s%d "+format, append([]any{n.id}, args...)...)
}

// restart starts the server process from its durable state.
func (n *node) restart() {
	n.up = true
	n.w.res.Stats.Restarts++
	n.w.record(Event{Kind: EventRestart, Server: n.id})
	n.rebuildFromDisk()
	cfg := ext.ElectionConfig{Self: n.id, Seed: n.w.opt.Seed*1_000_003 + n.id*1009 + int64(n.inc), Options: n.w.opt.ElectionOptions}
	for _, m := range n.w.nodes {
		weight := int64(1)
		if m.observer {
			weight = 0
		}
		cfg.Members = append(cfg.Members, ext.Member{ID: m.id, Observer: m.observer, Weight: weight})
	}
	e, err := n.w.opt.Election.NewElection(cfg)
	if err != nil {
		n.w.chk.violation("server %d: election: %v", n.id, err)
		n.up = false
		return
	}
	n.elect = e
	n.electGen++
	n.electWake = 0
	n.tracef("start: last zxid %#x, epochs %d/%d", n.tree.LastZxid(), n.accepted, n.current)
	n.startLooking()
}

// rebuildFromDisk loads the newest snapshot and replays the log after it,
// as a restarted process does.
func (n *node) rebuildFromDisk() {
	n.tree = datatree.New()
	n.applied = nil
	from := int64(0)
	if s := n.dsnap; s != nil {
		t, _, err := datatree.ReadSnapshot(bytes.NewReader(s.data))
		if err != nil {
			n.w.chk.violation("server %d: cannot read its own snapshot %#x: %v", n.id, s.zxid, err)
			return
		}
		t.SetLastZxid(s.zxid)
		n.tree = t
		n.applied = slices.Clone(s.applied)
		from = s.zxid
	}
	for _, e := range n.dlog {
		if e.Zxid > from {
			n.applyEntry(e, false)
		}
	}
}

func (n *node) lastDurable() int64 {
	last := int64(0)
	if n.dsnap != nil {
		last = n.dsnap.zxid
	}
	if k := len(n.dlog); k > 0 {
		last = max(last, n.dlog[k-1].Zxid)
	}
	return last
}

// frozen defers fn until a paused server resumes; it reports whether it
// did. Messages and timers queue up during the pause, as in a stopped
// process whose sockets stay open.
func (n *node) frozen(fn func()) bool {
	if n.w.now >= n.frozenUntil && len(n.deferred) == 0 {
		return false
	}
	n.deferred = append(n.deferred, fn)
	n.scheduleThaw()
	return true
}

// thaw runs what queued up during a pause, in arrival order (a link stays
// FIFO however often the process pauses).
func (n *node) scheduleThaw() {
	if n.thawing {
		return
	}
	n.thawing = true
	inc := n.inc
	n.w.at(n.frozenUntil, func() {
		if inc != n.inc {
			return
		}
		n.thawing = false
		if n.w.now < n.frozenUntil {
			n.scheduleThaw() // paused again meanwhile
			return
		}
		q := n.deferred
		n.deferred = nil
		for i, fn := range q {
			if n.w.now < n.frozenUntil || len(n.deferred) > 0 {
				n.deferred = append(q[i:len(q):len(q)], n.deferred...)
				n.scheduleThaw()
				return
			}
			fn()
		}
	})
}

// ---------------------------------------------------------------- election

func (n *node) startLooking() {
	n.serving = false
	n.w.record(Event{Kind: EventLooking, Server: n.id})
	out := n.elect.Start(n.w.now, ext.RoundStart{LastZxid: n.tree.LastZxid(), CurrentEpoch: n.current, LastVote: n.vote})
	n.doElection(out)
}

func (n *node) onElection(from int64, data []byte) {
	if n.frozen(func() { n.onElection(from, data) }) {
		return
	}
	if n.elect == nil || !n.up {
		return
	}
	n.doElection(n.elect.Step(n.w.now, from, data))
}

func (n *node) doElection(out ext.ElectionOutput) {
	if out.PersistVote != nil {
		n.vote = slices.Clone(out.PersistVote)
	}
	for _, m := range out.Send {
		if m.To == n.id {
			n.onElection(n.id, m.Data)
			continue
		}
		n.w.net.sendElection(n.id, m.To, m.Data)
	}
	n.scheduleElection(out.WakeAt)
	if d := out.Decided; d != nil && n.leader == nil && n.learner == nil {
		n.tracef("election: %s, leader %d (zxid %#x, epoch %d)", d.State, d.Vote.Leader, d.Vote.Zxid, d.Vote.PeerEpoch)
		n.w.record(Event{Kind: EventDecided, Server: n.id, State: d.State, Leader: d.Vote.Leader})
		n.startRole(d)
	}
}

func (n *node) scheduleElection(at time.Duration) {
	if at <= 0 || (n.electWake != 0 && n.electWake <= at && n.electWake >= n.w.now) {
		return
	}
	n.electWake = at
	gen := n.electGen
	n.w.at(at, func() {
		if gen != n.electGen || !n.up || n.electWake != at {
			return
		}
		if n.frozen(func() {
			if gen == n.electGen && n.up && n.electWake == at {
				n.electWake = 0
				n.doElection(n.elect.Tick(n.w.now))
			}
		}) {
			return
		}
		n.electWake = 0
		n.doElection(n.elect.Tick(n.w.now))
	})
}

// ---------------------------------------------------------------- roles

func (n *node) zabConfig() zab.Config {
	o := n.w.opt
	cfg := zab.Config{Self: n.id, TickTime: o.TickTime, InitLimit: o.InitLimit, SyncLimit: o.SyncLimit,
		CommitLogCount: o.Scenario.CommitLogCount}
	for _, m := range n.w.nodes {
		if m.observer {
			cfg.Observers = append(cfg.Observers, m.id)
		} else {
			cfg.Voters = append(cfg.Voters, m.id)
		}
	}
	return cfg
}

func (n *node) state() zab.State {
	return zab.State{AcceptedEpoch: n.accepted, CurrentEpoch: n.current, LastZxid: n.tree.LastZxid()}
}

func (n *node) startRole(d *ext.Decision) {
	n.roleGen++
	n.roleWake = 0
	n.snapExpect, n.bulk = -1, nil
	var out zab.Output
	if d.State == ext.Leading && d.Vote.Leader == n.id {
		// The leader's in-memory committed log is what was replayed after
		// the newest snapshot (ZooKeeper fills committedLog the same way):
		// older log entries may have a hole the snapshot covers.
		var hist []ext.Entry
		for _, e := range n.dlog {
			if (n.dsnap == nil || e.Zxid > n.dsnap.zxid) && e.Zxid <= n.tree.LastZxid() {
				hist = append(hist, e)
			}
		}
		n.leader, out = zab.NewLeader(n.zabConfig(), n.state(), hist, n.w.now)
	} else {
		n.learner, out = zab.NewLearner(n.zabConfig(), n.state(), d.Vote.Leader, n.w.now)
	}
	early := n.early
	n.early = nil
	n.doRole(out)
	if n.leader != nil {
		for _, p := range early {
			if n.leader == nil {
				break
			}
			n.doRole(n.leader.Step(n.w.now, p.from, p.data))
		}
	}
}

// endRole leaves a role: in-flight client ops fail with an unknown
// outcome, the log stage drains, and memory is brought back in line with
// the disk so nothing the log lacks is ever served (ZOOKEEPER-4882).
func (n *node) endRole() {
	if n.leader != nil && n.serving {
		n.w.leaderChanged(-1)
		n.w.record(Event{Kind: EventStopped, Server: n.id, Epoch: n.epoch})
	}
	n.leader, n.learner = nil, nil
	n.roleGen++
	n.serving = false
	n.failPending()
	n.drainDisk()
	switch last := n.lastDurable(); {
	case n.tree.LastZxid() > last:
		n.rebuildFromDisk()
	case n.tree.LastZxid() < last:
		for _, e := range n.dlog {
			if e.Zxid > n.tree.LastZxid() {
				n.applyEntry(e, true)
			}
		}
	}
}

func (n *node) doRole(out zab.Output) {
	gen := n.roleGen
	for _, a := range out.Actions {
		if gen != n.roleGen || !n.up {
			return // the role ended (step down or crash) mid-output
		}
		n.act(a)
	}
	if gen == n.roleGen && n.up {
		n.scheduleRole(out.WakeAt)
	}
}

func (n *node) scheduleRole(at time.Duration) {
	if at <= 0 || (n.roleWake != 0 && n.roleWake <= at && n.roleWake >= n.w.now) {
		return
	}
	n.roleWake = at
	gen := n.roleGen
	n.w.at(at, func() {
		if gen != n.roleGen || !n.up || n.roleWake != at {
			return
		}
		if n.frozen(func() {
			if gen == n.roleGen && n.up && n.roleWake == at {
				n.roleWake = 0
				n.roleTick()
			}
		}) {
			return
		}
		n.roleWake = 0
		n.roleTick()
	})
}

func (n *node) roleTick() {
	switch {
	case n.leader != nil:
		n.doRole(n.leader.Tick(n.w.now))
	case n.learner != nil:
		n.doRole(n.learner.Tick(n.w.now))
	}
}

func (n *node) act(a zab.Action) {
	switch a := a.(type) {
	case zab.Send:
		if n.crashPoint(a.Type, true) {
			return
		}
		n.w.net.sendBroadcast(n.id, a.To, ext.ChanBroadcast, a.Data)
	case zab.Disconnect:
		n.w.net.breakLink(n.id, a.Peer, true)
	case zab.SaveEpochs:
		if a.Accepted < a.Current {
			n.w.chk.violation("server %d: saves acceptedEpoch %d below currentEpoch %d", n.id, a.Accepted, a.Current)
		}
		n.accepted, n.current = a.Accepted, a.Current
		n.crashPoint(crashAfterSaveEpochs, true)
	case zab.Append:
		n.unsynced = append(n.unsynced, a.Entries...)
		n.kickFsync()
	case zab.Truncate:
		n.tracef("truncate after %#x", a.Zxid)
		n.drainDisk()
		i := 0
		for i < len(n.dlog) && n.dlog[i].Zxid <= a.Zxid {
			i++
		}
		n.dlog = n.dlog[:i]
		if n.dsnap != nil && n.dsnap.zxid > a.Zxid {
			n.w.chk.violation("server %d: told to truncate to %#x, below its snapshot %#x", n.id, a.Zxid, n.dsnap.zxid)
			n.dsnap = nil
		}
		n.rebuildFromDisk()
		n.crashPoint(crashAfterTruncate, true)
	case zab.Apply:
		for _, e := range a.Entries {
			n.applyEntry(e, true)
		}
	case zab.SendSnapshot:
		if n.tree.LastZxid() != a.Zxid {
			n.w.chk.violation("leader %d: asked for a snapshot at %#x with its tree at %#x", n.id, a.Zxid, n.tree.LastZxid())
		}
		n.w.net.sendBulk(n.id, a.To, n.w.chk.putBlob(n.snapshot(a.Zxid)), n.w.opt.Scenario.SlowSnapshot)
	case zab.ExpectSnapshot:
		n.snapExpect = a.Zxid
		n.tryLoadSnapshot()
	case zab.TakeSnapshot:
		if n.tree.LastZxid() != a.Zxid {
			n.w.chk.violation("server %d: snapshot at %#x with its tree at %#x", n.id, a.Zxid, n.tree.LastZxid())
		}
		n.dsnap = n.snapshot(a.Zxid)
	case zab.Serve:
		n.serving = true
		n.epoch = a.Epoch
		n.tracef("serving as %s in epoch %d at %#x", a.State, a.Epoch, n.tree.LastZxid())
		if a.State == ext.Leading {
			n.counter = 1
			if n.w.opt.Scenario.NearRollover {
				n.counter = 0xffffffff - 20
			}
			n.w.chk.leader(a.Epoch, n.id)
			n.w.leaderChanged(+1)
			n.w.record(Event{Kind: EventServing, Server: n.id, Epoch: a.Epoch})
			for _, fn := range n.w.onServing {
				fn(n.id, a.Epoch)
			}
			if n.w.opt.Scenario.QuorumCrash && !n.w.quorumCrashed && !n.w.healed {
				n.w.quorumCrashed = true
				n.w.after(time.Millisecond, func() {
					n.w.tracef("the whole ensemble crashes")
					for _, m := range n.w.nodes {
						m.crash(true)
					}
				})
			}
			n.crashPoint(crashAfterServe, true)
		}
		if n.up && n.elect != nil {
			n.doElection(n.elect.Established(n.w.now, a.State, a.Epoch))
		}
	case zab.Deliver:
		n.onDeliver(a)
	case zab.SyncDone:
	case zab.StepDown:
		n.tracef("step down: %v", a.Err)
		n.endRole()
		n.startLooking()
	default:
		n.w.chk.violation("server %d: unknown action %T", n.id, a)
	}
}

// snapshot serialises the tree as ZooKeeper's snapshot format.
func (n *node) snapshot(zxid int64) *snapBlob {
	var buf bytes.Buffer
	if _, err := n.tree.WriteSnapshot(&buf, nil); err != nil {
		n.w.chk.violation("server %d: snapshot: %v", n.id, err)
	}
	return &snapBlob{zxid: zxid, data: buf.Bytes(), applied: slices.Clone(n.applied)}
}

func (n *node) tryLoadSnapshot() {
	if n.snapExpect < 0 || n.bulk == nil || n.learner == nil {
		return
	}
	blob := n.w.chk.getBlob(n.bulk)
	n.bulk = nil
	zxid := n.snapExpect
	n.snapExpect = -1
	if blob == nil || blob.zxid != zxid {
		n.w.chk.violation("server %d: SNAP(%#x) stream does not match", n.id, zxid)
		return
	}
	t, _, err := datatree.ReadSnapshot(bytes.NewReader(blob.data))
	if err != nil {
		n.w.chk.violation("server %d: SNAP stream unreadable: %v", n.id, err)
		return
	}
	t.SetLastZxid(zxid)
	n.tree = t
	n.applied = slices.Clone(blob.applied)
	n.drainDisk()
	i := 0
	for i < len(n.dlog) && n.dlog[i].Zxid <= zxid {
		i++
	}
	n.dlog = n.dlog[:i]
	n.doRole(n.learner.SnapshotLoaded(n.w.now, zxid))
}

// applyEntry applies one committed txn and reports it to the checkers.
func (n *node) applyEntry(e ext.Entry, live bool) {
	if last := n.tree.LastZxid(); e.Zxid <= last {
		n.w.chk.violation("server %d: applies %#x after %#x", n.id, e.Zxid, last)
		return
	}
	txn, err := jute.DecodeTxn(e.Data)
	if err != nil {
		n.w.chk.violation("server %d: undecodable txn %#x: %v", n.id, e.Zxid, err)
		return
	}
	n.tree.Apply(&txn.Header, txn.Record)
	n.tree.SetLastZxid(e.Zxid)
	n.applied = append(n.applied, e.Zxid)
	n.w.chk.applied(n, e)
	if live {
		n.complete(&txn.Header)
	}
}

// ---------------------------------------------------------------- disk

func (n *node) kickFsync() {
	if n.fsyncing || len(n.unsynced) == 0 {
		return
	}
	s := n.w.opt.Scenario
	n.fsyncing = true
	batch := len(n.unsynced)
	lat := n.w.between(s.FsyncMin, s.FsyncMax)
	if !n.w.healed && n.w.chance(s.Stall) {
		lat += s.StallFor
		n.tracef("disk stalls for %v", lat)
	}
	fail := !n.w.healed && n.w.chance(s.FsyncError)
	gen, inc := n.diskGen, n.inc
	n.w.after(lat, func() {
		if gen != n.diskGen || inc != n.inc || !n.up {
			return
		}
		if n.w.now < n.frozenUntil {
			// The fsync finished; the paused process notices later.
			lat = n.frozenUntil - n.w.now
		}
		n.fsyncing = false
		if fail {
			// An uncertain disk: the server stops (zabkit never guesses
			// whether a failed fsync was durable).
			n.tracef("fsync error")
			n.crash(true)
			return
		}
		done := n.unsynced[:batch]
		n.dlog = append(n.dlog, done...)
		n.unsynced = slices.Clone(n.unsynced[batch:])
		last := done[len(done)-1].Zxid
		switch {
		case n.leader != nil:
			n.doRole(n.leader.Logged(n.w.now, last))
		case n.learner != nil:
			n.doRole(n.learner.Logged(n.w.now, last))
		}
		n.kickFsync()
	})
}

// drainDisk lets the log stage finish what it was given (a real node's
// log stage keeps running while the role changes).
func (n *node) drainDisk() {
	n.diskGen++
	n.fsyncing = false
	n.dlog = append(n.dlog, n.unsynced...)
	n.unsynced = nil
}

// ---------------------------------------------------------------- faults

// crash kills the process: volatile state is gone, and with a torn tail
// part of the unsynced log may have reached the disk.
func (n *node) crash(restart bool) {
	if !n.up {
		return
	}
	n.tracef("CRASH")
	n.w.res.Stats.Crashes++
	n.w.record(Event{Kind: EventCrash, Server: n.id})
	if n.leader != nil && n.serving {
		n.w.leaderChanged(-1)
		n.w.record(Event{Kind: EventStopped, Server: n.id, Epoch: n.epoch})
	}
	n.up = false
	n.inc++
	n.roleGen++
	n.electGen++
	n.diskGen++
	if k := len(n.unsynced); k > 0 && n.w.opt.Scenario.TornTail {
		keep := n.w.rng.IntN(k + 1)
		n.dlog = append(n.dlog, n.unsynced[:keep]...)
	}
	n.unsynced = nil
	n.fsyncing = false
	n.leader, n.learner, n.elect = nil, nil, nil
	n.serving = false
	n.early = nil
	n.deferred = nil
	n.thawing = false
	n.failPending()
	for _, m := range n.w.nodes {
		if m.id != n.id {
			n.w.net.breakLink(n.id, m.id, true)
		}
	}
	if restart && !n.w.healed {
		n.w.after(n.w.between(200*time.Millisecond, 3*time.Second), func() {
			if !n.up {
				n.restart()
			}
		})
	}
}

// crashPoint crashes the server at a protocol step if the scenario says
// so; it reports whether it did.
func (n *node) crashPoint(step int32, sending bool) bool {
	if n.w.healed {
		return false
	}
	for _, cp := range n.w.opt.Scenario.CrashAt {
		if cp.Step == step && cp.Send == sending && (cp.Leader == nil || *cp.Leader == (n.leader != nil)) && n.w.chance(cp.P) {
			n.tracef("crash point: %s", stepName(step, sending))
			n.crash(true)
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------- peers

func (n *node) onBroadcast(from int64, ch ext.Channel, data []byte) {
	if n.frozen(func() { n.onBroadcast(from, ch, data) }) {
		return
	}
	if !n.up {
		return
	}
	if ch == ext.ChanBulk {
		if n.learner == nil || n.learner.Leader() != from {
			return
		}
		n.bulk = data
		n.tryLoadSnapshot()
		return
	}
	if len(data) >= 4 && n.crashPoint(int32(binary.BigEndian.Uint32(data)), false) {
		return
	}
	switch {
	case n.leader != nil:
		n.doRole(n.leader.Step(n.w.now, from, data))
	case n.learner != nil:
		n.doRole(n.learner.Step(n.w.now, from, data))
	default:
		if len(n.early) < 64 {
			n.early = append(n.early, earlyPacket{from, data})
		}
	}
}

func (n *node) onPeerDown(peer int64) {
	if n.frozen(func() { n.onPeerDown(peer) }) || !n.up {
		return
	}
	switch {
	case n.leader != nil:
		n.doRole(n.leader.PeerDown(n.w.now, peer))
	case n.learner != nil:
		n.doRole(n.learner.PeerDown(n.w.now, peer))
	}
}

func (n *node) onDeliver(a zab.Deliver) {
	switch {
	case n.leader != nil && a.Type == zab.TypeRequest:
		op := n.w.load.decode(a.Data)
		if op != nil && n.serving {
			n.propose(op)
		}
	case n.learner != nil && a.Type == zab.TypePing:
		n.doRole(n.learner.Forward(n.w.now, zab.TypePing, a.Zxid, nil))
	}
}
