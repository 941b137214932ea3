package tcp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/transports/internal/base"
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
	DefaultConnectTimeout = base.DefaultConnectTimeout
	DefaultSendQueue      = base.DefaultSendQueue
	DefaultSendQueueBytes = base.DefaultSendQueueBytes
	DefaultMaxBuffer      = base.DefaultMaxBuffer
	DefaultBulkChunk      = base.DefaultBulkChunk
	minBulkChunk          = 128
	ioBuffer              = base.IOBuffer
)

func (o *Options) setDefaults() {
	base.CommonDefaults(&o.ConnectTimeout, &o.SendQueue, &o.SendQueueBytes, &o.MaxBuffer, &o.BulkChunk, &o.Logger)
	o.BulkChunk = max(o.BulkChunk, minBulkChunk)
}

// Errors of this transport besides ext's.
var (
	// ErrClosed is returned by Send before Start and after Close.
	ErrClosed = base.ErrClosed
	// ErrMessageSize is returned for an election message that is empty or
	// larger than 512 KiB, which a ZooKeeper peer would drop the
	// connection for.
	ErrMessageSize = base.ErrMessageSize
)

// Transport speaks Apache ZooKeeper 3.8's election and quorum protocols.
type Transport struct {
	b        base.Base
	opts     Options
	elecLn   net.Listener
	quorumLn net.Listener
}

// New returns an unstarted transport.
func New(opts Options) *Transport {
	opts.setDefaults()
	return &Transport{opts: opts}
}

// Start binds the election and quorum ports of this server's entry in
// cfg.Peers and begins accepting.
func (t *Transport) Start(ctx context.Context, cfg ext.TransportConfig, inbox ext.Inbox) error {
	hooks := base.Hooks{
		Pair:       pair.Hooks{Dial: t.dialElection, Serve: t.serveElection},
		NewLearner: t.newLearner,
		Connect:    t.connectLearner,
		Serve:      t.serveQuorum,
	}
	err := t.b.Start(ctx, cfg, inbox, t.opts.Logger, t.opts.ConnectTimeout, hooks,
		func(ctx context.Context, me ext.PeerAddr) ([]net.Listener, error) {
			var lc net.ListenConfig
			eln, err := lc.Listen(ctx, "tcp", me.ElectionAddr)
			if err != nil {
				return nil, fmt.Errorf("tcp: election port: %w", err)
			}
			qln, err := lc.Listen(ctx, "tcp", me.QuorumAddr)
			if err != nil {
				eln.Close()
				return nil, fmt.Errorf("tcp: quorum port: %w", err)
			}
			t.elecLn, t.quorumLn = eln, qln
			return []net.Listener{eln, qln}, nil
		})
	if err != nil {
		return err
	}
	t.b.Accept(t.elecLn, t.acceptElection)
	t.b.Accept(t.quorumLn, t.acceptQuorum)
	return nil
}

// Send queues msgs for peer `to`; see ext.Transport. ChanBulk shares the
// quorum connection with ChanBroadcast.
func (t *Transport) Send(to int64, ch ext.Channel, msgs ...[]byte) error {
	return t.b.Send(to, ch, msgs)
}

// ElectionAddr and QuorumAddr are the bound listen addresses.
func (t *Transport) ElectionAddr() net.Addr { return t.elecLn.Addr() }
func (t *Transport) QuorumAddr() net.Addr   { return t.quorumLn.Addr() }

// Disconnect drops the link to peer on ch; see ext.Transport.
func (t *Transport) Disconnect(peer int64, ch ext.Channel) { t.b.Disconnect(peer, ch) }

// SetPeers replaces the member list; see ext.Transport.
func (t *Transport) SetPeers(peers []ext.PeerAddr) error { return t.b.SetPeers(peers) }

// Close stops listening, closes every connection and waits for the
// transport's goroutines: the inbox hears nothing after Close returns.
func (t *Transport) Close() error { return t.b.Close() }
