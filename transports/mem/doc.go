// Package mem is transport.mem: an in-process network for tests and the
// deterministic simulator.
//
// Several Transports attach to one Network; a server's id is its address.
// The network models what the kernel can observe of real links, and no
// more: per-channel FIFO between a pair, links that come up and go down
// (Up/Down events on both ends), a newest-only election queue, reliable
// broadcast and bulk streams that end with Down rather than losing a
// message in the middle, and backpressure once too many messages to one
// peer are undelivered.
//
// Every pending delivery — message or event — is an Envelope in a FIFO
// keyed by (from, to, channel). A head is deliverable when its time has
// come (delays), its direction is not cut (partitions hold messages, they
// do not lose them) and, for a message, its link's Up reached the
// receiver. Events are never held, so a Down always arrives.
//
// Two modes:
//   - automatic (NewNetwork): one pump goroutine delivers in (time, seq)
//     order as soon as possible; wall-clock delays.
//   - manual (NewManualNetwork): nothing happens until the driver calls
//     Step, Deliver (to choose which FIFO goes next) or Drain; time moves
//     only by Advance, and NextAt says when the next delayed envelope
//     matures. Deliveries run on the driver's goroutine, so a seeded
//     simulator replays exactly.
//
// Fault hooks callable from tests: Partition, PartitionOneWay, Heal,
// HealAll, SetDelay, SetDrop (per message, at send time), Kill (reset a
// server's links). Closing a Transport detaches it (its peers get Down);
// a new Transport with the same id can attach again, like a restart.
//
// Message data is copied on Send, so receivers own what they get, as with
// a socket.
package mem
