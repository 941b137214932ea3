// Command electionplugin is an election plugin for plugins/host's tests:
// election.fle (ZooKeeper's FLE) with a fault to inject, chosen by its
// options (the rest go to FLE):
//
//	stallAfter   election calls this process serves before every later one blocks forever
//	stallMarker  a file: only a process that finds it missing stalls, creating it
//	             (so the first process stalls and its replacement does not)
//
// ELECTIONPLUGIN_PROTOCOL=n in its environment makes it claim protocol n.
package main

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/registry"
	"github.com/zabkit/zabkit/election/fle"
	"github.com/zabkit/zabkit/plugins/sdk"
)

type options struct {
	StallAfter  int64  `json:"stallAfter"`
	StallMarker string `json:"stallMarker"`
}

// calls counts the election calls this process served.
var calls atomic.Int64

type factory struct{}

func (factory) NewElection(cfg ext.ElectionConfig) (ext.Election, error) {
	own, rest := map[string]any{}, map[string]any{}
	for k, v := range cfg.Options {
		if strings.HasPrefix(strings.ToLower(k), "stall") {
			own[k] = v
		} else {
			rest[k] = v
		}
	}
	var o options
	if err := registry.DecodeOptions(own, &o); err != nil {
		return nil, err
	}
	cfg.Options = rest
	el, err := fle.New(cfg)
	if err != nil {
		return nil, err
	}
	sdk.Logger().Info("electionplugin instance", "self", cfg.Self)
	return &stalling{Election: el, o: o}, nil
}

// stalling is FLE that stops answering after StallAfter calls.
type stalling struct {
	ext.Election
	o options
}

func (s *stalling) check() {
	if s.o.StallAfter <= 0 || calls.Add(1) <= s.o.StallAfter {
		return
	}
	if s.o.StallMarker != "" {
		f, err := os.OpenFile(s.o.StallMarker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if errors.Is(err, os.ErrExist) {
			return
		}
		if err == nil {
			f.Close()
		}
	}
	select {} // an algorithm that never returns
}

func (s *stalling) Start(now time.Duration, r ext.RoundStart) ext.ElectionOutput {
	s.check()
	return s.Election.Start(now, r)
}

func (s *stalling) Step(now time.Duration, from int64, msg []byte) ext.ElectionOutput {
	s.check()
	return s.Election.Step(now, from, msg)
}

func (s *stalling) Tick(now time.Duration) ext.ElectionOutput {
	s.check()
	return s.Election.Tick(now)
}

func main() {
	if v, err := strconv.Atoi(os.Getenv("ELECTIONPLUGIN_PROTOCOL")); err == nil {
		sdk.Handshake.ProtocolVersion = uint(v)
	}
	sdk.ServeElection(factory{})
}
