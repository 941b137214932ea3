package testzk

import (
	"strings"
	"testing"
)

func TestStartServesAndStops(t *testing.T) {
	s := Start(t, Options{})
	out, err := s.FourLetter("ruok")
	if err != nil || out != "imok" {
		t.Fatalf("ruok = %q, %v", out, err)
	}
	out, _ = s.FourLetter("srvr")
	if !strings.Contains(out, "Mode: standalone") {
		t.Fatalf("srvr = %q", out)
	}
	// A fresh data dir gets snapshot.0 at start-up.
	if snaps := s.Snapshots(); len(snaps) != 1 || !strings.HasSuffix(snaps[0], "snapshot.0") {
		t.Fatalf("snapshots %v", snaps)
	}
	s.Stop()
	s.Stop() // idempotent
	if _, err := s.FourLetter("ruok"); err == nil {
		t.Fatal("server still answers after Stop")
	}
}
