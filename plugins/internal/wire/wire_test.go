package wire

import (
	"errors"
	"fmt"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
)

// The store errors a kit compares with errors.Is survive the boundary.
func TestStoreErrorsRoundTrip(t *testing.T) {
	for _, sentinel := range []error{ext.ErrZxidGap, ext.ErrZxidOrder, ext.ErrNoSnapshot, ext.ErrCorrupt, ext.ErrClosed} {
		got := FromStatus(StatusError(fmt.Errorf("store: %w", sentinel)))
		if !errors.Is(got, sentinel) {
			t.Errorf("%v came back as %v", sentinel, got)
		}
		if Transport(StatusError(sentinel)) {
			t.Errorf("%v looks like a dead plugin", sentinel)
		}
	}
	if got := FromStatus(StatusError(ext.ErrZxidGap)); !errors.Is(got, ext.ErrZxidOrder) {
		t.Errorf("a gap must still be an order error: %v", got)
	}
	other := FromStatus(StatusError(errors.New("disk on fire")))
	if errors.Is(other, ext.ErrZxidOrder) || errors.Is(other, ext.ErrCorrupt) || other.Error() == "" {
		t.Errorf("an unknown error came back as %v", other)
	}
}

// An election output keeps "nothing to persist" apart from "persist an
// empty vote", and every field.
func TestElectionOutputRoundTrip(t *testing.T) {
	for _, in := range []ext.ElectionOutput{
		{},
		{PersistVote: []byte{}, WakeAt: 5},
		{
			Send:        []ext.Outgoing{{To: 2, Data: []byte("n")}, {To: 3}},
			PersistVote: []byte("vote"),
			Decided:     &ext.Decision{State: ext.Following, Vote: ext.Vote{Leader: 3, Zxid: 9, ElectionEpoch: 2, PeerEpoch: 1}},
			WakeAt:      1234,
		},
	} {
		out := FromOutput(Output(in))
		if (in.PersistVote == nil) != (out.PersistVote == nil) || string(in.PersistVote) != string(out.PersistVote) ||
			in.WakeAt != out.WakeAt || len(in.Send) != len(out.Send) || (in.Decided == nil) != (out.Decided == nil) {
			t.Fatalf("%+v came back as %+v", in, out)
		}
		if in.Decided != nil && *in.Decided != *out.Decided {
			t.Fatalf("decision %+v came back as %+v", *in.Decided, *out.Decided)
		}
	}
}

func TestMetaRoundTrip(t *testing.T) {
	m := ext.Meta{CurrentEpoch: 3, AcceptedEpoch: 4, LastVote: []byte{1}, DBID: 7}
	if got := FromMeta(Meta(m)); got.CurrentEpoch != 3 || got.AcceptedEpoch != 4 || string(got.LastVote) != "\x01" || got.DBID != 7 {
		t.Fatalf("%+v came back as %+v", m, got)
	}
	if got := FromMeta(Meta(ext.Meta{CurrentEpoch: -1, AcceptedEpoch: -1})); got.LastVote != nil {
		t.Fatalf("no vote came back as %v", got.LastVote)
	}
}
