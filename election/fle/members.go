package fle

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/zabkit/zabkit/core/ext"
)

// Membership is the voting side of an ensemble as FLE reads its members.
// It is exported so that election variants under election/ count votes
// and reject bad memberships exactly as FLE does.
type Membership struct {
	Self    int64
	Weights map[int64]int64 // voters only, every weight > 0
	Voters  []int64         // sorted
	Total   int64           // sum of the voters' weights
	// Learner is what Self decides when it does not lead: FOLLOWING, or
	// OBSERVING for an observer.
	Learner ext.PeerState
}

// NewMembership checks cfg's members and derives the voters. A member is
// a voter only if it is no observer and has a weight above 0 (see the
// package doc for how that differs from Java). Errors wrap ErrConfig.
func NewMembership(cfg ext.ElectionConfig) (Membership, error) {
	m := Membership{Self: cfg.Self, Weights: map[int64]int64{}, Learner: ext.Following}
	seen := map[int64]bool{}
	for _, mb := range cfg.Members {
		switch {
		case seen[mb.ID]:
			return Membership{}, fmt.Errorf("%w: member %d listed twice", ErrConfig, mb.ID)
		case mb.Weight < 0:
			return Membership{}, fmt.Errorf("%w: member %d has negative weight %d", ErrConfig, mb.ID, mb.Weight)
		}
		seen[mb.ID] = true
		if mb.ID == cfg.Self && mb.Observer {
			m.Learner = ext.Observing
		}
		if !mb.Observer && mb.Weight > 0 {
			m.Weights[mb.ID] = mb.Weight
			m.Voters = append(m.Voters, mb.ID)
			m.Total += mb.Weight
		}
	}
	if !seen[cfg.Self] {
		return Membership{}, fmt.Errorf("%w: self %d is not a member", ErrConfig, cfg.Self)
	}
	if len(m.Voters) == 0 {
		return Membership{}, fmt.Errorf("%w: no voters (every member is an observer or has weight 0)", ErrConfig)
	}
	slices.Sort(m.Voters)
	return m, nil
}

// IsVoter reports whether id votes and may be elected.
func (m Membership) IsVoter(id int64) bool { return m.Weights[id] > 0 }

// Quorum reports whether acks (a sum of voters' weights) is more than
// half of all voters' weight.
func (m Membership) Quorum(acks int64) bool { return 2*acks > m.Total }

// CompareVotes is FLE's total order on votes (totalOrderPredicate without
// the voter check): by peer epoch, then zxid, then leader sid. Votes whose
// Leader fields are equal (zero) compare histories alone, which is the
// "at least as up to date" test of Raft-like variants.
func CompareVotes(a, b ext.Vote) int {
	return cmp.Or(cmp.Compare(a.PeerEpoch, b.PeerEpoch), cmp.Compare(a.Zxid, b.Zxid), cmp.Compare(a.Leader, b.Leader))
}
