package pebble

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/zabkit/zabkit/core/ext"
)

// formatV1 is the layout before records: one key per entry, the log key
// of its zxid, holding the entry's Data. Open upgrades such a database in
// place, so a node keeps its log across the change without a convert.
const formatV1 = "pebble-v1"

// keyUpgradedThrough is present while an upgrade from pebble-v1 is under
// way: log keys up to the zxid it holds (8-byte big-endian) are records,
// those above it are still v1 entries.
var keyUpgradedThrough = []byte(metaPrefix + "upgradedThrough")

// resumeUpgrade finishes an upgrade that a crash or an error interrupted.
func (s *Store) resumeUpgrade() error {
	v, closer, err := s.db.Get(keyUpgradedThrough)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store.pebble: read upgrade state: %w", err)
	}
	if len(v) != 8 {
		closer.Close()
		return fmt.Errorf("%w: %s is %d bytes", ext.ErrCorrupt, keyUpgradedThrough, len(v))
	}
	done := int64(binary.BigEndian.Uint64(v))
	closer.Close()
	return s.upgradeV1(done)
}

// upgradeV1 turns the v1 entries above done into records, one record of
// up to maxRecordBytes per synced batch. Each batch replaces its entries
// with their records, stamps FormatName and moves keyUpgradedThrough
// forward, so a crash leaves a database that this build resumes and an
// older one refuses (it does not know the format), never a log read
// wrongly. The last batch removes keyUpgradedThrough.
func (s *Store) upgradeV1(done int64) error {
	s.log.Info("upgrading the database layout; the log is rewritten once", "dir", s.opts.Dir, "from", formatV1, "to", FormatName)
	total := 0
	for {
		n, last, err := s.upgradeChunk(done)
		if err != nil {
			return fmt.Errorf("store.pebble: upgrade %s from %s: %w", s.opts.Dir, formatV1, err)
		}
		if n == 0 {
			break
		}
		total, done = total+n, last
	}
	s.log.Info("database layout upgraded", "dir", s.opts.Dir, "format", FormatName, "entries", total)
	return nil
}

// upgradeChunk rewrites the next v1 entries above done, returning how
// many and the last one's zxid; none means the upgrade is complete.
func (s *Store) upgradeChunk(done int64) (n int, last int64, err error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: appendLogKey(nil, done+1), UpperBound: logEnd})
	if err != nil {
		return 0, 0, err
	}
	// As many entries as fit one record: each takes its data and at most
	// two maximal uvarints.
	var chunk []ext.Entry
	size := 0
	for ok := it.First(); ok; ok = it.Next() {
		z, err := keyZxid(it.Key())
		if err != nil {
			it.Close()
			return 0, 0, err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return 0, 0, err
		}
		if size += len(v) + 2*binary.MaxVarintLen64; size > maxRecordBytes && len(chunk) > 0 {
			break
		}
		chunk = append(chunk, ext.Entry{Zxid: z, Data: bytes.Clone(v)})
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return 0, 0, err
	}

	b := s.db.NewBatch()
	defer b.Close()
	err = b.Set(keyFormat, []byte(FormatName), nil)
	if len(chunk) == 0 {
		err = errors.Join(err, b.Delete(keyUpgradedThrough, nil))
	} else {
		first := appendLogKey(nil, chunk[0].Zxid)
		last = chunk[len(chunk)-1].Zxid
		// The records come after the deletion in the batch, so the one
		// under the first entry's key survives it.
		err = errors.Join(err, b.DeleteRange(first, append(appendLogKey(nil, last), 0), nil))
		_, perr := putRecords(b, nil, chunk)
		err = errors.Join(err, perr)
		err = errors.Join(err, b.Set(keyUpgradedThrough, binary.BigEndian.AppendUint64(nil, uint64(last)), nil))
	}
	if err == nil {
		err = commit(b, pebble.Sync)
	}
	return len(chunk), last, err
}
