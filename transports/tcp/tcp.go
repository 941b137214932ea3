package tcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/transports/internal/link"
	"github.com/zabkit/zabkit/transports/internal/pair"
)

// Options tune the transport. Zero values take the defaults below.
type Options struct {
	// ConnectTimeout bounds a dial plus handshake (zookeeper.cnxTimeout,
	// 5 s). Shorter notices a dead peer sooner; too short fails on a
	// loaded network.
	ConnectTimeout time.Duration
	// SendQueue bounds the messages queued per peer on the quorum port
	// (broadcast and bulk together) before Send returns
	// ext.ErrBackpressure. Default 10000.
	SendQueue int
	// SendQueueBytes bounds the bytes queued per peer the same way.
	// Default 64 MiB. A single larger message is still accepted into an
	// empty queue.
	SendQueueBytes int
	// MaxBuffer is jute.maxbuffer. A length prefix in a QuorumPacket or a
	// streamed snapshot may be up to twice this, like ZooKeeper's
	// maxbuffer + extrasize; beyond that the connection is dropped.
	// Default 0xfffff.
	MaxBuffer int
	// BulkChunk is the largest ChanBulk message cut from a received
	// snapshot stream. Default 64 KiB, minimum 128.
	BulkChunk int
	Logger    *slog.Logger
}

// Defaults.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultSendQueue      = 10000
	DefaultSendQueueBytes = 64 << 20
	DefaultMaxBuffer      = 0xfffff
	DefaultBulkChunk      = 64 << 10
	minBulkChunk          = 128
	ioBuffer              = 64 << 10
)

func (o *Options) setDefaults() {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.SendQueue <= 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.SendQueueBytes <= 0 {
		o.SendQueueBytes = DefaultSendQueueBytes
	}
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = DefaultMaxBuffer
	}
	if o.BulkChunk <= 0 {
		o.BulkChunk = DefaultBulkChunk
	}
	o.BulkChunk = max(o.BulkChunk, minBulkChunk)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Errors of this transport besides ext's.
var (
	// ErrClosed is returned by Send after Close.
	ErrClosed = errors.New("tcp: transport closed")
	// ErrMessageSize is returned for an election message that is empty or
	// larger than 512 KiB, which a ZooKeeper peer would drop the
	// connection for.
	ErrMessageSize = errors.New("tcp: election message size out of range")
)

// Transport speaks Apache ZooKeeper 3.8's election and quorum protocols.
type Transport struct {
	opts Options
	log  *slog.Logger

	self     int64
	me       ext.PeerAddr
	inbox    ext.Inbox
	elecLn   net.Listener
	quorumLn net.Listener
	elec     *pair.Manager
	ctx      context.Context
	cancel   context.CancelFunc

	mu      sync.Mutex
	peers   map[int64]*peer
	pending map[net.Conn]struct{} // accepted, still in their handshake
	started bool
	closed  bool
	wg      sync.WaitGroup
}

// peer is what the transport keeps per member.
type peer struct {
	id   int64
	addr ext.PeerAddr
	// vote is the election send queue (newest only). It outlives
	// connections, like QuorumCnxManager's queueSendMap.
	vote *link.Queue
	// ql is the current quorum-port link (either direction), nil if none.
	ql   *qlink
	turn *link.Turn
}

// New returns an unstarted transport.
func New(opts Options) *Transport {
	opts.setDefaults()
	return &Transport{opts: opts, log: opts.Logger}
}

// Start binds the election and quorum ports of this server's entry in
// cfg.Peers and begins accepting.
func (t *Transport) Start(ctx context.Context, cfg ext.TransportConfig, inbox ext.Inbox) error {
	me, others, err := link.Members(cfg.Self, cfg.Peers)
	if err != nil {
		return err
	}
	if me == nil {
		return fmt.Errorf("%w (server %d)", link.ErrNotListed, cfg.Self)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return errors.New("tcp: started twice")
	}
	var lc net.ListenConfig
	eln, err := lc.Listen(ctx, "tcp", me.ElectionAddr)
	if err != nil {
		return fmt.Errorf("tcp: election port: %w", err)
	}
	qln, err := lc.Listen(ctx, "tcp", me.QuorumAddr)
	if err != nil {
		eln.Close()
		return fmt.Errorf("tcp: quorum port: %w", err)
	}
	t.started = true
	t.self, t.me, t.inbox = cfg.Self, *me, inbox
	t.elecLn, t.quorumLn = eln, qln
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.log = t.log.With("sid", cfg.Self)
	t.pending = map[net.Conn]struct{}{}
	t.peers = map[int64]*peer{}
	t.elec = pair.New(cfg.Self, t.opts.ConnectTimeout, t.log, pair.Hooks{
		Dial:  t.dialElection,
		Serve: t.serveElection,
		Event: func(p int64, up bool) { t.event(p, ext.ChanElection, up) },
	})
	t.setPeersLocked(others)
	t.wg.Add(2)
	go t.acceptLoop(eln, t.acceptElection)
	go t.acceptLoop(qln, t.acceptQuorum)
	return nil
}

