package fleadaptive

import (
	"errors"
	"fmt"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/registry"
	"github.com/zabkit/zabkit/election/fle"
)

// ErrConfig is wrapped by every error about options.
var ErrConfig = errors.New("fleadaptive: bad configuration")

// Options are election.fleadaptive's module options; start from
// DefaultOptions.
type Options struct {
	// MinFinalizeWait is the floor of the adaptive wait. It covers what a
	// round-trip estimate cannot see: servers that start looking a little
	// apart (a leader's death reaches its followers at different times)
	// and processing pauses. Default 20 ms.
	MinFinalizeWait time.Duration `json:"minFinalizeWait"`
	// MaxFinalizeWait caps the wait, and is the wait used before any
	// round trip to a peer has been measured. Default 200 ms, FLE's fixed
	// wait, so a fresh server behaves as FLE does.
	MaxFinalizeWait time.Duration `json:"maxFinalizeWait"`
	// MinNotificationInterval and MaxNotificationInterval are FLE's
	// (defaults 200 ms and 60 s): the re-send interval while silent and
	// the cap of its doubling.
	MinNotificationInterval time.Duration `json:"minNotificationInterval"`
	MaxNotificationInterval time.Duration `json:"maxNotificationInterval"`
	// AdaptiveResend makes the first re-send interval of a round the
	// adaptive wait too (at most MinNotificationInterval). Default on: a
	// server's first notifications may reach peers that have not yet
	// noticed the leader is gone, which answer but do not count them as
	// votes, and FLE re-sends only after the silent interval.
	AdaptiveResend bool `json:"adaptiveResend"`
}

// DefaultOptions is the module's constructor: the registry decodes
// configured options over it.
func DefaultOptions() *Options {
	d := fle.DefaultOptions()
	return &Options{
		MinFinalizeWait:         20 * time.Millisecond,
		MaxFinalizeWait:         d.FinalizeWait,
		MinNotificationInterval: d.MinNotificationInterval,
		MaxNotificationInterval: d.MaxNotificationInterval,
		AdaptiveResend:          true,
	}
}

// fle is the options of the FLE instance inside: it starts with the
// longest wait.
func (o *Options) fle() fle.Options {
	return fle.Options{
		FinalizeWait:            o.MaxFinalizeWait,
		MinNotificationInterval: o.MinNotificationInterval,
		MaxNotificationInterval: o.MaxNotificationInterval,
	}
}

// Validate checks the options; the registry calls it after decoding.
func (o *Options) Validate() error {
	switch {
	case o.MinFinalizeWait <= 0:
		return fmt.Errorf("%w: minFinalizeWait %v must be > 0", ErrConfig, o.MinFinalizeWait)
	case o.MaxFinalizeWait < o.MinFinalizeWait:
		return fmt.Errorf("%w: maxFinalizeWait %v is below minFinalizeWait %v", ErrConfig, o.MaxFinalizeWait, o.MinFinalizeWait)
	}
	f := o.fle()
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
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
