package yamux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hy "github.com/hashicorp/yamux"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/transports/internal/link"
	"github.com/zabkit/zabkit/transports/internal/pair"
)

// Options tune the transport. Zero values take the defaults below.
type Options struct {
	// ConnectTimeout bounds a dial plus the zabkit handshake, and how long
	// a learner's FOLLOWERINFO waits for a session to its leader. 5 s.
	ConnectTimeout time.Duration
	// SendQueue and SendQueueBytes bound each link's broadcast queue and,
	// separately, its bulk queue (messages, bytes) before Send returns
	// ext.ErrBackpressure. Defaults 10000 and 64 MiB.
	SendQueue      int
	SendQueueBytes int
	// MaxBuffer is jute.maxbuffer; broadcast and bulk frames may be twice
	// that (as on ZooKeeper's quorum port). Default 0xfffff.
	MaxBuffer int
	// BulkChunk splits bulk messages into frames of at most this size.
	// Default 64 KiB.
	BulkChunk int

	// The yamux session, one per peer pair. Defaults are yamux's own.
	//
	// KeepAliveInterval: how often a session pings (30 s); a session whose
	// ping is not answered closes, and every link on it goes Down.
	KeepAliveInterval time.Duration
	// ConnectionWriteTimeout: a write stuck this long closes the session
	// (10 s): the safety valve for a peer that stopped reading entirely.
	ConnectionWriteTimeout time.Duration
	// StreamOpenTimeout: a stream not acknowledged this long closes the
	// session (75 s).
	StreamOpenTimeout time.Duration
	// StreamCloseTimeout: a half-closed stream is reset after this long
	// (5 min). Links are closed at once locally either way.
	StreamCloseTimeout time.Duration
	// MaxStreamWindow is each stream's receive window (256 KiB, the
	// minimum yamux allows). It caps the bytes one stream has in flight,
	// so a snapshot streaming on the bulk stream interleaves with PINGs
	// and proposals on the broadcast stream instead of starving them;
	// larger windows help bulk throughput on long fat networks.
	MaxStreamWindow int
	// AcceptBacklog: streams waiting to be accepted (256).
	AcceptBacklog int

	Logger *slog.Logger
}

// Defaults.
const (
	DefaultConnectTimeout         = 5 * time.Second
	DefaultSendQueue              = 10000
	DefaultSendQueueBytes         = 64 << 20
	DefaultMaxBuffer              = 0xfffff
	DefaultBulkChunk              = 64 << 10
	DefaultKeepAliveInterval      = 30 * time.Second
	DefaultConnectionWriteTimeout = 10 * time.Second
	DefaultStreamOpenTimeout      = 75 * time.Second
	DefaultStreamCloseTimeout     = 5 * time.Minute
	DefaultMaxStreamWindow        = 256 << 10
	DefaultAcceptBacklog          = 256
	ioBuffer                      = 64 << 10
)

func orDefault[T int | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

func (o *Options) setDefaults() {
	orDefault(&o.ConnectTimeout, DefaultConnectTimeout)
	orDefault(&o.SendQueue, DefaultSendQueue)
	orDefault(&o.SendQueueBytes, DefaultSendQueueBytes)
	orDefault(&o.MaxBuffer, DefaultMaxBuffer)
	orDefault(&o.BulkChunk, DefaultBulkChunk)
	orDefault(&o.KeepAliveInterval, DefaultKeepAliveInterval)
	orDefault(&o.ConnectionWriteTimeout, DefaultConnectionWriteTimeout)
	orDefault(&o.StreamOpenTimeout, DefaultStreamOpenTimeout)
	orDefault(&o.StreamCloseTimeout, DefaultStreamCloseTimeout)
	orDefault(&o.MaxStreamWindow, DefaultMaxStreamWindow)
	o.MaxStreamWindow = max(o.MaxStreamWindow, DefaultMaxStreamWindow)
	orDefault(&o.AcceptBacklog, DefaultAcceptBacklog)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Errors of this transport besides ext's.
var (
	// ErrClosed is returned by Send after Close.
	ErrClosed = errors.New("yamux: transport closed")
	// ErrMessageSize is returned for an empty election message or one over
	// 512 KiB.
	ErrMessageSize = errors.New("yamux: election message size out of range")
)

// Transport multiplexes the election, broadcast and bulk channels to each
// peer over one TCP connection.
type Transport struct {
	opts Options
	log  *slog.Logger
	ycfg *hy.Config

	self     int64
	me       ext.PeerAddr
	alg      string
	version  int64
	inbox    ext.Inbox
	ln       net.Listener
	sessions *pair.Manager
	ctx      context.Context
	cancel   context.CancelFunc
	linkIDs  atomic.Uint64
	// incarnation is random per start (see handshake.go).
	incarnation int64

	mu      sync.Mutex
	peers   map[int64]*peer
	pending map[net.Conn]struct{}
	started bool
	closed  bool
	wg      sync.WaitGroup
}

type peer struct {
	id   int64
	addr ext.PeerAddr
	vote *link.Queue // election, newest only; outlives sessions
	bl   *blink      // the current broadcast link
	turn *link.Turn
	// refused is the last handshake refusal with this peer (nil once a
	// handshake succeeds).
	refused error
}

// New returns an unstarted transport.
func New(opts Options) *Transport {
	opts.setDefaults()
	return &Transport{opts: opts, log: opts.Logger}
}

// Start binds this server's QuorumAddr (the only port this transport
// uses) and begins accepting.
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
		return errors.New("yamux: started twice")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", me.QuorumAddr)
	if err != nil {
		return fmt.Errorf("yamux: listen: %w", err)
	}
	t.started = true
	t.self, t.me, t.inbox, t.ln = cfg.Self, *me, inbox, ln
	t.alg, t.version = cfg.ElectionAlgorithm, cfg.ProtocolVersion
	t.incarnation = rand.Int64()
	t.log = t.log.With("sid", cfg.Self)
	t.ycfg = t.yamuxConfig()
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.pending = map[net.Conn]struct{}{}
	t.peers = map[int64]*peer{}
	t.sessions = pair.New(cfg.Self, t.opts.ConnectTimeout, t.log, pair.Hooks{
		Dial:  t.dial,
		Serve: t.serveSession,
		Event: func(p int64, up bool) { t.event(p, ext.ChanElection, up) },
	})
	t.setPeersLocked(others)
	t.wg.Add(1)
	go t.acceptLoop()
	return nil
}

func (t *Transport) yamuxConfig() *hy.Config {
	c := hy.DefaultConfig()
	c.AcceptBacklog = t.opts.AcceptBacklog
	c.EnableKeepAlive = true
	c.KeepAliveInterval = t.opts.KeepAliveInterval
	c.ConnectionWriteTimeout = t.opts.ConnectionWriteTimeout
	c.StreamOpenTimeout = t.opts.StreamOpenTimeout
	c.StreamCloseTimeout = t.opts.StreamCloseTimeout
	c.MaxStreamWindowSize = uint32(t.opts.MaxStreamWindow)
	c.LogOutput = logWriter{t.log}
	return c
}

// logWriter passes yamux's log lines to slog at debug level: yamux
// reports ordinary closes as errors.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(b []byte) (int, error) {
	w.log.Debug(strings.TrimSpace(string(b)))
	return len(b), nil
}

