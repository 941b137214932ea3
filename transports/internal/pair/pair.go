// Package pair keeps one connection per pair of servers the way
// ZooKeeper's QuorumCnxManager does: only a connection dialled by the
// larger sid survives. A server that needs a connection to a larger peer
// "pokes" it (dials, says who it is, and hangs up); the larger peer then
// dials back. Because only one side ever establishes the connection, two
// servers that want each other at the same moment (every election start)
// cannot end up with two connections or close each other's.
//
// transport.tcp uses it for the election port, transport.yamux for its
// one multiplexed session per pair.
package pair

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/transports/internal/link"
)

// Conn is one established connection.
type Conn interface{ Close() error }

// Hooks are what a transport plugs into a Manager.
type Hooks struct {
	// Dial connects to peer and runs the initiator's side of the
	// handshake. keep is true when this server is the larger sid: the
	// connection is returned and kept. Otherwise Dial pokes the peer,
	// closes, and returns nil: the peer is expected to dial back.
	Dial func(ctx context.Context, peer ext.PeerAddr, keep bool) (Conn, error)
	// Serve runs an installed connection until it ends (it must return
	// once c is closed). The inbox has had the Up event.
	Serve func(peer int64, c Conn)
	// Event announces that the connection to peer came up or went down.
	Event func(peer int64, up bool)
}

// Manager keeps the connections to a set of peers.
type Manager struct {
	self    int64
	hooks   Hooks
	timeout time.Duration
	log     *slog.Logger

	// ctx ends at Close; it bounds dials and turn waits.
	ctx    context.Context
	cancel context.CancelFunc

	order atomic.Uint64

	mu     sync.Mutex
	peers  map[int64]*state
	closed bool
	wg     sync.WaitGroup
}

type state struct {
	addr    ext.PeerAddr
	cur     *entry
	turn    *link.Turn
	dialing bool
	// redial asks for a new connection as soon as the current one is gone.
	redial bool
	// attempts counts dials started; done is the number of the last one
	// that finished, with its error. Wait uses them to tell its own
	// attempts from one started before it (say, a poke to a peer that has
	// since restarted), whose outcome says nothing.
	attempts, done uint64
	doneErr        error
	// changed is closed (and replaced) whenever a connection is installed
	// or a dial finishes, for Wait.
	changed chan struct{}
}

type entry struct {
	c     Conn
	order uint64
	turn  *link.Turn
}

// New returns a manager for server self. timeout bounds each dial and
// handshake.
func New(self int64, timeout time.Duration, log *slog.Logger, hooks Hooks) *Manager {
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{self: self, hooks: hooks, timeout: timeout, log: log,
		peers: map[int64]*state{}, ctx: ctx, cancel: cancel}
}

// ErrClosed is returned once the manager is closed.
var ErrClosed = errors.New("pair: closed")

// SetPeers replaces the member list. Connections to removed peers close
// (their Down events follow); changed addresses apply to the next dial.
func (m *Manager) SetPeers(peers map[int64]ext.PeerAddr) {
	m.mu.Lock()
	var drop []Conn
	for id, st := range m.peers {
		if _, ok := peers[id]; !ok {
			if st.cur != nil {
				drop = append(drop, st.cur.c)
			}
			delete(m.peers, id)
		}
	}
	for id, a := range peers {
		if st, ok := m.peers[id]; ok {
			st.addr = a
			continue
		}
		m.peers[id] = &state{addr: a, turn: link.FirstTurn(), changed: make(chan struct{})}
	}
	m.mu.Unlock()
	for _, c := range drop {
		c.Close()
	}
}

// Known reports whether id is a peer.
func (m *Manager) Known(id int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.peers[id]
	return ok
}

// Current returns the live connection to peer, or nil.
func (m *Manager) Current(peer int64) Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.peers[peer]; st != nil && st.cur != nil {
		return st.cur.c
	}
	return nil
}

// Ensure starts connecting to peer unless a connection exists or an
// attempt is under way. It never blocks.
func (m *Manager) Ensure(peer int64) {
	m.mu.Lock()
	st := m.peers[peer]
	if m.closed || st == nil || st.cur != nil || st.dialing {
		m.mu.Unlock()
		return
	}
	st.dialing = true
	st.attempts++
	n, addr := st.attempts, st.addr
	m.log.Debug("connecting", "peer", peer, "keep", m.self > peer)
	m.wg.Add(1)
	m.mu.Unlock()
	go m.dial(peer, addr, n)
}

func (m *Manager) dial(peer int64, addr ext.PeerAddr, attempt uint64) {
	defer m.wg.Done()
	order := m.NextOrder()
	ctx, cancel := context.WithTimeout(m.ctx, m.timeout)
	c, err := m.hooks.Dial(ctx, addr, m.self > peer)
	cancel()
	m.mu.Lock()
	if st := m.peers[peer]; st != nil {
		st.dialing = false
		st.done, st.doneErr = attempt, err
		st.signal()
	}
	m.mu.Unlock()
	if err != nil {
		m.log.Debug("connect failed", "peer", peer, "err", err)
		return
	}
	if c != nil {
		m.Install(peer, c, order)
	}
}

