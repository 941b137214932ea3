package cli

import (
	"testing"

	"github.com/zabkit/zabkit/internal/testzk"
)

// startZooKeeper runs Debian's Apache ZooKeeper 3.8 for the test, with TTL
// nodes enabled so `create -t` can be exercised.
func startZooKeeper(t *testing.T) string {
	t.Helper()
	return testzk.Start(t, testzk.Options{ExtendedTypes: true}).Addr
}
