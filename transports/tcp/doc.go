// Package tcp is transport.tcp: Apache ZooKeeper 3.8's own election and
// quorum protocols, byte for byte, so zabkit servers and Java servers can
// form one ensemble.
//
// Election port (ChanElection) — QuorumCnxManager (spec 5.1):
//   - the initiator sends long -65536, long sid, int n + n ASCII bytes of
//     its "host:electionPort"; a receiver also accepts a pre-3.5 bare sid
//     and the multi-address version -65535, and refuses other versions and
//     address lengths outside (0, 2048];
//   - one connection per pair, the one dialled by the larger sid: a
//     smaller server that needs a connection "pokes" (handshake, hang up)
//     and the larger dials back (transports/internal/pair); a connection
//     claiming our own sid, or an unknown one, is closed;
//   - frames are int length + payload, 0 < length <= 512 KiB; anything
//     else drops the connection;
//   - per peer a send slot of capacity 1 keeps only the newest vote, and a
//     new connection first re-sends the last vote sent to that peer.
//
// Quorum port (ChanBroadcast, ChanBulk) — the learner protocol:
//   - QuorumPackets are written back to back as plain jute; the reader
//     walks the fields to frame them, refusing negative lengths and
//     lengths over 2 × jute.maxbuffer (ZooKeeper's maxbuffer + extrasize);
//   - the learner dials: a Send on ChanBroadcast whose first message is a
//     FOLLOWERINFO or OBSERVERINFO opens a new connection (replacing any
//     link to that peer); the accepting side learns the sid from that
//     packet's LearnerInfo and refuses a first packet of any other type.
//     Any other Send where no link exists is ext.ErrNoRoute;
//   - ChanBulk shares the socket: bulk chunks are written raw, in order
//     with the broadcast packets (SNAP, snapshot bytes, NEWLEADER …). On
//     the receiving side a SNAP packet makes the reader parse the snapshot
//     stream that follows just enough to find its end (a byte-counting
//     skip-parser; spec 6.4 and 7.4) and deliver it as ChanBulk messages
//     of at most BulkChunk bytes before the next packet.
//
// Sends never block: each connection has a bounded queue (ErrBackpressure
// when full) and one writer goroutine that batches everything queued into
// a buffered writer and flushes when the queue is empty, so a burst of
// PROPOSALs or ACKs costs few syscalls. Each connection has one reader
// goroutine that delivers to the inbox directly.
//
// Events: Up when a connection becomes a peer's link, Down when it ends,
// and on ChanBroadcast also when a learner's dial fails. Successive
// connections to one peer take turns (transports/internal/link.Turn), so
// the inbox sees all of one connection, its Down, then the next Up.
//
// Verified against the spec's captured facts and, in interop_test.go,
// against Debian's ZooKeeper 3.8 acting as leader and as follower in a
// two-server ensemble with this transport playing the other server.
package tcp
