package fleadaptive

import (
	"testing"

	"github.com/zabkit/zabkit/core/ext/electiontest"
)

func TestConformance(t *testing.T) {
	electiontest.Run(t, New, electiontest.Options{UpToDate: true, Seeds: 60})
}
