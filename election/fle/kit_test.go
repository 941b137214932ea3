package fle

import (
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/electiontest"
)

func TestConformance(t *testing.T) {
	electiontest.Run(t, New, electiontest.Options{UpToDate: true})
}

// BenchmarkElection5 is one cold-start election of five servers with
// equal logs on the kit's simulated network, to a settled leader.
func BenchmarkElection5(b *testing.B) {
	var members []ext.Member
	for id := int64(1); id <= 5; id++ {
		members = append(members, ext.Member{ID: id, Weight: 1})
	}
	msgs := 0
	for i := 0; b.Loop(); i++ {
		c, err := electiontest.NewCluster(electiontest.Config{
			Members: members, Factory: New, Seed: int64(i), Net: electiontest.Reliable,
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, id := range c.IDs() {
			c.Boot(id, electiontest.Disk{CurrentEpoch: 1, LastZxid: 1 << 32})
		}
		if !c.RunUntil((*electiontest.Cluster).Stable, time.Minute) {
			b.Fatalf("no leader: %v", c.Err())
		}
		msgs += c.Messages()
	}
	b.ReportMetric(float64(msgs)/float64(b.N), "messages/op")
}

// mutant is FLE with one deliberate bug, to show the kit catches it.
type mutant struct {
	ext.Election
	start func(ext.RoundStart) ext.RoundStart
	step  func(msg []byte) []byte // nil: drop the message
	out   func(now time.Duration, o ext.ElectionOutput) ext.ElectionOutput
}

func (m *mutant) Start(now time.Duration, r ext.RoundStart) ext.ElectionOutput {
	if m.start != nil {
		r = m.start(r)
	}
	return m.fix(now, m.Election.Start(now, r))
}

func (m *mutant) Step(now time.Duration, from int64, msg []byte) ext.ElectionOutput {
	if m.step != nil {
		if msg = m.step(msg); msg == nil {
			return ext.ElectionOutput{WakeAt: max(now, 1)}
		}
	}
	return m.fix(now, m.Election.Step(now, from, msg))
}

func (m *mutant) Tick(now time.Duration) ext.ElectionOutput { return m.fix(now, m.Election.Tick(now)) }

func (m *mutant) fix(now time.Duration, o ext.ElectionOutput) ext.ElectionOutput {
	if m.out != nil {
		return m.out(now, o)
	}
	return o
}

func TestKitCatchesBrokenAlgorithms(t *testing.T) {
	dropped := 0 // shared across runs on purpose: state outside the instance
	for _, tc := range []struct {
		name, scenario, want string
		m                    mutant
	}{
		{"ignores logs", "ColdStart", "which is newer", mutant{start: func(r ext.RoundStart) ext.RoundStart {
			r.LastZxid, r.CurrentEpoch = 0, 0
			return r
		}}},
		{"panics on short messages", "Garbage", "panicked", mutant{step: func(msg []byte) []byte {
			if len(msg) < 28 {
				panic("short message")
			}
			return msg
		}}},
		{"voters observe", "ColdStart", "decided OBSERVING", mutant{out: func(_ time.Duration, o ext.ElectionOutput) ext.ElectionOutput {
			if o.Decided != nil && o.Decided.State == ext.Following {
				o.Decided.State = ext.Observing
			}
			return o
		}}},
		{"sends nothing", "ColdStart", "not every server decided", mutant{out: func(_ time.Duration, o ext.ElectionOutput) ext.ElectionOutput {
			o.Send = nil
			return o
		}}},
		{"no timers", "QuorumUp", "not every server decided", mutant{out: func(_ time.Duration, o ext.ElectionOutput) ext.ElectionOutput {
			o.WakeAt = 0
			return o
		}}},
		{"timer in the past", "ColdStart", "in the past", mutant{out: func(now time.Duration, o ext.ElectionOutput) ext.ElectionOutput {
			if o.WakeAt != 0 {
				o.WakeAt = now - 1
			}
			return o
		}}},
		{"impure", "Deterministic", "differ", mutant{step: func(msg []byte) []byte {
			if dropped++; dropped%7 == 0 {
				return nil
			}
			return msg
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			factory := func(cfg ext.ElectionConfig) (ext.Election, error) {
				el, err := New(cfg)
				m := tc.m
				m.Election = el
				return &m, err
			}
			var sc electiontest.Scenario
			for _, s := range electiontest.Scenarios() {
				if s.Name == tc.scenario {
					sc = s
				}
			}
			for seed := int64(1); seed <= 40; seed++ {
				err := sc.Run(factory, electiontest.Options{UpToDate: true}, seed)
				if err == nil {
					continue
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("seed %d: the kit failed the mutant for another reason: %v", seed, err)
				}
				return
			}
			t.Fatalf("%s passed %s for 40 seeds", tc.name, tc.scenario)
		})
	}
}
