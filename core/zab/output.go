package zab

import (
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/proto/jute"
)

// Action is one thing the kernel asks its host to do. The host carries out
// the actions of an Output in order; the kernel relies on that order (for
// example SaveEpochs before the Send that acknowledges the epoch).
type Action interface{ action() }

// Send queues an encoded QuorumPacket to a peer on ext.ChanBroadcast. The
// same Data slice may be shared by several Sends; hosts must not modify it.
type Send struct {
	To   int64
	Type int32 // for traces and metrics; Data already carries it
	Zxid int64
	Data []byte
}

// Disconnect drops the broadcast link to a peer (a learner that fell out of
// sync, or a leader being abandoned).
type Disconnect struct{ Peer int64 }

// SaveEpochs durably persists the epochs before the host goes on with the
// next action; both fields are always set.
type SaveEpochs struct{ Accepted, Current int64 }

// Append hands txns to the log stage. It is asynchronous: the host reports
// durability with Logged(zxid of the last entry), and the kernel sends
// nothing that depends on durability before that.
type Append struct{ Entries []ext.Entry }

// Truncate makes the log end at Zxid and the in-memory state equal to that
// prefix (reload from snapshot + log); synchronous. A host that cannot
// truncate must stop the server: continuing would serve a diverged history.
type Truncate struct{ Zxid int64 }

// Apply applies committed txns, in order, to the data tree and sessions.
// On the leader the host matches them to its own in-flight requests.
type Apply struct{ Entries []ext.Entry }

// SendSnapshot streams the state as of exactly Zxid (sessions, data tree,
// "BenWasHere") to a learner on ext.ChanBulk, before any later Send to the
// same peer is written. The host must serialise the tree with every txn up
// to Zxid applied and none after it.
type SendSnapshot struct {
	To   int64
	Zxid int64
}

// ExpectSnapshot tells a learner's host to read a SNAP stream from the
// bulk channel, replace its state with it, drop log entries above Zxid
// (a diverged tail the snapshot supersedes) and then call SnapshotLoaded.
type ExpectSnapshot struct{ Zxid int64 }

// TakeSnapshot writes the current state durably as a snapshot at Zxid
// (synchronous): a learner that synced by SNAP has a log that no longer
// leads up to its state.
type TakeSnapshot struct{ Zxid int64 }

// Serve starts serving clients in Epoch: the leader's next proposal is
// Zxid(Epoch, 1).
type Serve struct {
	Epoch int64
	State ext.PeerState
}

// Deliver hands a packet the kernel does not interpret to the host:
// REQUEST, REVALIDATE, PING (session touches on the leader; a ping to
// answer on a learner) and SYNC replies on a learner.
type Deliver struct {
	From int64
	Type int32
	Zxid int64
	Data []byte
	Auth []jute.Id // a REQUEST's client identities
}

// SyncDone releases a `sync` the local host asked for with Leader.Sync.
type SyncDone struct{ Token int64 }

// StepDown ends this role: the host drops its links and goes LOOKING. Err
// says why (compare with errors.Is).
type StepDown struct{ Err error }

func (Send) action()           {}
func (Disconnect) action()     {}
func (SaveEpochs) action()     {}
func (Append) action()         {}
func (Truncate) action()       {}
func (Apply) action()          {}
func (SendSnapshot) action()   {}
func (ExpectSnapshot) action() {}
func (TakeSnapshot) action()   {}
func (Serve) action()          {}
func (Deliver) action()        {}
func (SyncDone) action()       {}
func (StepDown) action()       {}

// Output is the result of one kernel call.
type Output struct {
	Actions []Action
	// WakeAt is when the host must call Tick next.
	WakeAt time.Duration
}

func (o *Output) add(a Action) { o.Actions = append(o.Actions, a) }

// State is a server's durable ZAB state as the host loaded it.
type State struct {
	AcceptedEpoch int64
	CurrentEpoch  int64
	LastZxid      int64 // last logged (and, after start-up replay, applied) zxid
}

// Config is the static part of a role.
type Config struct {
	Self      int64
	Voters    []int64 // every participant, self included if it votes
	Observers []int64
	TickTime  time.Duration
	InitLimit int // ticks a peer may take to connect and sync
	SyncLimit int // ticks a synced peer may stay silent
	// CommitLogCount is how many committed txns the leader keeps in memory
	// for DIFF sync (zookeeper.commitLogCount, 500).
	CommitLogCount int
	// ForceSnap makes the leader sync every learner with SNAP (tests).
	ForceSnap bool
}

func (c Config) withDefaults() Config {
	if c.TickTime <= 0 {
		c.TickTime = 2 * time.Second
	}
	if c.InitLimit <= 0 {
		c.InitLimit = 10
	}
	if c.SyncLimit <= 0 {
		c.SyncLimit = 5
	}
	if c.CommitLogCount <= 0 {
		c.CommitLogCount = 500
	}
	return c
}

func (c Config) isVoter(sid int64) bool {
	for _, v := range c.Voters {
		if v == sid {
			return true
		}
	}
	return false
}

func (c Config) isObserver(sid int64) bool {
	for _, v := range c.Observers {
		if v == sid {
			return true
		}
	}
	return false
}

// quorum reports whether the voters in set form a majority of all voters.
func (c Config) quorum(set map[int64]bool) bool {
	n := 0
	for sid, ok := range set {
		if ok && c.isVoter(sid) {
			n++
		}
	}
	return n > len(c.Voters)/2
}