// Send queues msgs for peer `to`; see ext.Transport.
func (t *Transport) Send(to int64, ch ext.Channel, msgs ...[]byte) error {
	if len(msgs) == 0 {
		return nil
	}
	t.mu.Lock()
	if t.closed || !t.started {
		t.mu.Unlock()
		return ErrClosed
	}
	p := t.peers[to]
	if p == nil {
		t.mu.Unlock()
		return fmt.Errorf("%w: %d", ext.ErrUnknownPeer, to)
	}
	switch ch {
	case ext.ChanElection:
		t.mu.Unlock()
		for _, m := range msgs {
			if len(m) == 0 || len(m) > link.ElectionFrameMax {
				return fmt.Errorf("%w: %d bytes", ErrMessageSize, len(m))
			}
		}
		p.vote.Push(msgs...)
		t.elec.Ensure(to)
		return nil
	case ext.ChanBroadcast, ext.ChanBulk:
		if ch == ext.ChanBroadcast && link.IsHello(msgs[0]) {
			old := t.openLearnerLocked(p, msgs)
			t.mu.Unlock()
			if old != nil {
				old.close()
			}
			return nil
		}
		ql := p.ql
		t.mu.Unlock()
		if ql == nil || ql.isClosed() {
			return fmt.Errorf("%w: %d on %v", ext.ErrNoRoute, to, ch)
		}
		return ql.q.Push(msgs...)
	}
	t.mu.Unlock()
	return fmt.Errorf("tcp: unknown channel %d", ch)
}

// Disconnect drops the link to peer on ch; ChanBulk and ChanBroadcast
// share one connection.
func (t *Transport) Disconnect(peer int64, ch ext.Channel) {
	if ch == ext.ChanElection {
		if t.elec != nil {
			t.elec.Drop(peer)
		}
		return
	}
	t.mu.Lock()
	var ql *qlink
	if p := t.peers[peer]; p != nil {
		ql = p.ql
	}
	t.mu.Unlock()
	if ql != nil {
		ql.close()
	}
}

// SetPeers replaces the member list; see ext.Transport.
func (t *Transport) SetPeers(peers []ext.PeerAddr) error {
	_, others, err := link.Members(t.self, peers)
	if err != nil {
		return err
	}
	t.mu.Lock()
	if !t.started || t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	drop := t.setPeersLocked(others)
	t.mu.Unlock()
	for _, ql := range drop {
		ql.close()
	}
	return nil
}

func (t *Transport) setPeersLocked(others map[int64]ext.PeerAddr) (drop []*qlink) {
	for id, p := range t.peers {
		if _, ok := others[id]; !ok {
			if p.ql != nil {
				drop = append(drop, p.ql)
			}
			delete(t.peers, id)
		}
	}
	for id, a := range others {
		if p, ok := t.peers[id]; ok {
			p.addr = a
			continue
		}
		t.peers[id] = &peer{id: id, addr: a, vote: link.NewSlot(), turn: link.FirstTurn()}
	}
	t.elec.SetPeers(others)
	return drop
}

// Close stops listening, closes every connection and waits for the
// transport's goroutines: the inbox hears nothing after Close returns.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed || !t.started {
		t.closed = true
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	t.cancel()
	var qls []*qlink
	for _, p := range t.peers {
		if p.ql != nil {
			qls = append(qls, p.ql)
		}
	}
	for c := range t.pending {
		c.Close()
	}
	t.mu.Unlock()
	t.elecLn.Close()
	t.quorumLn.Close()
	for _, ql := range qls {
		ql.close()
	}
	t.elec.Close()
	t.wg.Wait()
	return nil
}

// ElectionAddr and QuorumAddr are the bound listen addresses.
func (t *Transport) ElectionAddr() net.Addr { return t.elecLn.Addr() }
func (t *Transport) QuorumAddr() net.Addr   { return t.quorumLn.Addr() }

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *Transport) event(p int64, ch ext.Channel, up bool) {
	if t.isClosed() {
		return
	}
	t.inbox.PeerChanged(ext.PeerEvent{Peer: p, Channel: ch, Up: up})
}

func (t *Transport) deliver(from int64, ch ext.Channel, data []byte) {
	t.inbox.Deliver(ext.Message{From: from, Channel: ch, Data: data})
}

func (t *Transport) acceptLoop(ln net.Listener, handle func(net.Conn, uint64)) {
	defer t.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.log.Warn("accept failed", "addr", ln.Addr(), "err", err)
			}
			return
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			c.Close()
			return
		}
		t.pending[c] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		order := t.elec.NextOrder()
		go func() {
			defer t.wg.Done()
			handle(c, order)
		}()
	}
}

// handshakeDone takes c out of the pending set; it reports false (and
// closes c) when the transport closed meanwhile.
func (t *Transport) handshakeDone(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pending, c)
	if t.closed {
		c.Close()
		return false
	}
	return true
}
