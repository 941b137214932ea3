package fle

import (
	"errors"
	"fmt"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/registry"
)

// ErrConfig is wrapped by every error about options or membership.
var ErrConfig = errors.New("fle: bad configuration")

// Options are election.fle's module options. The zero value is not valid;
// start from DefaultOptions. The defaults are ZooKeeper 3.8's.
type Options struct {
	// FinalizeWait is how long a server waits, once a quorum backs its
	// proposal, for a better notification before it decides (ZooKeeper:
	// 200 ms, fixed). Every election takes at least this long; a shorter
	// wait decides sooner but elects a leader that loses the round more
	// often when notifications are slower than the wait.
	FinalizeWait time.Duration `json:"finalizeWait"`
	// MinNotificationInterval is the first silence after which a looking
	// server re-sends its vote (zookeeper.fastleader.minNotificationInterval,
	// 200 ms). Each silent interval doubles the next one.
	MinNotificationInterval time.Duration `json:"minNotificationInterval"`
	// MaxNotificationInterval caps that doubling
	// (zookeeper.fastleader.maxNotificationInterval, 60 s). It bounds how
	// long a server that was cut off for a while waits, after the network
	// heals, before it tells its peers it is looking: smaller recovers
	// faster and costs more messages while no quorum is reachable.
	MaxNotificationInterval time.Duration `json:"maxNotificationInterval"`
}

// DefaultOptions returns ZooKeeper's defaults. It is the module's
// constructor: the registry decodes configured options over it.
func DefaultOptions() *Options {
	return &Options{
		FinalizeWait:            200 * time.Millisecond,
		MinNotificationInterval: 200 * time.Millisecond,
		MaxNotificationInterval: 60 * time.Second,
	}
}

// Validate checks the options; the registry calls it after decoding.
func (o *Options) Validate() error {
	switch {
	case o.FinalizeWait <= 0:
		return fmt.Errorf("%w: finalizeWait %v must be > 0", ErrConfig, o.FinalizeWait)
	case o.MinNotificationInterval <= 0:
		return fmt.Errorf("%w: minNotificationInterval %v must be > 0", ErrConfig, o.MinNotificationInterval)
	case o.MaxNotificationInterval < o.MinNotificationInterval:
		return fmt.Errorf("%w: maxNotificationInterval %v is below minNotificationInterval %v",
			ErrConfig, o.MaxNotificationInterval, o.MinNotificationInterval)
	}
	return nil
}

// NewElection makes one server's FLE instance; Options is the module's
// ext.ElectionFactory. Options in cfg, if any, are decoded strictly over o
// (for hosts that pass them per instance).
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

// New makes an FLE instance with DefaultOptions, overridden by cfg.Options.
func New(cfg ext.ElectionConfig) (ext.Election, error) { return DefaultOptions().NewElection(cfg) }

var _ ext.ElectionFactory = (*Options)(nil)
