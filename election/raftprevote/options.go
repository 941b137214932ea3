package raftprevote

import (
	"errors"
	"fmt"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/registry"
)

// ErrConfig is wrapped by every error about options or membership.
var ErrConfig = errors.New("raftprevote: bad configuration")

// Options are election.raftprevote's module options; start from
// DefaultOptions.
type Options struct {
	// ElectionTimeoutMin and ElectionTimeoutMax bound the randomised
	// timeout (defaults Raft's 150 and 300 ms): how long a looking server
	// waits before it campaigns, and between attempts. A wider range
	// makes split votes rarer; a higher minimum delays every election.
	ElectionTimeoutMin time.Duration `json:"electionTimeoutMin"`
	ElectionTimeoutMax time.Duration `json:"electionTimeoutMax"`
	// PreVote runs the dry-run round before a term is bumped (default
	// on). Off is plain Raft election, where a server cut off from the
	// quorum raises its term on every timeout; kept for A/B runs.
	PreVote bool `json:"preVote"`
}

// DefaultOptions is the module's constructor: the registry decodes
// configured options over it.
func DefaultOptions() *Options {
	return &Options{ElectionTimeoutMin: 150 * time.Millisecond, ElectionTimeoutMax: 300 * time.Millisecond, PreVote: true}
}

// Validate checks the options; the registry calls it after decoding.
func (o *Options) Validate() error {
	switch {
	case o.ElectionTimeoutMin <= 0:
		return fmt.Errorf("%w: electionTimeoutMin %v must be > 0", ErrConfig, o.ElectionTimeoutMin)
	case o.ElectionTimeoutMax < o.ElectionTimeoutMin:
		return fmt.Errorf("%w: electionTimeoutMax %v is below electionTimeoutMin %v", ErrConfig, o.ElectionTimeoutMax, o.ElectionTimeoutMin)
	}
	return nil
}

// NewElection makes one server's instance; Options is the module's
// ext.ElectionFactory. Options in cfg, if any, are decoded strictly over o.
func (o *Options) NewElection(cfg ext.ElectionConfig) (ext.Election, error) {
	opts := *o
	if err := registry.DecodeOptions(cfg.Options, &opts); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return newElection(opts, cfg)
}

// New makes an instance with DefaultOptions, overridden by cfg.Options.
func New(cfg ext.ElectionConfig) (ext.Election, error) { return DefaultOptions().NewElection(cfg) }

var _ ext.ElectionFactory = (*Options)(nil)
