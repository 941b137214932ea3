// Package base is the part of a socket transport that does not depend on
// its wire format: the member table, Send's routing rules, the succession
// of a peer's ZAB links and their Up/Down events, Disconnect, SetPeers,
// Close, the accept loop and the election connection's reader and writer.
// transport.tcp and transport.yamux supply only their handshakes and
// framing.
package base

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/transports/internal/link"
	"github.com/zabkit/zabkit/transports/internal/pair"
)

// ErrClosed is returned by Send before Start and after Close.
var ErrClosed = errors.New("transport: closed")

// ErrMessageSize is returned for an empty election message or one over
// 512 KiB, which a ZooKeeper peer would drop the connection for.
var ErrMessageSize = errors.New("transport: election message size out of range")

// Link is one ZAB link (ChanBroadcast and ChanBulk) to a peer.
type Link interface {
	// Push queues msgs on ch without blocking (ext.ErrBackpressure).
	Push(ch ext.Channel, msgs [][]byte) error
	// Close ends the link at once on this side.
	Close()
	Closed() bool
}

// Peer is what a transport keeps per member.
type Peer struct {
	ID   int64
	Addr ext.PeerAddr
	// Vote is the election send queue (newest only). It outlives
	// connections, like QuorumCnxManager's queueSendMap.
	Vote *link.Queue

	link  Link // current ZAB link (guarded by Base.mu)
	order uint64
	turn  *link.Turn
}

// Hooks are what a transport plugs into a Base.
type Hooks struct {
	// Pair dials, serves and announces election connections (or
	// sessions); Base supplies Event.
	Pair pair.Hooks
	// NewLearner returns a new link to p with msgs (FOLLOWERINFO or
	// OBSERVERINFO first) queued. It must not block: Base holds its lock.
	NewLearner func(p *Peer, msgs [][]byte) Link
	// Connect sets up a learner's link (dial, open streams); Serve runs a
	// link until it ends. Both run on the link's own goroutine.
	Connect func(p *Peer, l Link) error
	Serve   func(p *Peer, l Link)
	// ClosedErrs are the transport library's ordinary ends of a
	// connection, logged quietly.
	ClosedErrs []error
}

// Base implements most of ext.Transport; see the package doc.
type Base struct {
	Log   *slog.Logger
	Self  int64
	Me    ext.PeerAddr
	Pairs *pair.Manager
	// Ctx ends at Close.
	Ctx context.Context

	inbox     ext.Inbox
	hooks     Hooks
	cancel    context.CancelFunc
	listeners []net.Listener

	mu      sync.Mutex
	peers   map[int64]*Peer
	pending map[net.Conn]struct{}
	started bool
	closed  bool
	wg      sync.WaitGroup
}

// Start checks cfg, binds this server's addresses with listen, and sets
// the base up. listen returns the listeners to close at Close.
func (b *Base) Start(ctx context.Context, cfg ext.TransportConfig, inbox ext.Inbox, log *slog.Logger,
	timeout time.Duration, hooks Hooks, listen func(ctx context.Context, me ext.PeerAddr) ([]net.Listener, error)) error {
	me, others, err := link.Members(cfg.Self, cfg.Peers)
	if err != nil {
		return err
	}
	if me == nil {
		return fmt.Errorf("%w (server %d)", link.ErrNotListed, cfg.Self)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return errors.New("transport: started twice")
	}
	lns, err := listen(ctx, *me)
	if err != nil {
		return err
	}
	b.started = true
	b.Self, b.Me, b.inbox, b.hooks, b.listeners = cfg.Self, *me, inbox, hooks, lns
	b.Log = log.With("sid", cfg.Self)
	b.Ctx, b.cancel = context.WithCancel(context.Background())
	b.pending = map[net.Conn]struct{}{}
	b.peers = map[int64]*Peer{}
	hooks.Pair.Event = func(p int64, up bool) { b.Event(p, ext.ChanElection, up) }
	b.Pairs = pair.New(cfg.Self, timeout, b.Log, hooks.Pair)
	b.setPeersLocked(others)
	return nil
}

