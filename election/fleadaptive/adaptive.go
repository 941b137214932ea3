// Package fleadaptive is election.fleadaptive: Fast Leader Election whose
// finalize wait follows the measured round-trip time to the peers instead
// of ZooKeeper's fixed 200 ms.
//
// Hypothesis. FLE waits finalizeWait after a quorum backs a proposal, in
// case a better vote is still in flight, and every election takes at
// least that long. On a network whose round trips are a few milliseconds,
// almost all of the 200 ms is spent waiting for nothing. A wait of a few
// round trips (with a floor for servers that start looking a little
// apart) should elect as correctly — no more failed rounds, guard
// step-downs or split decisions — in a fraction of the time. On a slow or
// lossy link the estimate grows and the wait goes back towards 200 ms.
//
// How. Each message is an FLE notification (ZooKeeper's encoding, from
// election/fle) inside an envelope that carries the sender's clock and an
// echo of the receiver's, as TCP timestamps do: every received echo is a
// round-trip sample on the receiver's own clock, so no clocks need to
// agree. Per peer, the samples feed TCP's estimator (RFC 6298: smoothed
// RTT and its variation) and give srtt + 4·rttvar (TCP's retransmission
// timeout: by then an answer is late). An election exchanges few
// messages, so a pair may have no sample of its own; each envelope also
// carries the sender's estimate for the pair, used until there is one.
// The wait is the largest peer's estimate, clamped to [minFinalizeWait,
// maxFinalizeWait], and maxFinalizeWait while no peer has one.
//
// With adaptiveResend (the default) the same value, capped at
// minNotificationInterval, is also the first re-send interval of each
// round. A server's first notifications can reach peers that have not yet
// noticed that the leader is gone; those answer but do not count them as
// votes, and FLE re-sends only after that interval of silence, which
// otherwise adds 200 ms to many elections.
//
// The algorithm itself is FLE's, unchanged: the instance wraps an
// fle.Election and only sets its timers before each call.
//
// The envelope makes the variant's messages unreadable to FLE and the
// other way round (ext.ErrBadNotification), so the two never mix in one
// ensemble; transports that announce the algorithm refuse the peer
// earlier.
package fleadaptive

import (
	"math/rand/v2"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// maxSample bounds one round-trip sample; anything longer is a garbled
// echo or a peer that was stopped, and the wait is capped far below it.
const maxSample = time.Minute

// inner is what the variant needs from the FLE instance it wraps.
type inner interface {
	ext.Election
	SetFinalizeWait(time.Duration)
	SetMinNotificationInterval(time.Duration)
}

// peerClock is what one peer's messages taught about it.
type peerClock struct {
	// The newest clock reading received from the peer, to echo.
	nonce  uint32
	sent   time.Duration
	recvAt time.Duration
	// RFC 6298 estimator; sampled says srtt and rttvar are set.
	sampled      bool
	srtt, rttvar time.Duration
	// told is the peer's own estimate for the pair (0: none).
	told time.Duration
}

// rto is the estimate for the pair: measured here, else the peer's.
func (p *peerClock) rto() time.Duration {
	if p.sampled {
		return p.srtt + 4*p.rttvar
	}
	return p.told
}

// Election is one server's instance. Like every ext.Election it is not
// safe for concurrent use.
type Election struct {
	opts  Options
	fle   inner
	nonce uint32
	peers map[int64]*peerClock // members only
}

var _ ext.Election = (*Election)(nil)

func newElection(opts Options, cfg ext.ElectionConfig) (*Election, error) {
	fcfg := cfg
	fcfg.Options = nil // decoded into opts already
	f := opts.fle()
	el, err := f.NewElection(fcfg)
	if err != nil {
		return nil, err
	}
	in, ok := el.(inner)
	if !ok {
		return nil, ErrConfig // fle.Election always has SetFinalizeWait
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xada97))
	e := &Election{opts: opts, fle: in, nonce: rng.Uint32() | 1, peers: map[int64]*peerClock{}}
	for _, m := range cfg.Members {
		if m.ID != cfg.Self {
			e.peers[m.ID] = &peerClock{}
		}
	}
	return e, nil
}

