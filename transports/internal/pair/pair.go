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
	// changed is closed (and replaced) whenever a connection is installed
	// or a dial fails, for Wait.
	changed chan struct{}
	dialErr error
}

type entry struct {
	c    Conn
	turn *link.Turn
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
	addr := st.addr
	m.wg.Add(1)
	m.mu.Unlock()
	go m.dial(peer, addr)
}

func (m *Manager) dial(peer int64, addr ext.PeerAddr) {
	defer m.wg.Done()
	ctx, cancel := context.WithTimeout(m.ctx, m.timeout)
	c, err := m.hooks.Dial(ctx, addr, m.self > peer)
	cancel()
	m.mu.Lock()
	st := m.peers[peer]
	if st != nil {
		st.dialing = false
		if err != nil {
			st.dialErr = err
			close(st.changed)
			st.changed = make(chan struct{})
		}
	}
	m.mu.Unlock()
	if err != nil {
		m.log.Debug("connect failed", "peer", peer, "err", err)
		return
	}
	if c != nil {
		m.Install(peer, c)
	}
}

// Install makes c the connection to peer, replacing (closing) any older
// one, and serves it on a new goroutine. The caller has checked that c
// may survive: c was dialled by the larger sid.
func (m *Manager) Install(peer int64, c Conn) {
	m.mu.Lock()
	st := m.peers[peer]
	if m.closed || st == nil {
		m.mu.Unlock()
		c.Close()
		return
	}
	old := st.cur
	e := &entry{c: c, turn: st.turn.Next()}
	st.turn = e.turn
	st.cur = e
	st.dialErr = nil
	close(st.changed)
	st.changed = make(chan struct{})
	m.wg.Add(1)
	m.mu.Unlock()
	if old != nil {
		old.c.Close()
	}
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
	if st.cur == e {
		st.cur = nil
	}
	closed := m.closed
	m.mu.Unlock()
	if !closed {
		m.hooks.Event(peer, false)
	}
}

func (m *Manager) isCurrent(st *state, e *entry) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.closed && st.cur == e
}

// Wait returns the connection to peer, connecting if needed. It gives up
// when ctx ends or a dial attempt fails.
func (m *Manager) Wait(ctx context.Context, peer int64) (Conn, error) {
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
		}
		changed := st.changed
		m.mu.Unlock()
		m.Ensure(peer)
		select {
		case <-changed:
			m.mu.Lock()
			err := st.dialErr
			m.mu.Unlock()
			if err != nil {
				return nil, err
			}
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