// Send routes msgs to peer `to`; see ext.Transport. Election messages go
// to the peer's newest-only queue; a FOLLOWERINFO/OBSERVERINFO opens a new
// link; other broadcast and bulk messages need a live link.
func (b *Base) Send(to int64, ch ext.Channel, msgs [][]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	b.mu.Lock()
	if b.closed || !b.started {
		b.mu.Unlock()
		return ErrClosed
	}
	p := b.peers[to]
	if p == nil {
		b.mu.Unlock()
		return fmt.Errorf("%w: %d", ext.ErrUnknownPeer, to)
	}
	switch ch {
	case ext.ChanElection:
		b.mu.Unlock()
		for _, m := range msgs {
			if len(m) == 0 || len(m) > link.ElectionFrameMax {
				return fmt.Errorf("%w: %d bytes", ErrMessageSize, len(m))
			}
		}
		p.Vote.Push(msgs...)
		b.Pairs.Ensure(to)
		return nil
	case ext.ChanBroadcast, ext.ChanBulk:
		if ch == ext.ChanBroadcast && link.IsHello(msgs[0]) {
			l := b.hooks.NewLearner(p, msgs)
			old, turn := b.installLocked(p, l, b.Pairs.NextOrder())
			b.mu.Unlock()
			if old != nil {
				old.Close()
			}
			go b.run(p, l, turn, b.hooks.Connect)
			return nil
		}
		l := p.link
		b.mu.Unlock()
		if l == nil || l.Closed() {
			return fmt.Errorf("%w: %d on %v", ext.ErrNoRoute, to, ch)
		}
		return l.Push(ch, msgs)
	}
	b.mu.Unlock()
	return fmt.Errorf("transport: unknown channel %d", ch)
}

// Accepted installs a link a learner opened to us, unless a newer one
// (by pair.Manager.NextOrder) is already there, and serves it.
func (b *Base) Accepted(p *Peer, l Link, order uint64) bool {
	b.mu.Lock()
	if b.closed || b.peers[p.ID] != p || (p.link != nil && p.order > order) {
		b.mu.Unlock()
		l.Close()
		return false
	}
	old, turn := b.installLocked(p, l, order)
	b.mu.Unlock()
	if old != nil {
		old.Close()
	}
	go b.run(p, l, turn, nil)
	return true
}

// installLocked makes l p's link and returns the one it replaces and l's
// turn. The caller starts run.
func (b *Base) installLocked(p *Peer, l Link, order uint64) (Link, *link.Turn) {
	old := p.link
	turn := p.turn.Next()
	p.turn, p.link, p.order = turn, l, order
	b.wg.Add(1)
	return old, turn
}

// run is a link's goroutine: connect (a learner's), wait for the previous
// link's Down, announce Up, serve, announce Down. A learner whose connect
// fails gets a Down without an Up, so it learns at once that its
// FOLLOWERINFO went nowhere.
func (b *Base) run(p *Peer, l Link, turn *link.Turn, connect func(*Peer, Link) error) {
	defer b.wg.Done()
	defer turn.End()
	var err error
	if connect != nil {
		err = connect(p, l)
	}
	if !turn.Wait(b.Ctx.Done()) {
		l.Close()
		return
	}
	b.mu.Lock()
	current := p.link == l && !b.closed
	b.mu.Unlock()
	if err != nil || !current || l.Closed() {
		if err != nil {
			b.Log.Info("could not open a link to the leader", "peer", p.ID, "err", err)
		}
		if b.release(p, l) {
			b.Event(p.ID, ext.ChanBroadcast, false)
		}
		return
	}
	b.Event(p.ID, ext.ChanBroadcast, true)
	b.hooks.Serve(p, l)
	b.release(p, l)
	b.Event(p.ID, ext.ChanBroadcast, false)
}

// release closes l and clears it as p's link; it reports whether it was.
func (b *Base) release(p *Peer, l Link) bool {
	l.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.link == l {
		p.link = nil
		return !b.closed
	}
	return false
}

// Peer returns member id, or nil.
func (b *Base) Peer(id int64) *Peer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peers[id]
}

// LinkOf returns p's current link, or nil.
func (b *Base) LinkOf(p *Peer) Link {
	b.mu.Lock()
	defer b.mu.Unlock()
	return p.link
}

// Disconnect drops the link to peer on ch (ChanBroadcast and ChanBulk are
// one link; ChanElection is the election connection).
func (b *Base) Disconnect(peer int64, ch ext.Channel) {
	b.mu.Lock()
	var l Link
	if p := b.peers[peer]; p != nil && ch != ext.ChanElection {
		l = p.link
	}
	pairs := b.Pairs
	b.mu.Unlock()
	if ch == ext.ChanElection && pairs != nil {
		pairs.Drop(peer)
	}
	if l != nil {
		l.Close()
	}
}

// SetPeers replaces the member list; links to removed peers close.
func (b *Base) SetPeers(peers []ext.PeerAddr) error {
	_, others, err := link.Members(b.Self, peers)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if !b.started || b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	drop := b.setPeersLocked(others)
	b.mu.Unlock()
	for _, l := range drop {
		l.Close()
	}
	return nil
}

func (b *Base) setPeersLocked(others map[int64]ext.PeerAddr) (drop []Link) {
	for id, p := range b.peers {
		if _, ok := others[id]; !ok {
			if p.link != nil {
				drop = append(drop, p.link)
			}
			delete(b.peers, id)
		}
	}
	for id, a := range others {
		if p, ok := b.peers[id]; ok {
			p.Addr = a
			continue
		}
		b.peers[id] = &Peer{ID: id, Addr: a, Vote: link.NewSlot(), turn: link.FirstTurn()}
	}
	b.Pairs.SetPeers(others)
	return drop
}

