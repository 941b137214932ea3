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

// wire delivers messages between instances at once, in order, and ticks
// the instances that asked, for tests that swap instances mid-run.
type wire struct {
	t       *testing.T
	els     map[int64]*Election
	now     time.Duration
	wake    map[int64]time.Duration
	decided map[int64]*ext.Decision
	persist map[int64][]byte
	queue   []ext.Outgoing
	from    []int64
}

func (w *wire) apply(id int64, out ext.ElectionOutput) {
	if out.PersistVote != nil {
		w.persist[id] = out.PersistVote
	}
	for _, o := range out.Send {
		w.queue, w.from = append(w.queue, o), append(w.from, id)
	}
	w.wake[id] = out.WakeAt
	if out.Decided != nil {
		w.decided[id] = out.Decided
	}
}

// run delivers and ticks for up to d of virtual time, until done holds.
func (w *wire) run(d time.Duration, done func() bool) {
	w.t.Helper()
	end := w.now + d
	for !done() {
		for len(w.queue) > 0 {
			o, from := w.queue[0], w.from[0]
			w.queue, w.from = w.queue[1:], w.from[1:]
			w.apply(o.To, w.els[o.To].Step(w.now, from, o.Data))
		}
		if done() {
			return
		}
		if w.now += 10 * time.Millisecond; w.now > end {
			w.t.Fatalf("not done within %v: decisions %v", d, w.decided)
		}
		for id, el := range w.els {
			if at := w.wake[id]; at != 0 && at <= w.now {
				w.apply(id, el.Tick(w.now))
			}
		}
	}
}

// restart gives server id a fresh instance resumed from its persisted
// vote, as the host does when the plugin process is replaced.
func (w *wire) restart(id int64, members []ext.Member, disk ext.RoundStart) {
	el, err := New(Options{}, ext.ElectionConfig{Self: id, Members: members, Seed: id + 100})
	if err != nil {
		w.t.Fatal(err)
	}
	w.els[id] = el
	delete(w.decided, id)
	disk.LastVote = w.persist[id]
	w.apply(id, el.Start(w.now, disk))
}

// TestLeaderResumesWhileLeading: five servers elect 5; then the election
// of 5 restarts while its node keeps leading (the host replays Start and
// Established), and so does a follower's. 5 answers as the leader again,
// so the restarted follower finds it: two lookers alone are no quorum.
func TestLeaderResumesWhileLeading(t *testing.T) {
	var members []ext.Member
	for id := int64(1); id <= 5; id++ {
		members = append(members, ext.Member{ID: id, Weight: 1})
	}
	disk := func(id int64) ext.RoundStart { return ext.RoundStart{CurrentEpoch: 1, LastZxid: 1<<32 | id} }
	w := &wire{t: t, els: map[int64]*Election{}, wake: map[int64]time.Duration{}, decided: map[int64]*ext.Decision{}, persist: map[int64][]byte{}}
	for id := int64(1); id <= 5; id++ {
		w.restart(id, members, disk(id))
	}
	w.run(10*time.Second, func() bool { return len(w.decided) == 5 })
	for id, d := range w.decided {
		if d.Vote.Leader != 5 {
			t.Fatalf("server %d decided %+v, want leader 5", id, d)
		}
		w.apply(id, w.els[id].Established(w.now, d.State, 2))
	}
	w.restart(5, members, disk(5))
	w.apply(5, w.els[5].Established(w.now, ext.Leading, 2))
	if st, v := w.els[5].State(); st != ext.Leading || v.Leader != 5 {
		t.Fatalf("the resumed leader's election says %v %+v", st, v)
	}
	w.restart(1, members, disk(1))
	w.run(10*time.Second, func() bool { return w.decided[1] != nil })
	if d := w.decided[1]; d.State != ext.Following || d.Vote.Leader != 5 || d.Vote.PeerEpoch != 2 {
		t.Fatalf("the restarted follower decided %+v, want to follow 5 in epoch 2", d)
	}
}
