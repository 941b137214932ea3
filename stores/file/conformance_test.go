package file_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/file"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestMain lets this test binary serve as the kit's crash child.
func TestMain(m *testing.M) {
	storetest.CrashMain(crashOpen)
	os.Exit(m.Run())
}

func TestConformance(t *testing.T) {
	for _, sync := range []bool{true, false} {
		name := "ForceSync"
		if !sync {
			name = "NoSync"
		}
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, dir string) ext.Store {
				s, err := file.Open(file.Options{DataDir: dir, ForceSync: sync, Logger: quietLogger()})
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				return s
			})
		})
	}
}

// A separate log directory and a small pre-allocation step exercise the
// other layout and the file growth path.
func TestConformanceSeparateLogDir(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string) ext.Store {
		s, err := file.Open(file.Options{DataDir: dir + "/data", DataLogDir: dir + "/log", ForceSync: true, PreAllocSizeKB: 8, Logger: quietLogger()})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// crashOpen is the store the crash child writes and RunCrash reopens:
// durable, with a 64 KiB pre-allocation step so that kills land while the
// log grows as well as inside its pre-allocated space.
func crashOpen(dir string) (ext.Store, error) {
	s, err := file.Open(file.Options{DataDir: dir, ForceSync: true, PreAllocSizeKB: 64, Logger: quietLogger()})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// TestKill9Durability SIGKILLs a writer at random points, several times on
// the same directory: every acknowledged write must be there afterwards.
func TestKill9Durability(t *testing.T) {
	storetest.RunCrash(t, crashOpen, storetest.CrashOptions{})
}

func TestTornTail(t *testing.T) {
	storetest.RunTornTail(t, storetest.Opener(crashOpen).OpenFunc(), tearLastRecord)
}

// tearLastRecord damages the record of last in the newest log file as an
// interrupted write leaves it: the file cut inside the record, the record
// zeroed from a point on (only part of the write reached the pre-allocated
// space), or overwritten with garbage from a point on.
func tearLastRecord(dir string, last ext.Entry, rng *rand.Rand) error {
	logDir := filepath.Join(dir, "version-2")
	ents, err := os.ReadDir(logDir)
	if err != nil {
		return err
	}
	newest, path := int64(-1), ""
	for _, e := range ents {
		z, err := strconv.ParseUint(strings.TrimPrefix(e.Name(), "log."), 16, 63)
		if err == nil && strings.HasPrefix(e.Name(), "log.") && int64(z) > newest {
			newest, path = int64(z), filepath.Join(logDir, e.Name())
		}
	}
	if path == "" {
		return fmt.Errorf("no log file in %s", logDir)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// The record is checksum (8) | length (4) | data | 'B'.
	i := bytes.LastIndex(b, last.Data)
	if i < 12 {
		return fmt.Errorf("entry %#x not found in %s", last.Zxid, path)
	}
	start, end := i-12, i+len(last.Data)+1
	cut := start + rng.IntN(end-start)
	switch rng.IntN(3) {
	case 0:
		return os.Truncate(path, int64(cut))
	case 1:
		clear(b[cut:end])
	default:
		for j := cut; j < end; j++ {
			b[j] = byte(rng.Uint32())
		}
	}
	return os.WriteFile(path, b, 0o644)
}
