package bench

import (
	"testing"

	"github.com/zabkit/zabkit/internal/testzk"
)

// startZooKeeper runs Debian's Apache ZooKeeper 3.8 for the test.
func startZooKeeper(t *testing.T) string {
	t.Helper()
	return testzk.Start(t, testzk.Options{}).Addr
}