// Send queues msgs for peer `to`; see ext.Transport. A peer whose last
// handshake was refused gets ext.ErrRefused (a new handshake is tried in
// the background, in case it was fixed).
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
	if refused := p.refused; refused != nil && (ch == ext.ChanElection || link.IsHello(msgs[0])) {
		t.mu.Unlock()
		t.sessions.Ensure(to)
		return refused
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
		t.sessions.Ensure(to)
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
		bl := p.bl
		t.mu.Unlock()
		if bl == nil || bl.isClosed() {
			return fmt.Errorf("%w: %d on %v", ext.ErrNoRoute, to, ch)
		}
		if ch == ext.ChanBulk {
			return bl.kq.Push(split(msgs, t.opts.BulkChunk)...)
		}
		return bl.bq.Push(msgs...)
	}
	t.mu.Unlock()
	return fmt.Errorf("yamux: unknown channel %d", ch)
}

// split cuts messages longer than n into pieces; bulk chunk boundaries
// carry no meaning, and frames must stay under the receiver's limit.
func split(msgs [][]byte, n int) [][]byte {
	out := msgs[:0:0]
	for _, m := range msgs {
		for len(m) > n {
			out = append(out, m[:n])
			m = m[n:]
		}
		out = append(out, m)
	}
	return out
}

// Disconnect drops the link to peer on ch. ChanBroadcast and ChanBulk are
// one link (two streams); ChanElection is the session itself, so it takes
// the broadcast link down with it.
func (t *Transport) Disconnect(peer int64, ch ext.Channel) {
	if ch == ext.ChanElection {
		if t.sessions != nil {
			t.sessions.Drop(peer)
		}
		return
	}
	t.mu.Lock()
	var bl *blink
	if p := t.peers[peer]; p != nil {
		bl = p.bl
	}
	t.mu.Unlock()
	if bl != nil {
		bl.close()
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
	for _, bl := range drop {
		bl.close()
	}
	return nil
}

func (t *Transport) setPeersLocked(others map[int64]ext.PeerAddr) (drop []*blink) {
	for id, p := range t.peers {
		if _, ok := others[id]; !ok {
			if p.bl != nil {
				drop = append(drop, p.bl)
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
	t.sessions.SetPeers(others)
	return drop
}

// Close stops listening, closes every session and waits for the
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
	var bls []*blink
	for _, p := range t.peers {
		if p.bl != nil {
			bls = append(bls, p.bl)
		}
	}
	for c := range t.pending {
		c.Close()
	}
	t.mu.Unlock()
	t.ln.Close()
	for _, bl := range bls {
		bl.close()
	}
	t.sessions.Close()
	t.wg.Wait()
	return nil
}

// Addr is the bound listen address.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

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

// setRefused records the outcome of a handshake with peer.
func (t *Transport) setRefused(peer int64, err error) {
	t.mu.Lock()
	if p := t.peers[peer]; p != nil {
		p.refused = err
	}
	t.mu.Unlock()
}

// isClosedErr is true for the ordinary ends of a connection or stream.
func isClosedErr(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, hy.ErrSessionShutdown) || errors.Is(err, hy.ErrStreamClosed) ||
		errors.Is(err, hy.ErrTimeout) || errors.Is(err, hy.ErrConnectionReset)
}
