package ext

import (
	"errors"
	"time"
)

// PeerState is a server's role as election notifications carry it; the
// values are ZooKeeper's (QuorumPeer.ServerState ordinal on the wire).
type PeerState int32

const (
	Looking   PeerState = 0
	Following PeerState = 1
	Leading   PeerState = 2
	Observing PeerState = 3
)

func (s PeerState) String() string {
	switch s {
	case Looking:
		return "looking"
	case Following:
		return "following"
	case Leading:
		return "leading"
	case Observing:
		return "observing"
	}
	return "unknown"
}

// Vote is a proposal for leader, ordered by (PeerEpoch, Zxid, Leader).
type Vote struct {
	Leader        int64
	Zxid          int64
	ElectionEpoch int64 // the round ("logical clock") the vote was cast in
	PeerEpoch     int64 // the proposed leader's current epoch
}

// Member is one server of the ensemble as an election sees it.
type Member struct {
	ID       int64
	Observer bool
	// Weight is the hierarchical-quorum weight; 0 means a non-voter.
	// Plain majority quorums give every voter weight 1.
	Weight int64
	// Spec is the member's `server.N` value as ZooKeeper renders it
	// ("host:2888:3888:participant;0.0.0.0:2181", config.ServerSpec.String),
	// or "" if unknown. Algorithms that carry the membership in their
	// messages need it: FLE notifications do, and a Java peer running with
	// standaloneEnabled=false throws on a membership without voters.
	Spec string
}

// ElectionConfig is fixed for the life of an Election instance.
type ElectionConfig struct {
	Self    int64
	Members []Member
	// Seed makes every random choice of the algorithm reproducible.
	Seed int64
	// Options are the module's own options (finalize wait, timeouts) as
	// decoded by the registry; an algorithm ignores what it does not use.
	Options map[string]any
}

// RoundStart is what the host knows when it starts looking for a leader.
type RoundStart struct {
	LastZxid     int64 // last logged zxid; -1 if the database did not load
	CurrentEpoch int64
	// LastVote is the vote persisted by a previous round (nil if none); an
	// algorithm that restarts mid-round resumes from it.
	LastVote []byte
}

// Outgoing is one election message to one peer (on ChanElection).
type Outgoing struct {
	To   int64
	Data []byte
}

// Decision ends a round: this server's role and the leader it follows.
type Decision struct {
	State PeerState // Leading, Following or Observing
	Vote  Vote
}

// ElectionOutput is everything one call asks the host to do, in order:
// persist PersistVote durably (if set) before sending Send, then act on
// Decided. WakeAt is when the host must call Tick next (0: no timer).
type ElectionOutput struct {
	Send        []Outgoing
	PersistVote []byte
	Decided     *Decision
	WakeAt      time.Duration
}

// ElectionFactory is what an election module is once the registry has
// loaded it (options decoded): the host makes one Election per server, and
// a fresh one after a restart.
type ElectionFactory interface {
	NewElection(cfg ElectionConfig) (Election, error)
}

// Election is one server's leader-election algorithm. It is a pure state
// machine: no I/O, no clock, no goroutines, randomness only from
// ElectionConfig.Seed. `now` is monotonic time since an arbitrary origin,
// supplied by the host (virtual time in the simulator), and never goes
// backwards.
//
// The host calls Start whenever the server becomes LOOKING. After a
// Decision the instance stays alive and keeps answering peers that are
// still looking (ZooKeeper replies with its FOLLOWING/LEADING vote);
// Established tells it the epoch the new leader settled on, so those
// replies carry it.
//
// Whatever algorithm is loaded, the kernel keeps ZooKeeper's guard: a
// would-be leader whose followers are ahead of it steps down in discovery.
// A bad algorithm can cost availability, never safety.
type Election interface {
	Start(now time.Duration, r RoundStart) ElectionOutput
	Step(now time.Duration, from int64, msg []byte) ElectionOutput
	Tick(now time.Duration) ElectionOutput
	Established(now time.Duration, state PeerState, epoch int64) ElectionOutput
	// State is the current role and vote, for four-letter words.
	State() (PeerState, Vote)
}

// ErrBadNotification is what decoders of election messages return for
// garbage; an algorithm drops such a message and goes on.
var ErrBadNotification = errors.New("election: malformed message")
