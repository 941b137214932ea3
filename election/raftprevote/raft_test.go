package raftprevote

import (
	"errors"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/electiontest"
	"github.com/zabkit/zabkit/election/fle"
	"github.com/zabkit/zabkit/election/fleadaptive"
)

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range []Message{
		{Kind: KindPreVote, State: ext.Looking, Term: 3, Ask: 4, Vote: ext.Vote{Leader: 2, Zxid: 1<<32 | 9, PeerEpoch: 1}},
		{Kind: KindVoteReply, State: ext.Looking, Term: 4, Ask: 4, Granted: true},
		{Kind: KindLeader, State: ext.Leading, Term: 4, Established: true, Vote: ext.Vote{Leader: 2, Zxid: 7, ElectionEpoch: 4, PeerEpoch: 2}},
	} {
		got, err := Decode(m.Encode())
		if err != nil || got != m {
			t.Fatalf("round trip of %+v: %+v, %v", m, got, err)
		}
	}
	r := Record{Term: 12, Voted: true, VotedFor: 3}
	if got, err := DecodeRecord(r.Encode()); err != nil || got != r {
		t.Fatalf("record round trip: %+v, %v", got, err)
	}
	if _, err := DecodeRecord(fle.EncodeVote(ext.Looking, ext.Vote{})); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("an FLE vote record decoded as a raft record: %v", err)
	}
}

// TestForeignMessages: other algorithms' messages and damaged ones are
// ext.ErrBadNotification.
func TestForeignMessages(t *testing.T) {
	n := fle.Notification{State: ext.Looking, Leader: 2, Zxid: 5, ElectionEpoch: 1, Version: fle.CurrentVersion}
	good := Message{Kind: KindVote, Term: 1, Ask: 1}.Encode()
	bad := func(i int, v byte) []byte { b := append([]byte(nil), good...); b[i] = v; return b }
	for name, msg := range map[string][]byte{
		"fle":           n.Encode(),
		"fleadaptive":   fleadaptive.Envelope{Nonce: 1, Notification: n.Encode()}.Encode(),
		"cut":           good[:msgSize-1],
		"long":          append(append([]byte(nil), good...), 0),
		"kind 0":        bad(4, 0),
		"kind 6":        bad(4, 6),
		"unknown flag":  bad(5, 4),
		"state 7":       bad(9, 7),
		"negative term": bad(10, 0x80),
	} {
		if _, err := Decode(msg); !errors.Is(err, ext.ErrBadNotification) {
			t.Errorf("%s: Decode error %v, want ErrBadNotification", name, err)
		}
	}
}

// isolated elects a leader among five, cuts one follower off for 20 s and
// heals; it returns that follower's term before and after, and whether
// the leader stayed the same.
func isolated(t *testing.T, o *Options, seed int64) (before, after int64, sameLeader bool) {
	t.Helper()
	var ms []ext.Member
	for id := int64(1); id <= 5; id++ {
		ms = append(ms, ext.Member{ID: id, Weight: 1})
	}
	els := map[int64]ext.Election{}
	factory := func(cfg ext.ElectionConfig) (ext.Election, error) {
		el, err := o.NewElection(cfg)
		els[cfg.Self] = el
		return el, err
	}
	c, err := electiontest.NewCluster(electiontest.Config{Members: ms, Factory: factory, Seed: seed, Net: electiontest.Reliable})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range c.IDs() {
		c.Boot(id, electiontest.Disk{CurrentEpoch: 1, LastZxid: 1<<32 | id})
	}
	if !c.RunUntil((*electiontest.Cluster).Stable, time.Minute) {
		t.Fatalf("seed %d: no leader: %v", seed, c.Err())
	}
	leader, _ := c.Leader()
	victim := leader%5 + 1
	_, v := els[victim].State()
	before = v.ElectionEpoch
	var rest []int64
	for _, id := range c.IDs() {
		if id != victim {
			rest = append(rest, id)
		}
	}
	c.Partition(rest, []int64{victim})
	c.RunFor(20 * time.Second)
	_, v = els[victim].State()
	after = v.ElectionEpoch
	c.Heal()
	if !c.RunUntil((*electiontest.Cluster).Stable, time.Minute) {
		t.Fatalf("seed %d: no leader after healing: %v", seed, c.Err())
	}
	now, _ := c.Leader()
	return before, after, now == leader
}

// TestPreVoteKeepsTerms: a follower cut off for 20 s times out again and
// again; with pre-vote its term does not move (no quorum would vote for
// it), without pre-vote it climbs on every timeout. Either way the leader
// keeps leading: servers with a leader ignore requests.
func TestPreVoteKeepsTerms(t *testing.T) {
	plain := DefaultOptions()
	plain.PreVote = false
	for seed := int64(1); seed <= 5; seed++ {
		before, after, same := isolated(t, DefaultOptions(), seed)
		if after != before || !same {
			t.Errorf("seed %d, pre-vote: term %d → %d, same leader %v", seed, before, after, same)
		}
		before, after, same = isolated(t, plain, seed)
		if after < before+20 || !same {
			t.Errorf("seed %d, no pre-vote: term %d → %d (want 20 s / 300 ms timeouts' worth), same leader %v", seed, before, after, same)
		}
	}
}

// TestFewerMessagesThanFLE: a cold-start election of five equal servers
// costs fewer messages than FLE's.
func TestFewerMessagesThanFLE(t *testing.T) {
	count := func(f electiontest.Factory, seed int64) int {
		var ms []ext.Member
		for id := int64(1); id <= 5; id++ {
			ms = append(ms, ext.Member{ID: id, Weight: 1})
		}
		c, err := electiontest.NewCluster(electiontest.Config{Members: ms, Factory: f, Seed: seed, Net: electiontest.Reliable})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range c.IDs() {
			c.Boot(id, electiontest.Disk{CurrentEpoch: 1, LastZxid: 1 << 32})
		}
		if !c.RunUntil((*electiontest.Cluster).Stable, time.Minute) {
			t.Fatalf("seed %d: no leader: %v", seed, c.Err())
		}
		return c.Messages()
	}
	var raft, fl int
	for seed := int64(1); seed <= 20; seed++ {
		raft += count(New, seed)
		fl += count(fle.New, seed)
	}
	if raft >= fl {
		t.Fatalf("raftprevote sent %d messages in 20 elections, FLE %d", raft, fl)
	}
	t.Logf("20 cold starts of 5: raftprevote %d messages, FLE %d", raft, fl)
}
