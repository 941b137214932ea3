// Package pebble is a zabkit store (module store.pebble) that keeps the txn
// log and the metadata in a Pebble LSM and the snapshots in plain files
// beside it. It trades ZooKeeper's data-directory compatibility (store.file)
// for an engine whose write path, compaction and metrics are maintained by
// others: the log is written through Pebble's WAL, one synced batch and
// one key per group commit.
//
// # Layout
//
//	Dir/db/                          the Pebble database (and its WAL unless Options.WALDir)
//	Dir/snapshots/snapshot.<hex>     committed snapshots (opaque bytes, written by core/datatree)
//	Dir/snapshots/tmp.snapshot.<hex>.* snapshots being written; removed by Open
//
// Keys in the database:
//
//	log/<8-byte big-endian zxid>  a record: the entries of one group commit,
//	                              keyed by the first one's zxid (record.go);
//	                              each entry's Data is kept byte for byte as
//	                              ZooKeeper logs it
//	meta/format                   the format name (FormatName); Open upgrades pebble-v1, refuses any other
//	meta/currentEpoch             8-byte big-endian, absent = -1
//	meta/acceptedEpoch            8-byte big-endian, absent = -1
//	meta/dbid                     8-byte big-endian, absent = 0
//	meta/lastVote                 opaque bytes, absent = none
//	meta/upgradedThrough          present only while an upgrade from pebble-v1 is under way
//
// Big-endian zxids sort in zxid order and records never overlap, so the
// log is one key range: the record holding a zxid is found by one seek,
// reads are bounded iterators, and truncation and purging are single range
// deletions whatever their length. One key per group commit rather than
// per entry keeps a large commit cheap: Pebble's work per key (batch
// framing, a memtable insert) is paid once per Append. An Append of more
// than a megabyte is split into several records, still in one batch.
//
// # Upgrading from pebble-v1
//
// pebble-v1 (earlier builds) kept one key per entry. Open upgrades such a
// database in place: it rewrites the log as records, about a megabyte per
// synced batch, each batch also moving meta/upgradedThrough forward and
// setting meta/format to FormatName. A crash during the upgrade leaves a
// database this build resumes and an older build refuses by its format;
// the log is never read in the wrong layout. The upgrade is one-way: to go
// back, convert the data directory with `zabkit convert` to store.file
// using this build, then from store.file with the older one.
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
//   - TruncateAfter is one synced batch: a range deletion of the records
//     above the cut and the record holding the cut rewritten without its
//     entries above it. Then it removes the snapshots above the cut
//     (which describe history that is gone).
//   - PurgeBefore deletes whole records: those before the record holding
//     the purge zxid (the contract allows keeping more than needed).
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
// write) is dropped by Pebble. LastZxid is then read from the header of
// the last record, found by one reverse seek, so Open does not read the
// log.
package pebble
