// Package pebble is a zabkit store (module store.pebble) that keeps the txn
// log and the metadata in a Pebble LSM and the snapshots in plain files
// beside it. It trades ZooKeeper's data-directory compatibility (store.file)
// for an engine whose write path, compaction and metrics are maintained by
// others: the log is written through Pebble's WAL, one synced batch per
// group commit.
//
// # Layout
//
//	Dir/db/                          the Pebble database (and its WAL unless Options.WALDir)
//	Dir/snapshots/snapshot.<hex>     committed snapshots (opaque bytes, written by core/datatree)
//	Dir/snapshots/tmp.snapshot.<hex>.* snapshots being written; removed by Open
//
// Keys in the database:
//
//	log/<8-byte big-endian zxid>  an entry's Data, byte for byte as ZooKeeper logs it
//	meta/format                   the format name (FormatName); Open refuses any other
//	meta/currentEpoch             8-byte big-endian, absent = -1
//	meta/acceptedEpoch            8-byte big-endian, absent = -1
//	meta/dbid                     8-byte big-endian, absent = 0
//	meta/lastVote                 opaque bytes, absent = none
//
// Big-endian zxids sort in zxid order, so the log is one key range: reads
// are bounded iterators, and truncation and purging are single range
// deletions whatever their length.
//
// # Durability contract
//
// With Options.ForceSync (Capabilities().Durable):
//
//   - Append commits its whole batch as one Pebble batch with Sync: Pebble
//     writes it to the WAL and fdatasyncs before Append returns nil. One
//     Append is one WAL sync, so the caller's batch is the group commit.
//   - If the commit fails, whether the batch is on disk is unknown. The
//     store then refuses every further Append and TruncateAfter with an
//     error wrapping ErrUncertain until it is closed and reopened; Pebble's
//     WAL replay at Open decides what survived. (Pebble treats a failed WAL
//     write as fatal; the store turns that into an error for the caller
//     instead of letting Pebble end the process.)
//   - TruncateAfter is one synced range deletion, then the removal of the
//     snapshots above the cut (which describe history that is gone).
//   - SnapshotWriter.Commit fsyncs the file, renames it into place and
//     fsyncs the directory; a snapshot is visible only once committed.
//   - SaveMeta writes every field in one batch, always synced (even without
//     ForceSync): epochs are safety state.
//
// Without ForceSync Append returns once the batch is in Pebble's memtable
// and WAL buffer, before the WAL is written out: a crash, even of the
// process alone, can lose the most recent batches.
//
// # Recovery on Open
//
// Pebble replays its WAL; a torn tail of the last WAL (an unacknowledged
// write) is dropped by Pebble. LastZxid is then the last log key, found by
// one reverse seek, so Open does not read the log.
package pebble
