// Command bullyelection is a zabkit election plugin: the bully-style
// algorithm of package bully, served over gRPC. A zabkit server runs it
// with
//
//	election:
//	  module: election.external
//	  options:
//	    plugin: /path/to/bullyelection
//	    options:              # this plugin's own options (all optional)
//	      gatherWait: 200ms
//	      resendInterval: 250ms
//	      maxResendInterval: 2s
//	      roundTimeout: 1s
//
// It is an example of a third-party plugin: its own Go module, importing
// only zabkit's public packages (core/ext, core/registry, plugins/sdk).
package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/registry"
	"github.com/zabkit/zabkit/plugins/sdk"

	"example.com/bullyelection/bully"
)

// factory makes the instances. The host calls it once per node run (and
// again on a restart of this process, to resume the round).
type factory struct{ log *slog.Logger }

func (f factory) NewElection(cfg ext.ElectionConfig) (ext.Election, error) {
	var o bully.Options
	if err := registry.DecodeOptions(cfg.Options, &o); err != nil {
		return nil, fmt.Errorf("bullyelection: %w", err)
	}
	el, err := bully.New(o, cfg)
	if err != nil {
		return nil, err
	}
	f.log.Info("election instance", "self", cfg.Self, "members", len(cfg.Members))
	return logged{Election: el, log: f.log.With("self", cfg.Self)}, nil
}

// logged reports decisions in the server's log. The algorithm itself
// stays free of I/O; logging around it does not change what it decides.
type logged struct {
	ext.Election
	log *slog.Logger
}

func (l logged) note(out ext.ElectionOutput) ext.ElectionOutput {
	if d := out.Decided; d != nil {
		l.log.Info("decided", "state", d.State.String(), "leader", d.Vote.Leader, "round", d.Vote.ElectionEpoch)
	}
	return out
}

func (l logged) Start(now time.Duration, r ext.RoundStart) ext.ElectionOutput {
	l.log.Info("looking for a leader", "epoch", r.CurrentEpoch, "last_zxid", fmt.Sprintf("%#x", r.LastZxid), "resumed", r.LastVote != nil)
	return l.note(l.Election.Start(now, r))
}

func (l logged) Step(now time.Duration, from int64, msg []byte) ext.ElectionOutput {
	return l.note(l.Election.Step(now, from, msg))
}

func (l logged) Tick(now time.Duration) ext.ElectionOutput { return l.note(l.Election.Tick(now)) }

func main() { sdk.ServeElection(factory{log: sdk.Logger()}) }
