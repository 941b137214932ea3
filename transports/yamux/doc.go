// Package yamux is transport.yamux: zabkit's own transport, one TCP
// connection per pair of servers multiplexed with hashicorp/yamux. It
// uses only QuorumAddr and cannot talk to Java ZooKeeper servers.
//
// Connection: only the larger sid keeps a connection it dialled, as in
// ZooKeeper's QuorumCnxManager (transports/internal/pair). Before yamux
// starts, a zabkit handshake (handshake.go) carries a magic number, the
// protocol version, the election algorithm's name, both sids and a random
// incarnation. The acceptor answers accept, refused (another protocol
// version or election algorithm, an unknown server, the wrong target) or
// "dial back" (the dialler is the smaller sid: its dial is a poke). A
// refusal is logged on both sides as ext.ErrRefused and Send to that peer
// returns it; no session, and so no stream, ever exists with a refused
// peer: never half-joined. A poke from a restarted peer (new incarnation)
// replaces the session at once; any other poke may have crossed the
// session being opened, so the session is pinged first and replaced only
// if the ping fails.
//
// Streams, each framed as int length + payload:
//   - election: opened by the dialler with the session and living as long
//     as it; per peer a newest-only slot, and a new session re-sends the
//     last vote sent. ChanElection's Up/Down are the session's.
//   - broadcast and bulk: a pair of streams per ZAB link, opened by the
//     learner when it sends FOLLOWERINFO/OBSERVERINFO (waiting up to
//     ConnectTimeout for a session) and tagged with a link id so the
//     acceptor pairs them. Each has its own bounded queue and writer, so a
//     snapshot on the bulk stream never queues in front of PINGs and
//     proposals; yamux's per-stream window (MaxStreamWindow) caps how much
//     of the connection the bulk stream holds at a time. Bulk messages are
//     cut into frames of at most BulkChunk. Disconnect closes both streams
//     (Down on both ends); the session and election carry on.
//
// Every yamux timeout is an option (KeepAliveInterval,
// ConnectionWriteTimeout, StreamOpenTimeout, StreamCloseTimeout); defaults
// are yamux's own. Send never blocks; full queues give ext.ErrBackpressure.
package yamux
