package fle

import (
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/electiontest"
)

func TestConformance(t *testing.T) {
	electiontest.Run(t, New, electiontest.Options{UpToDate: true})
}

// BenchmarkElection5 is one cold-start election of five servers with
// equal logs on the kit's simulated network, to a settled leader.
func BenchmarkElection5(b *testing.B) {
	var members []ext.Member
	for id := int64(1); id <= 5; id++ {
		members = append(members, ext.Member{ID: id, Weight: 1})
	}
	msgs := 0
	for i := 0; b.Loop(); i++ {
		c, err := electiontest.NewCluster(electiontest.Config{
			Members: members, Factory: New, Seed: int64(i), Net: electiontest.Reliable,
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, id := range c.IDs() {
			c.Boot(id, electiontest.Disk{CurrentEpoch: 1, LastZxid: 1 << 32})
		}
		if !c.RunUntil((*electiontest.Cluster).Stable, time.Minute) {
			b.Fatalf("no leader: %v", c.Err())
		}
		msgs += c.Messages()
	}
	b.ReportMetric(float64(msgs)/float64(b.N), "messages/op")
}
