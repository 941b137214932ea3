package ext

import (
	"context"
	"errors"
)

// Channel names one logical stream between two servers. Messages on one
// channel between one pair of servers arrive in the order they were sent;
// there is no ordering between channels.
type Channel uint8

const (
	// ChanElection carries election notifications. It is lossy by design:
	// a sender keeps at most the newest unsent message per peer (ZooKeeper's
	// QuorumCnxManager send queue of capacity 1), so an algorithm must
	// tolerate drops and re-send on its own timers.
	ChanElection Channel = 1
	// ChanBroadcast carries ZAB's QuorumPackets, one encoded packet per
	// message, reliably and in order for as long as the link stays up. A
	// learner opens it by sending (FOLLOWERINFO/OBSERVERINFO); a leader can
	// only answer peers that did.
	ChanBroadcast Channel = 2
	// ChanBulk carries the SNAP sync stream (sessions, data tree,
	// "BenWasHere") in chunks of any size. The receiver parses the stream,
	// so chunk boundaries carry no meaning. Transports that share one
	// ordered byte stream for broadcast and bulk (transport.tcp) deliver
	// it in order with ChanBroadcast; others deliver it on a separate,
	// flow-controlled stream, so a receiver must not assume either.
	ChanBulk Channel = 3
)

func (c Channel) String() string {
	switch c {
	case ChanElection:
		return "election"
	case ChanBroadcast:
		return "broadcast"
	case ChanBulk:
		return "bulk"
	}
	return "channel(?)"
}

// Message is one delivered message. Data belongs to the receiver.
type Message struct {
	From    int64
	Channel Channel
	Data    []byte
}

// PeerEvent reports that a channel to a peer came up or went down. For
// ChanBroadcast a down event ends the ZAB link with that peer: whatever was
// in flight may or may not have arrived, and the next message must start
// the learner protocol again.
type PeerEvent struct {
	Peer    int64
	Channel Channel
	Up      bool
}

// PeerAddr is one member of the ensemble as the transport needs it.
type PeerAddr struct {
	ID int64
	// ElectionAddr and QuorumAddr are "host:port". transport.tcp uses both;
	// a multiplexing transport may use only QuorumAddr.
	ElectionAddr string
	QuorumAddr   string
	Observer     bool
}

// Inbox receives what a transport delivers. Both methods are called from
// transport goroutines and must not block for long; the core queues.
type Inbox interface {
	Deliver(Message)
	PeerChanged(PeerEvent)
}

// TransportConfig is what every transport receives at start.
type TransportConfig struct {
	Self  int64
	Peers []PeerAddr
	// ElectionAlgorithm and ProtocolVersion are announced in handshakes
	// that carry them; a peer that differs is refused, never half-joined.
	ElectionAlgorithm string
	ProtocolVersion   int64
}

// Transport moves messages between the servers of an ensemble. It is
// in-process only: every PROPOSAL, ACK and PING crosses it.
type Transport interface {
	// Start begins listening and dialling; messages go to inbox until
	// Close. It returns once the listeners are bound.
	Start(ctx context.Context, cfg TransportConfig, inbox Inbox) error
	// Send queues msgs to peer `to` on ch and never blocks. On
	// ChanElection an unsent older message to that peer is replaced. On
	// other channels a full queue gives ErrBackpressure and nothing of
	// msgs is queued; ErrNoRoute means no link exists and none can be
	// opened from this side (a leader sending to a learner that has not
	// connected).
	Send(to int64, ch Channel, msgs ...[]byte) error
	// Disconnect drops the link to peer on ch (a leader dropping a lagging
	// learner, a learner abandoning a dead leader). The inbox gets a down
	// event.
	Disconnect(peer int64, ch Channel)
	// SetPeers replaces the member list (reconfig); links to removed peers
	// close.
	SetPeers(peers []PeerAddr) error
	Close() error
}

// Transport errors; compare with errors.Is.
var (
	ErrBackpressure = errors.New("transport: send queue full")
	ErrNoRoute      = errors.New("transport: no link to peer")
	ErrUnknownPeer  = errors.New("transport: unknown peer")
	ErrRefused      = errors.New("transport: peer refused at handshake")
)
