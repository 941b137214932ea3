package zab

import "github.com/zabkit/zabkit/core/ext"

// committedLog is the leader's in-memory tail of committed txns (ZooKeeper's
// ZKDatabase.committedLog): what DIFF sync can send without touching disk.
type committedLog struct {
	max      int
	entries  []ext.Entry // oldest first
	lastZxid int64       // last committed zxid, also when entries is empty
}

func newCommittedLog(max int, history []ext.Entry, lastZxid int64) *committedLog {
	c := &committedLog{max: max, lastZxid: lastZxid}
	if len(history) > max {
		history = history[len(history)-max:]
	}
	c.entries = append(c.entries, history...)
	return c
}

func (c *committedLog) add(e ext.Entry) {
	if len(c.entries) >= c.max {
		// Drop the oldest tenth at once so trimming is amortised.
		drop := max(1, c.max/10)
		c.entries = append(c.entries[:0], c.entries[drop:]...)
	}
	c.entries = append(c.entries, e)
	c.lastZxid = e.Zxid
}

// bounds are ZooKeeper's minCommittedLog/maxCommittedLog: with an empty log
// both are the last processed zxid.
func (c *committedLog) bounds() (lo, hi int64) {
	if len(c.entries) == 0 {
		return c.lastZxid, c.lastZxid
	}
	return c.entries[0].Zxid, c.entries[len(c.entries)-1].Zxid
}

// syncKind is the first packet of a learner's synchronisation.
type syncKind int32

const (
	syncDiff  = syncKind(TypeDiff)
	syncTrunc = syncKind(TypeTrunc)
	syncSnap  = syncKind(TypeSnap)
)

// syncPlan is how one learner catches up: the first packet (DIFF(zxid),
// TRUNC(zxid) or SNAP(zxid)) and then the committed txns to send as
// PROPOSAL+COMMIT pairs.
type syncPlan struct {
	kind syncKind
	zxid int64
	txns []ext.Entry
}

// planSync chooses DIFF, TRUNC or SNAP for a learner whose last logged zxid
// is peer, following LearnerHandler.syncFollower (first match wins):
//
//  1. forced snap → SNAP;
//  2. peer == last committed → empty DIFF;
//  3. peer above the log's max with a non-zero counter → TRUNC(max);
//  4. peer within [min, max] → DIFF from peer's zxid, or TRUNC to the
//     previous known zxid when the peer has a txn the leader does not (same
//     epoch only: TRUNC never crosses an epoch), else SNAP;
//  5. otherwise → SNAP.
//
// ZooKeeper can also replay older txns from its on-disk log before falling
// back to SNAP; zabkit's leader keeps commitLogCount txns in memory and
// sends a snapshot beyond that.
func (c *committedLog) planSync(peer int64, force bool) syncPlan {
	last := c.lastZxid
	if force {
		return syncPlan{kind: syncSnap, zxid: last}
	}
	if peer == last {
		return syncPlan{kind: syncDiff, zxid: last}
	}
	lo, hi := c.bounds()
	if peer > hi && CounterOf(peer) != 0 {
		return syncPlan{kind: syncTrunc, zxid: hi}
	}
	if len(c.entries) == 0 || peer < lo || peer > hi {
		// A fresh-epoch zxid above the log (counter 0) is handled like any
		// zxid ZooKeeper cannot diff from.
		if peer > hi && CounterOf(peer) == 0 && EpochOf(peer) > EpochOf(hi) {
			// The learner only saw a NEWLEADER of an epoch this leader
			// never committed into: nothing to truncate, nothing to diff.
			return syncPlan{kind: syncDiff, zxid: last}
		}
		return syncPlan{kind: syncSnap, zxid: last}
	}
	prev := int64(-1)
	for i, e := range c.entries {
		if e.Zxid < peer {
			prev = e.Zxid
			continue
		}
		if e.Zxid == peer {
			return syncPlan{kind: syncDiff, zxid: last, txns: c.entries[i+1:]}
		}
		// The learner has peer, which this leader never had.
		if CounterOf(peer) == 0 {
			return syncPlan{kind: syncDiff, zxid: last, txns: c.entries[i:]}
		}
		if prev < 0 || EpochOf(prev) != EpochOf(peer) {
			return syncPlan{kind: syncSnap, zxid: last}
		}
		return syncPlan{kind: syncTrunc, zxid: prev, txns: c.entries[i:]}
	}
	return syncPlan{kind: syncSnap, zxid: last}
}
