package fleadaptive

import (
	"errors"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/electiontest"
	"github.com/zabkit/zabkit/election/fle"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	n := fle.Notification{State: ext.Looking, Leader: 3, Zxid: 1<<32 | 7, ElectionEpoch: 4, PeerEpoch: 1, Version: fle.CurrentVersion}
	in := Envelope{Nonce: 9, Sent: 1500 * time.Millisecond, EchoNonce: 11, Echo: time.Second, Held: 3 * time.Millisecond,
		RTO: 7 * time.Millisecond, Notification: n.Encode()}
	got, gn, err := Decode(in.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Nonce != 9 || got.Sent != in.Sent || got.EchoNonce != 11 || got.Echo != in.Echo || got.Held != in.Held || got.RTO != in.RTO {
		t.Fatalf("envelope %+v, sent %+v", got, in)
	}
	if gn.Vote() != n.Vote() || gn.State != n.State {
		t.Fatalf("notification %+v, sent %+v", gn, n)
	}
}

// TestForeignMessages: plain FLE notifications (and cut envelopes) are
// refused, and FLE does not act on this variant's messages.
func TestForeignMessages(t *testing.T) {
	n := fle.Notification{State: ext.Looking, Leader: 2, Zxid: 5, ElectionEpoch: 1, Version: fle.CurrentVersion}
	ours := Envelope{Nonce: 1, Notification: n.Encode()}.Encode()
	for name, msg := range map[string][]byte{
		"fle notification":  n.Encode(),
		"cut envelope":      ours[:envelopeSize-1],
		"envelope, cut fle": ours[:envelopeSize+20],
		"zero nonce":        Envelope{Notification: n.Encode()}.Encode(),
	} {
		if _, _, err := Decode(msg); !errors.Is(err, ext.ErrBadNotification) {
			t.Errorf("%s: Decode error %v, want ErrBadNotification", name, err)
		}
	}
	// An FLE server reads the magic as an unknown state and ignores it.
	ms := []ext.Member{{ID: 1, Weight: 1}, {ID: 2, Weight: 1}, {ID: 3, Weight: 1}}
	el, err := fle.New(ext.ElectionConfig{Self: 1, Members: ms})
	if err != nil {
		t.Fatal(err)
	}
	el.Start(0, ext.RoundStart{LastZxid: 1})
	if out := el.Step(time.Millisecond, 2, ours); len(out.Send) != 0 || out.Decided != nil {
		t.Fatalf("FLE acted on an fleadaptive message: %+v", out)
	}
}

// cluster elects a leader among five servers on net and returns the
// instances by id.
func cluster(t *testing.T, seed int64, net electiontest.Net) (*electiontest.Cluster, map[int64]*Election) {
	t.Helper()
	var ms []ext.Member
	for id := int64(1); id <= 5; id++ {
		ms = append(ms, ext.Member{ID: id, Weight: 1})
	}
	els := map[int64]*Election{}
	factory := func(cfg ext.ElectionConfig) (ext.Election, error) {
		el, err := New(cfg)
		if err == nil {
			els[cfg.Self] = el.(*Election)
		}
		return el, err
	}
	c, err := electiontest.NewCluster(electiontest.Config{Members: ms, Factory: factory, Seed: seed, Net: net})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range c.IDs() {
		c.Boot(id, electiontest.Disk{CurrentEpoch: 1, LastZxid: 1<<32 | id})
	}
	if !c.RunUntil((*electiontest.Cluster).Stable, time.Minute) {
		t.Fatalf("seed %d: no leader: %v", seed, c.Err())
	}
	return c, els
}

// TestWaitFollowsRoundTrip: once servers have talked (an election and a
// leader crash), the wait is the floor on a fast network, and near the
// round trip on a slow one.
func TestWaitFollowsRoundTrip(t *testing.T) {
	d := DefaultOptions()
	check := func(seed int64, net electiontest.Net, lo, hi time.Duration) {
		t.Helper()
		c, els := cluster(t, seed, net)
		old, _ := c.Leader()
		c.Crash(old)
		if !c.RunUntil((*electiontest.Cluster).Stable, time.Minute) {
			t.Fatalf("seed %d: no leader after the crash: %v", seed, c.Err())
		}
		for id, el := range els {
			if w := el.FinalizeWait(); id != old && (w < lo || w > hi) {
				t.Errorf("seed %d, delays %v..%v: server %d waits %v, want %v..%v", seed, net.MinDelay, net.MaxDelay, id, w, lo, hi)
			}
		}
	}
	for seed := int64(1); seed <= 10; seed++ {
		check(seed, electiontest.Net{MinDelay: 500 * time.Microsecond, MaxDelay: 2 * time.Millisecond}, d.MinFinalizeWait, d.MinFinalizeWait)
		// One-way 30–45 ms: round trips of 60–90 ms.
		check(seed, electiontest.Net{MinDelay: 30 * time.Millisecond, MaxDelay: 45 * time.Millisecond}, 60*time.Millisecond, d.MaxFinalizeWait)
	}
}

// TestFasterAfterLeaderCrash: once round trips are known, the survivors of
// a leader crash decide in less than FLE's fixed wait alone.
func TestFasterAfterLeaderCrash(t *testing.T) {
	for seed := int64(1); seed <= 10; seed++ {
		c, _ := cluster(t, seed, electiontest.Net{MinDelay: 500 * time.Microsecond, MaxDelay: 2 * time.Millisecond})
		old, _ := c.Leader()
		crashed := c.Now()
		c.Crash(old)
		if !c.RunUntil((*electiontest.Cluster).AllDecided, time.Minute) {
			t.Fatalf("seed %d: survivors did not decide: %v", seed, c.Err())
		}
		if took := c.Now() - crashed; took >= fle.DefaultOptions().FinalizeWait {
			t.Errorf("seed %d: survivors took %v to decide, not less than FLE's wait", seed, took)
		}
	}
}
