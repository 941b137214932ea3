package pebble_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/pebble"
)

// writeRaw puts keys straight into the Pebble database of a store
// directory, as another program (or another layout version) would.
func writeRaw(t *testing.T, dir string, kv map[string]string) {
	t.Helper()
	db, err := pdb.Open(filepath.Join(dir, "db"), &pdb.Options{Logger: pebbleQuiet{}})
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	for k, v := range kv {
		if err := b.Set([]byte(k), []byte(v), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(pdb.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

type pebbleQuiet struct{}

func (pebbleQuiet) Infof(string, ...any)         {}
func (pebbleQuiet) Errorf(string, ...any)        {}
func (pebbleQuiet) Fatalf(f string, args ...any) { panic(f) }

func TestOpenRefusesUnknownFormat(t *testing.T) {
	for name, kv := range map[string]map[string]string{
		"newer layout":   {"meta/format": "pebble-v9"},
		"not zabkit's":   {"users/1": "alice"},
		"format missing": {"log/\x00\x00\x00\x01\x00\x00\x00\x01": "txn"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeRaw(t, dir, kv)
			s, err := pebble.Open(pebble.Options{Dir: dir, Logger: quietLogger()})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a database it does not know")
			}
			if !errors.Is(err, pebble.ErrFormat) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("Open: %v; want ErrFormat naming the directory", err)
			}
		})
	}
	// A store it wrote itself opens, and says which format it is.
	dir := t.TempDir()
	mustOpen(t, pebble.Options{Dir: dir}).Close()
	s := mustOpen(t, pebble.Options{Dir: dir})
	defer s.Close()
	if c := s.Capabilities(); c.Format != pebble.FormatName || c.Durable {
		t.Fatalf("Capabilities = %+v, want format %s and not durable without ForceSync", c, pebble.FormatName)
	}
}

// Moving the WAL out of the database directory keeps what the old WAL
// held, including entries not yet flushed to tables.
func TestWALDirMovedOut(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, pebble.Options{Dir: dir, ForceSync: true})
	want := storetest.Entries(30, storetest.Range(1, 1, 20)...)
	storetest.MustAppend(t, s, want...)
	s.Close()
	s = mustOpen(t, pebble.Options{Dir: dir, WALDir: filepath.Join(t.TempDir(), "wal"), ForceSync: true})
	defer s.Close()
	storetest.CheckLog(t, s, 0, want)
	more := storetest.Entries(30, storetest.Range(1, 21, 25)...)
	storetest.MustAppend(t, s, more...)
	storetest.CheckLog(t, s, 0, append(want, more...))
}

func TestFirstZxidAndPurgeBound(t *testing.T) {
	s := mustOpen(t, pebble.Options{Dir: t.TempDir(), ForceSync: true})
	defer s.Close()
	if z := s.FirstZxid(); z != 0 {
		t.Fatalf("FirstZxid of an empty store = %#x", z)
	}
	// Four group commits, so four records: 1/1-5, 1/6-10, 1/11-15, 1/16-20.
	want := storetest.Entries(10, storetest.Range(1, 1, 20)...)
	for i := 0; i < len(want); i += 5 {
		storetest.MustAppend(t, s, want[i:i+5]...)
	}
	// Purging goes by record: the record holding the purge zxid stays,
	// so the entry at it does (a follower whose last zxid it is can
	// still be sent a DIFF), and so does the rest of that record.
	for _, c := range []struct{ purge, first int64 }{{8, 6}, {11, 11}, {11, 11}} {
		if err := s.PurgeBefore(storetest.Zxid(1, c.purge)); err != nil {
			t.Fatal(err)
		}
		if z := s.FirstZxid(); z != storetest.Zxid(1, c.first) {
			t.Fatalf("FirstZxid after PurgeBefore(1/%d) = %#x, want 1/%d", c.purge, z, c.first)
		}
		storetest.CheckLog(t, s, 0, want[c.first-1:])
	}
	// Purging beyond the end keeps the last record, which LastZxid is
	// recovered from.
	if err := s.PurgeBefore(storetest.Zxid(2, 0)); err != nil {
		t.Fatal(err)
	}
	if z := s.FirstZxid(); z != storetest.Zxid(1, 16) || s.LastZxid() != storetest.Zxid(1, 20) {
		t.Fatalf("after purging past the end FirstZxid = %#x LastZxid = %#x, want 1/16 and 1/20", z, s.LastZxid())
	}
	storetest.CheckLog(t, s, 0, want[15:])
	if err := s.TruncateAfter(0); err != nil {
		t.Fatal(err)
	}
	if z := s.FirstZxid(); z != 0 {
		t.Fatalf("FirstZxid after truncating everything = %#x", z)
	}
}

func TestMetricsAndUsage(t *testing.T) {
	s := mustOpen(t, pebble.Options{Dir: t.TempDir(), ForceSync: true})
	for i := int64(0); i < 20; i++ {
		storetest.MustAppend(t, s, storetest.Entries(100, storetest.Range(1, i*10+1, i*10+10)...)...)
	}
	byName := map[string]ext.StoreMetric{}
	for _, m := range s.Metrics() {
		if !strings.HasPrefix(m.Name, "pebble_") || m.Help == "" {
			t.Fatalf("metric %+v: want a pebble_ name and help", m)
		}
		if _, dup := byName[m.Name]; dup {
			t.Fatalf("metric %s reported twice", m.Name)
		}
		byName[m.Name] = m
	}
	for name, kind := range map[string]ext.MetricKind{
		"pebble_wal_bytes_written_total": ext.Counter,
		"pebble_wal_fsync_seconds_count": ext.Counter,
		"pebble_wal_size_bytes":          ext.Gauge,
		"pebble_l0_sublevels":            ext.Gauge,
	} {
		if m, ok := byName[name]; !ok || m.Kind != kind {
			t.Fatalf("metric %s = %+v, want kind %v", name, m, kind)
		}
	}
	// 200 entries of ~150 bytes, each batch synced.
	if v := byName["pebble_wal_bytes_written_total"].Value; v < 200*100 {
		t.Fatalf("WAL bytes written = %v after 200 entries", v)
	}
	if v := byName["pebble_wal_fsync_seconds_count"].Value; v < 20 {
		t.Fatalf("WAL syncs = %v after 20 synced appends", v)
	}
	snap, logBytes := s.Usage()
	if snap != 0 || logBytes < 200*100 {
		t.Fatalf("Usage = %d, %d; want no snapshot bytes and the log's", snap, logBytes)
	}
	w, err := s.CreateSnapshot(storetest.Zxid(1, 200))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, 4321))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if snap, _ := s.Usage(); snap != 4321 {
		t.Fatalf("snapshot bytes = %d, want 4321", snap)
	}
	s.Close()
	if m := s.Metrics(); len(m) != 0 {
		t.Fatalf("Metrics after Close = %v", m)
	}
}

// The WAL is sized ahead of its writes (sparseWALFS), so a synced commit
// does not also have to journal a new file size.
func TestWALIsSizedAhead(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, pebble.Options{Dir: dir, ForceSync: true, MemTableSize: 4 << 20})
	defer s.Close()
	storetest.MustAppend(t, s, storetest.Entry(1, 100))
	wals, err := filepath.Glob(filepath.Join(dir, "db", "*.log"))
	if err != nil || len(wals) == 0 {
		t.Fatalf("no WAL in %s: %v", dir, err)
	}
	for _, w := range wals {
		st, err := os.Stat(w)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() < 4<<20 {
			t.Fatalf("WAL %s is %d bytes after one small commit; want it sized to the memtable ahead of the writes", w, st.Size())
		}
	}
}
