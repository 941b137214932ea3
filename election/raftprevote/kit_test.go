package raftprevote

import (
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/electiontest"
)

func TestConformance(t *testing.T) {
	electiontest.Run(t, New, electiontest.Options{UpToDate: true, Seeds: 60})
}

// TestConformanceWithoutPreVote: plain Raft election (the A/B control)
// meets the kit too.
func TestConformanceWithoutPreVote(t *testing.T) {
	o := DefaultOptions()
	o.PreVote = false
	electiontest.Run(t, func(cfg ext.ElectionConfig) (ext.Election, error) { return o.NewElection(cfg) },
		electiontest.Options{UpToDate: true, Seeds: 30})
}