// Close stops listening, closes every connection and waits for the
// goroutines: the inbox hears nothing after Close returns.
func (b *Base) Close() error {
	b.mu.Lock()
	if b.closed || !b.started {
		b.closed = true
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.cancel()
	var links []Link
	for _, p := range b.peers {
		if p.link != nil {
			links = append(links, p.link)
		}
	}
	for c := range b.pending {
		c.Close()
	}
	b.mu.Unlock()
	for _, ln := range b.listeners {
		ln.Close()
	}
	for _, l := range links {
		l.Close()
	}
	b.Pairs.Close()
	b.wg.Wait()
	return nil
}

// IsClosed reports whether Close was called.
func (b *Base) IsClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Event announces an Up or Down, unless the transport is closing.
func (b *Base) Event(p int64, ch ext.Channel, up bool) {
	if b.IsClosed() {
		return
	}
	b.inbox.PeerChanged(ext.PeerEvent{Peer: p, Channel: ch, Up: up})
}

// Deliver hands a message to the inbox.
func (b *Base) Deliver(from int64, ch ext.Channel, data []byte) {
	b.inbox.Deliver(ext.Message{From: from, Channel: ch, Data: data})
}

// Go runs f on a goroutine Close waits for; false if closing.
func (b *Base) Go(f func()) bool {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false
	}
	b.wg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.wg.Done()
		f()
	}()
	return true
}

// Accept runs an accept loop on ln: each connection is numbered
// (pair.Manager.NextOrder) and handled on its own goroutine; Close closes
// connections still in their handshake (until Handshaken).
func (b *Base) Accept(ln net.Listener, handle func(c net.Conn, order uint64)) {
	b.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					b.Log.Warn("accept failed", "addr", ln.Addr(), "err", err)
				}
				return
			}
			b.mu.Lock()
			closed := b.closed
			if !closed {
				b.pending[c] = struct{}{}
			}
			b.mu.Unlock()
			order := b.Pairs.NextOrder()
			if closed || !b.Go(func() { handle(c, order) }) {
				c.Close()
				return
			}
		}
	})
}

// Handshaken takes c out of the pending set; false (and c closed) if the
// transport is closing.
func (b *Base) Handshaken(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.pending, c)
	if b.closed {
		c.Close()
		return false
	}
	return true
}

// ServeElection runs an election connection to sid: a writer draining the
// peer's vote queue to w (re-sending the last vote first) and this
// goroutine reading frames from r into the inbox. stop closes the
// connection; done closes with it.
func (b *Base) ServeElection(sid int64, w io.Writer, r *bufio.Reader, done <-chan struct{}, stop func()) {
	p := b.Peer(sid)
	if p == nil {
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := link.Pump(bufio.NewWriterSize(w, IOBuffer), p.Vote, true, true, done); err != nil {
			b.Log.Debug("election write failed", "peer", sid, "err", err)
		}
		stop()
	}()
	for {
		m, err := link.ReadFrame(r, link.ElectionFrameMax)
		if err != nil {
			if !IsClosedErr(err, b.hooks.ClosedErrs...) {
				b.Log.Info("election connection lost", "peer", sid, "err", err)
			}
			break
		}
		b.Deliver(sid, ext.ChanElection, m)
	}
	stop()
	wg.Wait()
}

// IOBuffer is the size of socket read and write buffers.
const IOBuffer = 64 << 10

// Defaults of the options every socket transport has (their meaning is
// documented on each transport's Options).
const (
	DefaultConnectTimeout = 5 * time.Second // zookeeper.cnxTimeout
	DefaultSendQueue      = 10000
	DefaultSendQueueBytes = 64 << 20
	DefaultMaxBuffer      = 0xfffff // jute.maxbuffer
	DefaultBulkChunk      = 64 << 10
)

// Or sets *v to d unless it is positive.
func Or[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// CommonDefaults fills in the options every socket transport has.
func CommonDefaults(connect *time.Duration, queue, queueBytes, maxBuf, chunk *int, log **slog.Logger) {
	Or(connect, DefaultConnectTimeout)
	Or(queue, DefaultSendQueue)
	Or(queueBytes, DefaultSendQueueBytes)
	Or(maxBuf, DefaultMaxBuffer)
	Or(chunk, DefaultBulkChunk)
	if *log == nil {
		*log = slog.Default()
	}
}

// closedErrs are the ordinary ends of a connection, not worth a warning;
// transports add their library's.
var closedErrs = []error{io.EOF, net.ErrClosed}

// IsClosedErr is true for the ordinary ends of a connection.
func IsClosedErr(err error, more ...error) bool {
	if err == nil {
		return true
	}
	for _, e := range append(closedErrs, more...) {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
