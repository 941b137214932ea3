package file_test

import (
	"log/slog"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/file"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

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
