package yamux

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hy "github.com/hashicorp/yamux"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/transports/internal/base"
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
	DefaultConnectTimeout         = base.DefaultConnectTimeout
	DefaultSendQueue              = base.DefaultSendQueue
	DefaultSendQueueBytes         = base.DefaultSendQueueBytes
	DefaultMaxBuffer              = base.DefaultMaxBuffer
	DefaultBulkChunk              = base.DefaultBulkChunk
	DefaultKeepAliveInterval      = 30 * time.Second
	DefaultConnectionWriteTimeout = 10 * time.Second
	DefaultStreamOpenTimeout      = 75 * time.Second
	DefaultStreamCloseTimeout     = 5 * time.Minute
	DefaultMaxStreamWindow        = 256 << 10
	DefaultAcceptBacklog          = 256
	ioBuffer                      = base.IOBuffer
)

func (o *Options) setDefaults() {
	base.CommonDefaults(&o.ConnectTimeout, &o.SendQueue, &o.SendQueueBytes, &o.MaxBuffer, &o.BulkChunk, &o.Logger)
	base.Or(&o.KeepAliveInterval, DefaultKeepAliveInterval)
	base.Or(&o.ConnectionWriteTimeout, DefaultConnectionWriteTimeout)
	base.Or(&o.StreamOpenTimeout, DefaultStreamOpenTimeout)
	base.Or(&o.StreamCloseTimeout, DefaultStreamCloseTimeout)
	base.Or(&o.MaxStreamWindow, DefaultMaxStreamWindow)
	o.MaxStreamWindow = max(o.MaxStreamWindow, DefaultMaxStreamWindow)
	base.Or(&o.AcceptBacklog, DefaultAcceptBacklog)
}

// Errors of this transport besides ext's.
var (
	// ErrClosed is returned by Send before Start and after Close.
	ErrClosed = base.ErrClosed
	// ErrMessageSize is returned for an empty election message or one over
	// 512 KiB.
	ErrMessageSize = base.ErrMessageSize
)

// Transport multiplexes the election, broadcast and bulk channels to each
// peer over one TCP connection.
type Transport struct {
	b       base.Base
	opts    Options
	ycfg    *hy.Config
	alg     string
	version int64
	ln      net.Listener
	linkIDs atomic.Uint64
	// incarnation is random per start (see handshake.go).
	incarnation int64

	refusedMu sync.Mutex
	// refused is the last handshake refusal per peer (cleared once a
	// handshake succeeds).
	refused map[int64]error
}

// New returns an unstarted transport.
func New(opts Options) *Transport {
	opts.setDefaults()
	return &Transport{opts: opts, refused: map[int64]error{}}
}

// Start binds this server's QuorumAddr (the only port this transport
// uses) and begins accepting.
func (t *Transport) Start(ctx context.Context, cfg ext.TransportConfig, inbox ext.Inbox) error {
	t.alg, t.version = cfg.ElectionAlgorithm, cfg.ProtocolVersion
	t.incarnation = rand.Int64()
	hooks := base.Hooks{
		Pair:       pair.Hooks{Dial: t.dial, Serve: t.serveSession},
		NewLearner: t.newLearner,
		Connect:    t.openStreams,
		Serve:      t.serveLink,
		ClosedErrs: closedErrs,
	}
	err := t.b.Start(ctx, cfg, inbox, t.opts.Logger, t.opts.ConnectTimeout, hooks,
		func(ctx context.Context, me ext.PeerAddr) ([]net.Listener, error) {
			var lc net.ListenConfig
			ln, err := lc.Listen(ctx, "tcp", me.QuorumAddr)
			if err != nil {
				return nil, fmt.Errorf("yamux: listen: %w", err)
			}
			t.ln = ln
			return []net.Listener{ln}, nil
		})
	if err != nil {
		return err
	}
	t.ycfg = t.yamuxConfig()
	t.b.Accept(t.ln, t.accept)
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
	c.LogOutput = logWriter{t.b.Log}
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
// handshake was refused gets ext.ErrRefused for election messages and
// FOLLOWERINFO (a new handshake is tried in the background, in case it
// was fixed).
func (t *Transport) Send(to int64, ch ext.Channel, msgs ...[]byte) error {
	if len(msgs) > 0 && (ch == ext.ChanElection || (ch == ext.ChanBroadcast && link.IsHello(msgs[0]))) {
		t.refusedMu.Lock()
		err := t.refused[to]
		t.refusedMu.Unlock()
		if err != nil && t.b.Pairs.Current(to) != nil {
			// A session exists, so a handshake succeeded since: the
			// refusal (perhaps of a stale connection) is old news.
			t.setRefused(to, nil)
			err = nil
		}
		if err != nil {
			t.b.Pairs.Ensure(to)
			return err
		}
	}
	return t.b.Send(to, ch, msgs)
}

// Addr is the bound listen address.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// setRefused records the outcome of a handshake with peer.
func (t *Transport) setRefused(peer int64, err error) {
	t.refusedMu.Lock()
	defer t.refusedMu.Unlock()
	if err == nil {
		delete(t.refused, peer)
	} else {
		t.refused[peer] = err
	}
}

// closedErrs are yamux's ordinary ends of a stream or session.
var closedErrs = []error{hy.ErrSessionShutdown, hy.ErrStreamClosed, hy.ErrTimeout, hy.ErrConnectionReset}

// Disconnect drops the link to peer on ch; see ext.Transport.
func (t *Transport) Disconnect(peer int64, ch ext.Channel) { t.b.Disconnect(peer, ch) }

// SetPeers replaces the member list; see ext.Transport.
func (t *Transport) SetPeers(peers []ext.PeerAddr) error { return t.b.SetPeers(peers) }

// Close stops listening, closes every connection and waits for the
// transport's goroutines: the inbox hears nothing after Close returns.
func (t *Transport) Close() error { return t.b.Close() }
