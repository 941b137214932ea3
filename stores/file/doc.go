// Package file is zabkit's durable store in Apache ZooKeeper 3.8's data
// directory format, byte for byte: a Java ZooKeeper can start from a data
// directory zabkit wrote and vice versa.
//
// # Layout
//
//	DataDir/version-2/snapshot.<hex>     snapshots (opaque bytes, written by core/datatree)
//	DataDir/version-2/acceptedEpoch      decimal text, no newline
//	DataDir/version-2/currentEpoch       decimal text, no newline
//	DataDir/version-2/zabkit.meta        last vote and db id (ZooKeeper ignores it)
//	DataLogDir/version-2/log.<hex>       txn logs, named after their first zxid
//
// # Durability contract
//
// With Options.ForceSync (Capabilities().Durable):
//
//   - Append returns nil only after its whole batch is written and
//     fdatasync'ed; a new log file is also recorded in its directory
//     (directory fsync) before that Append returns. One Append is one
//     write plus one fdatasync: the caller's batch is the group commit.
//   - If a write or sync fails, the batch may or may not be on disk. The
//     store then refuses every further Append, TruncateAfter and RollLog
//     with an error wrapping ErrUncertain until it is closed and reopened;
//     Open decides from what is really on disk. It never retries or
//     guesses.
//   - TruncateAfter returns nil only after the shortened file and the
//     removal of later files are synced. It also deletes snapshots above
//     the truncation point: they describe history that no longer exists.
//   - SnapshotWriter.Commit fsyncs the snapshot, renames it into place
//     and fsyncs the directory; a snapshot is visible only once committed.
//   - SaveMeta is always synced (even without ForceSync): epochs are
//     safety state. It writes zabkit.meta (every field, atomically, by
//     temp file + fsync + rename + directory fsync) first, then the
//     ZooKeeper epoch files the same way. LoadMeta takes each epoch as the
//     larger of zabkit.meta and the epoch file: epochs never decrease, so
//     this is right both after a crash between the two writes and after a
//     Java ZooKeeper ran on the directory and advanced the epoch files.
//
// Without ForceSync nothing is fsync'ed except the metadata; data written
// before a crash of the process (not of the machine) survives anyway.
//
// # Recovery on Open
//
// Open checks every log that recovery from the newest snapshot will read,
// and the last log in full:
//
//   - A torn tail (a short record, a missing 'B' marker, a bad checksum)
//     with no valid record after it is a write that never completed: it is
//     dropped and the last file is truncated to its valid prefix.
//   - A bad record followed anywhere in the same file by a valid record
//     with a higher zxid is corruption in the middle: Open fails with a
//     *CorruptError (wrapping ext.ErrCorrupt) naming the file and byte
//     offset, unless Options.RecoverCorrupt is set, in which case the log is
//     cut at the bad record and everything after it is deleted. (A power
//     loss that persisted later pages of an unacknowledged batch but not
//     earlier ones also looks like this; refusing to start is the safe
//     answer to an ambiguity.)
//   - A last log file with no valid records (e.g. a half-written header)
//     is deleted.
//
// Open always starts a new log file at the next Append, as ZooKeeper does
// on restart.
package file
