package fle

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// A transcript test plays one server's peers by hand: it feeds
// notifications in a chosen order and compares everything the server
// asks for (sends, persisted vote, decision, timer) with a trace written
// the way the spec describes the protocol. One line per output item:
//
//	→2 LOOKING 3 z=0x100000002 r=1 e=1   a notification to server 2
//	persist LOOKING 3 z=… r=1 e=1        the vote record to store
//	decide FOLLOWING 3 z=… r=1 e=1       the end of the round
//	wake 200ms                           when Tick is due
//
// where "3 z=… r=… e=…" is leader, zxid, round (electionEpoch) and
// peerEpoch.

type driver struct {
	t   *testing.T
	e   *Election
	now time.Duration
}

func voters(ids ...int64) []ext.Member {
	var ms []ext.Member
	for _, id := range ids {
		ms = append(ms, ext.Member{ID: id, Weight: 1})
	}
	return ms
}

func newDriver(t *testing.T, self int64, members []ext.Member) *driver {
	t.Helper()
	el, err := New(ext.ElectionConfig{Self: self, Members: members})
	if err != nil {
		t.Fatal(err)
	}
	return &driver{t: t, e: el.(*Election)}
}

func fmtVote(v ext.Vote) string {
	if v.Leader == minVote {
		return fmt.Sprintf("MIN r=%d", v.ElectionEpoch)
	}
	return fmt.Sprintf("%d z=%#x r=%d e=%d", v.Leader, v.Zxid, v.ElectionEpoch, v.PeerEpoch)
}

func stateName(s ext.PeerState) string { return strings.ToUpper(s.String()) }

func render(t *testing.T, out ext.ElectionOutput) string {
	t.Helper()
	var lines []string
	if out.PersistVote != nil {
		st, v, err := DecodeVote(out.PersistVote)
		if err != nil {
			t.Fatalf("persisted vote does not decode: %v", err)
		}
		lines = append(lines, "persist "+stateName(st)+" "+fmtVote(v))
	}
	for _, o := range out.Send {
		n, err := Decode(o.Data)
		if err != nil {
			t.Fatalf("sent a notification that does not decode: %v", err)
		}
		lines = append(lines, fmt.Sprintf("→%d %s %s", o.To, stateName(n.State), fmtVote(n.Vote())))
	}
	if d := out.Decided; d != nil {
		lines = append(lines, "decide "+stateName(d.State)+" "+fmtVote(d.Vote))
	}
	if out.WakeAt != 0 {
		lines = append(lines, "wake "+out.WakeAt.String())
	}
	return strings.Join(lines, "\n")
}

