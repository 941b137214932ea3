package mem

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/transports/internal/link"
)

// Options tune a transport.
type Options struct {
	// SendQueue bounds the undelivered broadcast and bulk messages from
	// this transport to one peer before Send returns ext.ErrBackpressure.
	// Default 10000.
	SendQueue int
}

// DefaultSendQueue is SendQueue's default.
const DefaultSendQueue = 10000

// Errors of this transport besides ext's.
var (
	// ErrAddrInUse means another started transport on the network has
	// the same server id (its "address").
	ErrAddrInUse = errors.New("mem: server id already attached to the network")
	// ErrClosed is returned by Send after Close (or before Start).
	ErrClosed = errors.New("mem: transport closed")
)

// Transport is one server's attachment to a Network. A server's id is its
// address: the addresses in PeerAddr are ignored.
type Transport struct {
	net  *Network
	opts Options

	// Guarded by net.mu.
	self    int64
	inbox   ext.Inbox
	peers   map[int64]bool
	started bool
	closed  bool
}

// NewTransport returns an unstarted transport on n.
func (n *Network) NewTransport(opts Options) *Transport {
	if opts.SendQueue <= 0 {
		opts.SendQueue = DefaultSendQueue
	}
	return &Transport{net: n, opts: opts}
}

// Start attaches the transport to its network as cfg.Self.
func (t *Transport) Start(_ context.Context, cfg ext.TransportConfig, inbox ext.Inbox) error {
	me, others, err := link.Members(cfg.Self, cfg.Peers)
	if err != nil {
		return err
	}
	if me == nil {
		return fmt.Errorf("%w (server %d)", link.ErrNotListed, cfg.Self)
	}
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if t.started {
		return errors.New("mem: started twice")
	}
	if n.nodes[cfg.Self] != nil {
		return fmt.Errorf("%w: %d", ErrAddrInUse, cfg.Self)
	}
	t.started = true
	t.self, t.inbox = cfg.Self, inbox
	t.peers = peerSet(others)
	n.nodes[cfg.Self] = t
	return nil
}

func peerSet(others map[int64]ext.PeerAddr) map[int64]bool {
	s := make(map[int64]bool, len(others))
	for id := range others {
		s[id] = true
	}
	return s
}

// Send queues msgs for peer `to`; see ext.Transport.
func (t *Transport) Send(to int64, ch ext.Channel, msgs ...[]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	n := t.net
	n.mu.Lock()
	var err error
	switch {
	case !t.started || t.closed:
		err = ErrClosed
	case !t.peers[to]:
		err = fmt.Errorf("%w: %d", ext.ErrUnknownPeer, to)
	default:
		err = n.sendLocked(t, to, ch, msgs)
	}
	n.mu.Unlock()
	n.kick()
	return err
}

// Disconnect breaks the link to peer on ch (ChanBulk and ChanBroadcast
// share the quorum link). Both ends get Down.
func (t *Transport) Disconnect(peer int64, ch ext.Channel) {
	kind := quorumLink
	if ch == ext.ChanElection {
		kind = electionLink
	}
	n := t.net
	n.mu.Lock()
	if t.started && !t.closed {
		if l := n.linkLocked(kind, t.self, peer); l != nil {
			n.breakLocked(l)
		}
	}
	n.mu.Unlock()
	n.kick()
}

// SetPeers replaces the member list; links to removed peers break.
func (t *Transport) SetPeers(peers []ext.PeerAddr) error {
	n := t.net
	_, others, err := link.Members(t.self, peers)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.kick()
	defer n.mu.Unlock()
	if !t.started || t.closed {
		return ErrClosed
	}
	var removed []int64
	for id := range t.peers {
		if _, ok := others[id]; !ok {
			removed = append(removed, id)
		}
	}
	n.breakAllLocked(t.self, false, removed...)
	t.peers = peerSet(others)
	return nil
}

// Close detaches the transport: its links break (the peers get Down) and
// nothing more reaches its inbox. Close is idempotent.
func (t *Transport) Close() error {
	n := t.net
	n.mu.Lock()
	if !t.started || t.closed {
		t.closed = true
		n.mu.Unlock()
		return nil
	}
	t.closed = true
	n.breakAllLocked(t.self, true)
	delete(n.nodes, t.self)
	for k := range n.queues {
		if k.to == t.self {
			delete(n.queues, k)
		}
	}
	for k := range n.votes {
		if k.from == t.self || k.to == t.self {
			delete(n.votes, k)
		}
	}
	n.mu.Unlock()
	n.kick()
	return nil
}

var (
	sharedMu sync.Mutex
	shared   = map[string]*Network{}
)

// Shared returns the process-wide automatic network called name, creating
// it on first use. transport.mem modules started with the same network
// name reach each other, so several servers can run in one process.
func Shared(name string) *Network {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	n := shared[name]
	if n == nil {
		n = NewNetwork()
		shared[name] = n
	}
	return n
}
