package bully

import (
	"errors"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/electiontest"
)

func factory(cfg ext.ElectionConfig) (ext.Election, error) { return New(Options{}, cfg) }

// TestConformance runs zabkit's election kit in process, where a failure
// is easiest to replay (electiontest.RunSeed with Options.Log).
func TestConformance(t *testing.T) {
	electiontest.Run(t, factory, electiontest.Options{UpToDate: true})
}

func TestMessageRoundTrip(t *testing.T) {
	m := message{kind: elected, state: ext.Leading, round: 7, cred: cred{epoch: 3, zxid: 1 << 33},
		vote: ext.Vote{Leader: 2, Zxid: 1 << 33, PeerEpoch: 4, ElectionEpoch: 7}}
	got, err := decode(m.encode())
	if err != nil || got != m {
		t.Fatalf("decode(encode(%+v)) = %+v, %v", m, got, err)
	}
	b := m.encode()
	b[5] = 9 // no such state
	if _, err := decode(b); !errors.Is(err, ext.ErrBadNotification) {
		t.Fatalf("bad state decoded: %v", err)
	}
	if _, err := decode(b[:10]); !errors.Is(err, ext.ErrBadNotification) {
		t.Fatalf("short message decoded: %v", err)
	}
}

// TestOneAckPerRoundAcrossRestart: a voter that acked a candidate and
// restarts from its persisted vote starts past that round, so it cannot
// ack another candidate in it.
func TestOneAckPerRoundAcrossRestart(t *testing.T) {
	members := []ext.Member{{ID: 1, Weight: 1}, {ID: 2, Weight: 1}, {ID: 3, Weight: 1}}
	v, err := New(Options{}, ext.ElectionConfig{Self: 1, Members: members})
	if err != nil {
		t.Fatal(err)
	}
	v.Start(0, ext.RoundStart{})
	propose3 := message{kind: propose, state: ext.Looking, round: 1, cred: cred{epoch: 1}}.encode()
	out := v.Step(time.Millisecond, 3, propose3)
	if out.PersistVote == nil || len(out.Send) != 1 || out.Send[0].To != 3 {
		t.Fatalf("the ack of 3 was not persisted and sent: %+v", out)
	}
	// Restarted from the persisted vote, it begins round 2, not round 1.
	r, err := New(Options{}, ext.ElectionConfig{Self: 1, Members: members})
	if err != nil {
		t.Fatal(err)
	}
	r.Start(0, ext.RoundStart{LastVote: out.PersistVote})
	if _, vote := r.State(); vote.ElectionEpoch != 2 {
		t.Fatalf("restarted in round %d, want 2", vote.ElectionEpoch)
	}
	propose2 := message{kind: propose, state: ext.Looking, round: 1, cred: cred{epoch: 1}}.encode()
	for _, s := range r.Step(time.Millisecond, 2, propose2).Send {
		if k, _ := decode(s.Data); k.kind == ack {
			t.Fatalf("acked 2 in round 1 after acking 3 there")
		}
	}
}