func (d *driver) want(out ext.ElectionOutput, trace string) {
	d.t.Helper()
	var lines []string
	for l := range strings.SplitSeq(trace, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if got, want := render(d.t, out), strings.Join(lines, "\n"); got != want {
		d.t.Fatalf("at %v:\n got:\n%s\nwant:\n%s", d.now, indent(got), indent(want))
	}
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

func (d *driver) start(zxid, epoch int64, lastVote []byte) ext.ElectionOutput {
	return d.e.Start(d.now, ext.RoundStart{LastZxid: zxid, CurrentEpoch: epoch, LastVote: lastVote})
}

// recv delivers a version-2 notification from a peer.
func (d *driver) recv(from int64, state ext.PeerState, leader, zxid, round, epoch int64) ext.ElectionOutput {
	n := Notification{State: state, Leader: leader, Zxid: zxid, ElectionEpoch: round, PeerEpoch: epoch}
	return d.e.Step(d.now, from, n.Encode())
}

func (d *driver) at(t time.Duration) *driver { d.now = t; return d }

func (d *driver) tick() ext.ElectionOutput { return d.e.Tick(d.now) }

const (
	L  = ext.Looking
	F  = ext.Following
	LD = ext.Leading
	O  = ext.Observing
)

// zx is a zxid: epoch in the high half, counter in the low.
func zx(epoch, counter int64) int64 { return epoch<<32 | counter }

func TestColdStartHighestSidWins(t *testing.T) {
	// Three fresh servers, equal zxid and epoch: sid order decides.
	// Server 3's view: it proposes itself and nobody can beat it.
	d := newDriver(t, 3, voters(1, 2, 3))
	d.want(d.start(0, 0, nil), `
		persist LOOKING 3 z=0x0 r=1 e=0
		→1 LOOKING 3 z=0x0 r=1 e=0
		→2 LOOKING 3 z=0x0 r=1 e=0
		wake 200ms`)
	// 1's first vote (for itself) is worse: recorded, no change, no quorum.
	d.at(5 * time.Millisecond)
	d.want(d.recv(1, L, 1, 0, 1, 0), `wake 205ms`)
	// 1 adopted 3: with my own vote that is a quorum; wait finalizeWait.
	d.at(7 * time.Millisecond)
	d.want(d.recv(1, L, 3, 0, 1, 0), `wake 207ms`)
	// 2's stale vote for itself is not better: it only restarts the wait.
	d.at(9 * time.Millisecond)
	d.want(d.recv(2, L, 2, 0, 1, 0), `wake 209ms`)
	d.at(209 * time.Millisecond)
	d.want(d.tick(), `
		persist LEADING 3 z=0x0 r=1 e=0
		decide LEADING 3 z=0x0 r=1 e=0`)
	if st, v := d.e.State(); st != LD || v.Leader != 3 {
		t.Fatalf("State() = %v %+v", st, v)
	}

	// Server 1's view of the same start: it adopts 2, then 3.
	d = newDriver(t, 1, voters(1, 2, 3))
	d.want(d.start(0, 0, nil), `
		persist LOOKING 1 z=0x0 r=1 e=0
		→2 LOOKING 1 z=0x0 r=1 e=0
		→3 LOOKING 1 z=0x0 r=1 e=0
		wake 200ms`)
	d.at(3 * time.Millisecond)
	d.want(d.recv(2, L, 2, 0, 1, 0), `
		persist LOOKING 2 z=0x0 r=1 e=0
		→2 LOOKING 2 z=0x0 r=1 e=0
		→3 LOOKING 2 z=0x0 r=1 e=0
		wake 203ms`)
	// {1, 2} back 2 once my own notification comes round: quorum.
	if !d.e.finalizing {
		t.Fatal("1 and 2 both vote 2: a quorum of 3, finalize wait expected")
	}
	// 3's vote is better: it interrupts the finalize wait.
	d.at(4 * time.Millisecond)
	d.want(d.recv(3, L, 3, 0, 1, 0), `
		persist LOOKING 3 z=0x0 r=1 e=0
		→2 LOOKING 3 z=0x0 r=1 e=0
		→3 LOOKING 3 z=0x0 r=1 e=0
		wake 204ms`)
	d.at(204 * time.Millisecond)
	d.want(d.tick(), `
		persist FOLLOWING 3 z=0x0 r=1 e=0
		decide FOLLOWING 3 z=0x0 r=1 e=0`)
}

func TestHighestZxidWinsThenEpochBeatsZxid(t *testing.T) {
	// Server 3 has the highest sid but the oldest log: server 1 wins.
	d := newDriver(t, 3, voters(1, 2, 3))
	d.want(d.start(zx(1, 5), 1, nil), `
		persist LOOKING 3 z=0x100000005 r=1 e=1
		→1 LOOKING 3 z=0x100000005 r=1 e=1
		→2 LOOKING 3 z=0x100000005 r=1 e=1
		wake 200ms`)
	d.want(d.recv(1, L, 1, zx(1, 9), 1, 1), `
		persist LOOKING 1 z=0x100000009 r=1 e=1
		→1 LOOKING 1 z=0x100000009 r=1 e=1
		→2 LOOKING 1 z=0x100000009 r=1 e=1
		wake 200ms`)
	// A newer epoch beats any zxid of an older one: 2 has epoch 2 with a
	// smaller zxid counter, and 1's higher counter in epoch 1 loses.
	d.want(d.recv(2, L, 2, zx(2, 1), 1, 2), `
		persist LOOKING 2 z=0x200000001 r=1 e=2
		→1 LOOKING 2 z=0x200000001 r=1 e=2
		→2 LOOKING 2 z=0x200000001 r=1 e=2
		wake 200ms`)
	// Now 3 and 2 both back 2: quorum, finalize, decide.
	if !d.e.finalizing {
		t.Fatal("quorum {2,3} for 2 expected")
	}
	d.at(200 * time.Millisecond)
	d.want(d.tick(), `
		persist FOLLOWING 2 z=0x200000001 r=1 e=2
		decide FOLLOWING 2 z=0x200000001 r=1 e=2`)
}

func TestRestartedNodeJoinsEstablishedEnsemble(t *testing.T) {
	// The ensemble elected 3 in round 2 and settled on epoch 5. Server 1
	// restarts at round 1 and learns the leader from FOLLOWING/LEADING
	// notifications (outofelection), adopting round 2.
	d := newDriver(t, 1, voters(1, 2, 3))
	d.want(d.start(zx(4, 7), 4, nil), `
		persist LOOKING 1 z=0x400000007 r=1 e=4
		→2 LOOKING 1 z=0x400000007 r=1 e=4
		→3 LOOKING 1 z=0x400000007 r=1 e=4
		wake 200ms`)
	// A quorum follows 3 ({2} + the leader's own LEADING): not yet, only 2.
	d.at(2 * time.Millisecond)
	d.want(d.recv(2, F, 3, zx(4, 9), 2, 5), `wake 202ms`)
	d.at(3 * time.Millisecond)
	d.want(d.recv(3, LD, 3, zx(4, 9), 2, 5), `
		persist FOLLOWING 3 z=0x400000009 r=2 e=5
		decide FOLLOWING 3 z=0x400000009 r=2 e=5`)

	// Without the leader's own LEADING, a quorum of followers is not
	// enough (checkLeader): the leader may be gone.
	d = newDriver(t, 1, voters(1, 2, 3, 4, 5))
	d.start(zx(4, 7), 4, nil)
	d.want(d.recv(2, F, 3, zx(4, 9), 2, 5), `wake 200ms`)
	d.want(d.recv(4, F, 3, zx(4, 9), 2, 5), `wake 200ms`)
	d.want(d.recv(5, F, 3, zx(4, 9), 2, 5), `wake 200ms`)
	d.want(d.recv(3, LD, 3, zx(4, 9), 2, 5), `
		persist FOLLOWING 3 z=0x400000009 r=2 e=5
		decide FOLLOWING 3 z=0x400000009 r=2 e=5`)
}

func TestDecidedServerAnswersLookingPeers(t *testing.T) {
	// Once decided, a server answers a looking voter with its decided vote
	// (state, round won) and, after Established, the new epoch.
	d := newDriver(t, 2, voters(1, 2, 3))
	d.start(zx(1, 3), 1, nil)
	d.recv(3, L, 3, zx(1, 3), 1, 1)
	d.at(200 * time.Millisecond)
	d.want(d.tick(), `
		persist FOLLOWING 3 z=0x100000003 r=1 e=1
		decide FOLLOWING 3 z=0x100000003 r=1 e=1`)
	d.at(300 * time.Millisecond)
	d.want(d.recv(1, L, 1, zx(1, 3), 1, 1), `→1 FOLLOWING 3 z=0x100000003 r=1 e=1`)
	d.want(d.e.Established(d.now, F, 2), `persist FOLLOWING 3 z=0x100000003 r=1 e=2`)
	d.want(d.recv(1, L, 1, zx(1, 3), 4, 1), `→1 FOLLOWING 3 z=0x100000003 r=1 e=2`)
	// Peers that are not looking get no answer; nor does garbage.
	d.want(d.recv(1, F, 3, zx(1, 3), 1, 2), ``)
	d.want(d.e.Step(d.now, 1, []byte("short")), ``)
	// A restart of the round (the leader is gone) starts round 2.
	d.at(time.Second)
	d.want(d.start(zx(2, 0), 2, nil), `
		persist LOOKING 2 z=0x200000000 r=2 e=2
		→1 LOOKING 2 z=0x200000000 r=2 e=2
		→3 LOOKING 2 z=0x200000000 r=2 e=2
		wake 1.2s`)
}

func TestLateHigherRoundAndLowerRound(t *testing.T) {
	d := newDriver(t, 1, voters(1, 2, 3))
	d.start(zx(1, 1), 1, nil)
	// 2's vote is older: recorded, no quorum.
	d.want(d.recv(2, L, 2, zx(1, 0), 1, 1), `wake 200ms`)
	// 3 is already in round 4. Its round wins: adopt round 4, forget round
	// 1's votes and propose the better of 3's vote and my own initial
	// vote, here mine.
	d.at(10 * time.Millisecond)
	d.want(d.recv(3, L, 3, zx(1, 0), 4, 1), `
		persist LOOKING 1 z=0x100000001 r=4 e=1
		→2 LOOKING 1 z=0x100000001 r=4 e=1
		→3 LOOKING 1 z=0x100000001 r=4 e=1
		wake 210ms`)
	// A vote from round 1 is dropped, and its sender, lagging behind, is
	// told my vote.
	d.at(20 * time.Millisecond)
	d.want(d.recv(2, L, 2, zx(1, 0), 1, 1), `
		→2 LOOKING 1 z=0x100000001 r=4 e=1
		wake 220ms`)
	if d.e.finalizing {
		t.Fatal("round 1 votes must not count in round 4")
	}
	// 2 catches up and backs me: quorum {1, 2}; finalize, decide.
	d.at(30 * time.Millisecond)
	d.want(d.recv(2, L, 1, zx(1, 1), 4, 1), `wake 230ms`)
	d.at(230 * time.Millisecond)
	d.want(d.tick(), `
		persist LEADING 1 z=0x100000001 r=4 e=1
		decide LEADING 1 z=0x100000001 r=4 e=1`)
}

func TestFinalizeWaitInterruptedByBetterVote(t *testing.T) {
	d := newDriver(t, 1, voters(1, 2, 3))
	d.start(zx(1, 1), 1, nil)
	d.want(d.recv(2, L, 2, zx(1, 1), 1, 1), `
		persist LOOKING 2 z=0x100000001 r=1 e=1
		→2 LOOKING 2 z=0x100000001 r=1 e=1
		→3 LOOKING 2 z=0x100000001 r=1 e=1
		wake 200ms`)
	// {1, 2} back 2: the finalize wait runs. A worse vote is consumed and
	// the wait starts over.
	d.at(100 * time.Millisecond)
	d.want(d.recv(3, L, 1, zx(1, 1), 1, 1), `wake 300ms`)
	// 3 proposes itself: better than 2, so the wait ends and the vote is
	// handled as usual; {1, 3} back 3 and a new wait starts.
	d.at(150 * time.Millisecond)
	d.want(d.recv(3, L, 3, zx(1, 1), 1, 1), `
		persist LOOKING 3 z=0x100000001 r=1 e=1
		→2 LOOKING 3 z=0x100000001 r=1 e=1
		→3 LOOKING 3 z=0x100000001 r=1 e=1
		wake 350ms`)
	d.at(349 * time.Millisecond)
	d.want(d.tick(), `wake 350ms`)
	d.at(350 * time.Millisecond)
	d.want(d.tick(), `
		persist FOLLOWING 3 z=0x100000001 r=1 e=1
		decide FOLLOWING 3 z=0x100000001 r=1 e=1`)
}

func TestObserver(t *testing.T) {
	members := append(voters(1, 2, 3), ext.Member{ID: 4, Observer: true})
	// The observer votes MIN values, to voters only, and learns the leader
	// from the voters' answers.
	d := newDriver(t, 4, members)
	d.want(d.start(zx(1, 1), 1, nil), `
		persist LOOKING MIN r=1
		→1 LOOKING MIN r=1
		→2 LOOKING MIN r=1
		→3 LOOKING MIN r=1
		wake 200ms`)
	d.want(d.recv(1, F, 3, zx(1, 1), 6, 2), `wake 200ms`)
	d.want(d.recv(3, LD, 3, zx(1, 1), 6, 2), `
		persist OBSERVING 3 z=0x100000001 r=6 e=2
		decide OBSERVING 3 z=0x100000001 r=6 e=2`)

	// A voter answers the observer at once with its vote, whatever its
	// state, and neither queues nor counts the observer's message.
	d = newDriver(t, 1, members)
	d.start(zx(1, 1), 1, nil)
	d.want(d.recv(4, L, minVote, minVote, 1, minVote), `→4 LOOKING 1 z=0x100000001 r=1 e=1
		wake 200ms`)
	d.want(d.recv(4, O, 3, zx(1, 1), 9, 1), `→4 LOOKING 1 z=0x100000001 r=1 e=1
		wake 200ms`)
	if len(d.e.recvset) != 1 {
		t.Fatalf("recvset = %v, want only my own vote", d.e.recvset)
	}
	// An observer's vote for itself is never adopted, nor is a vote for a
	// non-member: neither can lead.
	d.want(d.recv(2, L, 4, zx(9, 9), 1, 9), `wake 200ms`)
	d.want(d.recv(2, L, 7, zx(9, 9), 1, 9), `wake 200ms`)
}

func TestWeights(t *testing.T) {
	// Hierarchical weights: 1 carries 3 of 5, alone a quorum; 4 has weight
	// 0 and can neither lead nor count.
	members := []ext.Member{{ID: 1, Weight: 3}, {ID: 2, Weight: 1}, {ID: 3, Weight: 1}, {ID: 4, Weight: 0}}
	d := newDriver(t, 1, members)
	d.want(d.start(zx(1, 1), 1, nil), `
		persist LOOKING 1 z=0x100000001 r=1 e=1
		→2 LOOKING 1 z=0x100000001 r=1 e=1
		→3 LOOKING 1 z=0x100000001 r=1 e=1
		wake 200ms`)
	if !d.e.finalizing {
		t.Fatal("weight 3 of 5 is a quorum on its own")
	}
	d.at(200 * time.Millisecond)
	d.want(d.tick(), `
		persist LEADING 1 z=0x100000001 r=1 e=1
		decide LEADING 1 z=0x100000001 r=1 e=1`)

	// 2 and 3 (weight 2 of 5) are no quorum even together; a weight-0
	// member's vote for itself is never adopted despite its newer log.
	d = newDriver(t, 2, members)
	d.start(zx(1, 1), 1, nil)
	d.want(d.recv(4, L, 4, zx(3, 0), 1, 3), `→4 LOOKING 2 z=0x100000001 r=1 e=1
		wake 200ms`)
	d.want(d.recv(3, L, 2, zx(1, 1), 1, 1), `wake 200ms`)
	if d.e.finalizing {
		t.Fatal("weight 2 of 5 is no quorum")
	}
	d.want(d.recv(1, L, 1, zx(1, 1), 1, 1), `wake 200ms`)
	d.want(d.recv(1, L, 2, zx(1, 1), 1, 1), `wake 200ms`)
	if !d.e.finalizing {
		t.Fatal("weights 3+1+1 back 2: quorum expected")
	}
	// The weight-0 participant decides FOLLOWING, not OBSERVING.
	d = newDriver(t, 4, members)
	d.start(zx(1, 1), 1, nil)
	d.recv(2, F, 1, zx(1, 1), 1, 1)
	d.want(d.recv(1, LD, 1, zx(1, 1), 1, 1), `
		persist FOLLOWING 1 z=0x100000001 r=1 e=1
		decide FOLLOWING 1 z=0x100000001 r=1 e=1`)
}

func TestSilentPollBacksOffAndResends(t *testing.T) {
	o := DefaultOptions()
	o.MaxNotificationInterval = time.Second
	el, err := o.NewElection(ext.ElectionConfig{Self: 1, Members: voters(1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, e: el.(*Election)}
	d.want(d.start(0, 0, nil), `
		persist LOOKING 1 z=0x0 r=1 e=0
		→2 LOOKING 1 z=0x0 r=1 e=0
		wake 200ms`)
	d.at(100 * time.Millisecond)
	d.want(d.tick(), `wake 200ms`) // early: nothing to do
	for _, step := range []struct{ at, next time.Duration }{
		{200, 600}, {600, 1400}, {1400, 2400}, {2400, 3400},
	} {
		d.at(step.at * time.Millisecond)
		d.want(d.tick(), fmt.Sprintf("→2 LOOKING 1 z=0x0 r=1 e=0\nwake %v", step.next*time.Millisecond))
	}
	// A message restarts the poll with the current (backed-off) interval.
	d.at(3000 * time.Millisecond)
	d.want(d.recv(2, L, 1, 0, 1, 0), `wake 3.2s`)
}

func TestUnloadedDatabaseNeitherElectsNorIsElected(t *testing.T) {
	// LastZxid -1: the database did not load. Such a server ignores
	// looking votes, and others ignore its votes.
	d := newDriver(t, 1, voters(1, 2, 3))
	d.want(d.start(-1, 1, nil), `
		persist LOOKING 1 z=-0x1 r=1 e=1
		→2 LOOKING 1 z=-0x1 r=1 e=1
		→3 LOOKING 1 z=-0x1 r=1 e=1
		wake 200ms`)
	d.want(d.recv(3, L, 3, zx(1, 1), 1, 1), `wake 200ms`)
	d.want(d.recv(2, L, 3, zx(1, 1), 1, 1), `wake 200ms`)
	if d.e.finalizing {
		t.Fatal("a server without a database must not decide on looking votes")
	}
	d = newDriver(t, 1, voters(1, 2, 3))
	d.start(zx(1, 1), 1, nil)
	d.want(d.recv(3, L, 3, -1, 1, 9), `wake 200ms`)
}

func TestPersistedVoteResumesRound(t *testing.T) {
	d := newDriver(t, 1, voters(1, 2, 3))
	last := EncodeVote(F, ext.Vote{Leader: 3, Zxid: zx(2, 4), ElectionEpoch: 7, PeerEpoch: 3})
	d.want(d.start(zx(3, 0), 3, last), `
		persist LOOKING 1 z=0x300000000 r=8 e=3
		→2 LOOKING 1 z=0x300000000 r=8 e=3
		→3 LOOKING 1 z=0x300000000 r=8 e=3
		wake 200ms`)
	// Garbage on disk costs only the round.
	d = newDriver(t, 1, voters(1, 2, 3))
	d.want(d.start(zx(3, 0), 3, []byte{1, 2, 3}), `
		persist LOOKING 1 z=0x300000000 r=1 e=3
		→2 LOOKING 1 z=0x300000000 r=1 e=3
		→3 LOOKING 1 z=0x300000000 r=1 e=3
		wake 200ms`)
}

func TestVoteEqualityAcrossVersions(t *testing.T) {
	// FOLLOWING/LEADING votes compare leader and peer epoch, but only the
	// leader between a version-0 and a versioned message.
	a := ballot{vote: ext.Vote{Leader: 3, Zxid: 1, ElectionEpoch: 2, PeerEpoch: 5}, state: F, version: 2}
	b := ballot{vote: ext.Vote{Leader: 3, Zxid: 9, ElectionEpoch: 1, PeerEpoch: 5}, state: LD, version: 2}
	c := ballot{vote: ext.Vote{Leader: 3, Zxid: 9, ElectionEpoch: 1, PeerEpoch: 4}, state: LD, version: 0}
	d := ballot{vote: ext.Vote{Leader: 3, Zxid: 1, ElectionEpoch: 2, PeerEpoch: 5}, state: L}
	switch {
	case !a.same(b):
		t.Error("same leader and peer epoch must be equal")
	case !a.same(c):
		t.Error("version 0 against 2 compares only the leader")
	case b.same(ballot{vote: c.vote, state: LD, version: 2}):
		t.Error("different peer epochs must differ")
	case !a.same(d) || d.same(ballot{vote: b.vote, state: L}):
		t.Error("looking votes compare all four fields")
	}
}