// Start begins a round as FLE does, with the adaptive timers.
func (e *Election) Start(now time.Duration, r ext.RoundStart) ext.ElectionOutput {
	e.adapt()
	return e.wrap(now, e.fle.Start(now, r))
}

// adapt hands the current estimate to FLE: the finalize wait and, with
// AdaptiveResend, the re-send interval (which FLE also shortens in the
// round under way, so a server that started before it had a sample does
// not keep the long one).
func (e *Election) adapt() {
	w := e.FinalizeWait()
	e.fle.SetFinalizeWait(w)
	if e.opts.AdaptiveResend {
		e.fle.SetMinNotificationInterval(min(w, e.opts.MinNotificationInterval))
	}
}

// Step takes the round-trip sample a message carries, sets the wait, and
// hands the notification to FLE. Messages that are not this variant's
// are dropped.
func (e *Election) Step(now time.Duration, from int64, msg []byte) ext.ElectionOutput {
	env, _, err := Decode(msg)
	if err != nil {
		// Dropped. The host wants the timer back: a Tick is harmless at
		// any time (FLE acts only on deadlines that have passed).
		return e.wrap(now, e.fle.Tick(now))
	}
	if p := e.peers[from]; p != nil {
		if env.EchoNonce == e.nonce {
			p.sample(now - env.Echo - env.Held)
		}
		p.nonce, p.sent, p.recvAt = env.Nonce, env.Sent, now
		if env.RTO > 0 {
			p.told = min(env.RTO, maxSample)
		}
	}
	e.adapt()
	return e.wrap(now, e.fle.Step(now, from, env.Notification))
}

// Tick runs FLE's timers.
func (e *Election) Tick(now time.Duration) ext.ElectionOutput { return e.wrap(now, e.fle.Tick(now)) }

// Established is FLE's.
func (e *Election) Established(now time.Duration, state ext.PeerState, epoch int64) ext.ElectionOutput {
	return e.wrap(now, e.fle.Established(now, state, epoch))
}

// State is FLE's.
func (e *Election) State() (ext.PeerState, ext.Vote) { return e.fle.State() }

// FinalizeWait is the wait the next finalize would use: the largest
// peer's estimate, clamped; MaxFinalizeWait while there is none.
func (e *Election) FinalizeWait() time.Duration {
	var rto time.Duration
	for _, p := range e.peers {
		rto = max(rto, p.rto())
	}
	if rto == 0 {
		return e.opts.MaxFinalizeWait
	}
	return min(max(rto, e.opts.MinFinalizeWait), e.opts.MaxFinalizeWait)
}

// sample feeds one round trip to the peer's estimator (RFC 6298 §2).
func (p *peerClock) sample(r time.Duration) {
	if r < 0 {
		return // a garbled echo
	}
	r = min(r, maxSample)
	if !p.sampled {
		p.srtt, p.rttvar, p.sampled = r, r/2, true
		return
	}
	dev := p.srtt - r
	if dev < 0 {
		dev = -dev
	}
	p.rttvar = (3*p.rttvar + dev) / 4
	p.srtt = (7*p.srtt + r) / 8
}

// wrap puts every outgoing notification in an envelope with this
// server's clock and the echo of the recipient's.
func (e *Election) wrap(now time.Duration, out ext.ElectionOutput) ext.ElectionOutput {
	for i, o := range out.Send {
		env := Envelope{Nonce: e.nonce, Sent: now, Notification: o.Data}
		if p := e.peers[o.To]; p != nil {
			if p.nonce != 0 {
				env.EchoNonce, env.Echo, env.Held = p.nonce, p.sent, now-p.recvAt
			}
			if p.sampled {
				env.RTO = p.rto()
			}
		}
		out.Send[i].Data = env.Encode()
	}
	return out
}