// NextOrder numbers a connection as it is accepted (or dialled), before
// its handshake is read. Handshakes run concurrently and may finish out of
// order; Install uses the number so that an older connection never
// replaces a newer one from the same peer.
func (m *Manager) NextOrder() uint64 { return m.order.Add(1) }

// Redial answers a poke: the smaller peer has no connection to us, so
// old (the connection we have; nil: whatever is current) is dead on its
// side. Close it (ZooKeeper shuts its SendWorker down the same way) and
// dial anew once it is gone. A newer connection than old is left alone.
func (m *Manager) Redial(peer int64, old Conn) {
	m.mu.Lock()
	st := m.peers[peer]
	if st == nil || st.cur == nil {
		m.mu.Unlock()
		m.Ensure(peer)
		return
	}
	if old != nil && st.cur.c != old {
		m.mu.Unlock()
		return
	}
	st.redial = true
	c := st.cur.c
	m.mu.Unlock()
	m.log.Debug("poked while connected; reconnecting", "peer", peer)
	c.Close()
}

// Install makes c the connection to peer, replacing (closing) any older
// one, and serves it on a new goroutine. The caller has checked that c
// may survive: c was dialled by the larger sid. order is c's NextOrder; a
// connection older than the current one is closed instead.
func (m *Manager) Install(peer int64, c Conn, order uint64) {
	m.mu.Lock()
	st := m.peers[peer]
	if m.closed || st == nil || (st.cur != nil && st.cur.order > order) {
		m.mu.Unlock()
		c.Close()
		return
	}
	old := st.cur
	e := &entry{c: c, order: order, turn: st.turn.Next()}
	st.turn = e.turn
	st.cur = e
	st.signal()
	m.wg.Add(1)
	m.mu.Unlock()
	if old != nil {
		old.c.Close()
	}
	m.log.Debug("connection installed", "peer", peer, "replaced", old != nil)
	go m.serve(peer, st, e)
}

func (m *Manager) serve(peer int64, st *state, e *entry) {
	defer m.wg.Done()
	defer e.turn.End()
	defer e.c.Close()
	if !e.turn.Wait(m.ctx.Done()) {
		return
	}
	if !m.isCurrent(st, e) {
		return
	}
	m.hooks.Event(peer, true)
	m.hooks.Serve(peer, e.c)
	m.mu.Lock()
	redial := false
	if st.cur == e {
		st.cur = nil
		redial, st.redial = st.redial, false
	}
	closed := m.closed
	m.mu.Unlock()
	if !closed {
		m.hooks.Event(peer, false)
	}
	if redial {
		m.Ensure(peer)
	}
}

func (m *Manager) isCurrent(st *state, e *entry) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.closed && st.cur == e
}

// signal wakes the Waits on st; the caller holds m.mu.
func (st *state) signal() {
	close(st.changed)
	st.changed = make(chan struct{})
}

// Wait returns the connection to peer, connecting if needed. It gives up
// when ctx ends or a dial it started fails. After a poke it waits for the
// peer to dial back, poking again now and then: a peer that restarted may
// have lost the first one.
func (m *Manager) Wait(ctx context.Context, peer int64) (Conn, error) {
	m.mu.Lock()
	var start uint64
	if st := m.peers[peer]; st != nil {
		start = st.attempts
	}
	m.mu.Unlock()
	backoff := 20 * time.Millisecond
	for {
		m.mu.Lock()
		st := m.peers[peer]
		switch {
		case m.closed:
			m.mu.Unlock()
			return nil, ErrClosed
		case st == nil:
			m.mu.Unlock()
			return nil, fmt.Errorf("%w: %d", ext.ErrUnknownPeer, peer)
		case st.cur != nil:
			c := st.cur.c
			m.mu.Unlock()
			return c, nil
		case st.done > start && st.doneErr != nil:
			err := st.doneErr
			m.mu.Unlock()
			return nil, err
		}
		poked := st.done > start && !st.dialing
		changed := st.changed
		m.mu.Unlock()
		if poked {
			select {
			case <-changed:
				continue
			case <-time.After(backoff):
				backoff = min(2*backoff, time.Second)
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-m.ctx.Done():
				return nil, ErrClosed
			}
			m.mu.Lock()
			changed = st.changed
			m.mu.Unlock()
		}
		m.Ensure(peer)
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-m.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// Drop closes the connection to peer, if any; its Down event follows.
func (m *Manager) Drop(peer int64) {
	if c := m.Current(peer); c != nil {
		c.Close()
	}
}

// Close closes every connection and waits for the goroutines; no event is
// announced after Close returns.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.wg.Wait()
		return
	}
	m.closed = true
	m.cancel()
	var all []Conn
	for _, st := range m.peers {
		if st.cur != nil {
			all = append(all, st.cur.c)
		}
	}
	m.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
	m.wg.Wait()
}
