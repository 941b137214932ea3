package pebble

import (
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	dto "github.com/prometheus/client_model/go"

	"github.com/zabkit/zabkit/core/ext"
)

// stallCounter counts Pebble's write stalls (memtables or L0 full): each
// one blocks Append, so they explain write-latency spikes.
type stallCounter struct {
	count   atomic.Int64
	nanos   atomic.Int64
	started atomic.Int64 // UnixNano of the stall in progress, 0 if none
}

func (c *stallCounter) listener() *pebble.EventListener {
	return &pebble.EventListener{
		WriteStallBegin: func(pebble.WriteStallBeginInfo) {
			c.count.Add(1)
			c.started.Store(time.Now().UnixNano())
		},
		WriteStallEnd: func() {
			if t := c.started.Swap(0); t != 0 {
				c.nanos.Add(time.Now().UnixNano() - t)
			}
		},
	}
}

// Metrics implements ext.MetricsReporter with the Pebble internals that
// matter for a txn log: the WAL (bytes and sync latency, the floor of
// write latency), what can stall writes (L0, memtables, compaction debt)
// and the space the log takes (WAL and tables). Names start with "pebble_".
func (s *Store) Metrics() []ext.StoreMetric {
	if s.enter() != nil {
		return nil
	}
	defer s.leave()
	m := s.db.Metrics()
	gauge := func(name, help string, v float64) ext.StoreMetric {
		return ext.StoreMetric{Name: "pebble_" + name, Help: help, Kind: ext.Gauge, Value: v}
	}
	counter := func(name, help string, v float64) ext.StoreMetric {
		return ext.StoreMetric{Name: "pebble_" + name, Help: help, Kind: ext.Counter, Value: v}
	}
	var fsyncSum, fsyncCount float64
	if h := m.LogWriter.FsyncLatency; h != nil {
		var d dto.Metric
		if h.Write(&d) == nil {
			// Pebble observes nanoseconds.
			fsyncSum = d.GetHistogram().GetSampleSum() / 1e9
			fsyncCount = float64(d.GetHistogram().GetSampleCount())
		}
	}
	l0 := m.Levels[0]
	return []ext.StoreMetric{
		counter("wal_bytes_written_total", "Bytes written to the WAL, framing included.", float64(m.WAL.BytesWritten)),
		counter("wal_bytes_in_total", "Logical bytes committed to the WAL.", float64(m.WAL.BytesIn)),
		gauge("wal_files", "Live WAL files.", float64(m.WAL.Files)),
		gauge("wal_size_bytes", "Bytes of log in live WAL files, not yet flushed to tables.", float64(m.WAL.Size)),
		counter("wal_fsync_seconds_sum", "Total time spent in WAL syncs.", fsyncSum),
		counter("wal_fsync_seconds_count", "WAL syncs.", fsyncCount),
		counter("flushes_total", "Memtable flushes.", float64(m.Flush.Count)),
		counter("compactions_total", "Compactions.", float64(m.Compact.Count)),
		gauge("compactions_in_progress", "Compactions running now.", float64(m.Compact.NumInProgress)),
		gauge("compaction_debt_bytes", "Estimated bytes compactions need to rewrite to settle the LSM.", float64(m.Compact.EstimatedDebt)),
		gauge("l0_files", "Tables in L0.", float64(l0.TablesCount)),
		gauge("l0_sublevels", "L0 sublevels (L0 read amplification; writes stall at l0StopWritesThreshold).", float64(l0.Sublevels)),
		gauge("read_amplification", "Tables a read may consult: L0 sublevels plus non-empty levels.", float64(m.ReadAmp())),
		gauge("memtable_size_bytes", "Bytes allocated to memtables, including those waiting to flush.", float64(m.MemTable.Size)),
		gauge("memtables", "Memtables, including those waiting to flush.", float64(m.MemTable.Count)),
		gauge("tables_size_bytes", "Bytes in sstables over all levels.", float64(m.Total().TablesSize)),
		gauge("block_cache_size_bytes", "Bytes in the block cache.", float64(m.BlockCache.Size)),
		counter("block_cache_hits_total", "Block cache hits.", float64(m.BlockCache.Hits)),
		counter("block_cache_misses_total", "Block cache misses.", float64(m.BlockCache.Misses)),
		counter("write_stalls_total", "Times Pebble stalled writes (memtables or L0 full).", float64(s.stalls.count.Load())),
		counter("write_stall_seconds_total", "Time writes spent stalled.", float64(s.stalls.nanos.Load())/1e9),
	}
}
