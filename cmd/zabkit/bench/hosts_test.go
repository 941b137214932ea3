package bench

import (
	"slices"
	"testing"
)

func TestRotate(t *testing.T) {
	s := []string{"a", "b", "c"}
	for i, want := range [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}, {"a", "b", "c"}, {"b", "c", "a"}} {
		if got := rotate(s, i); !slices.Equal(got, want) {
			t.Errorf("rotate(%d) = %v, want %v", i, got, want)
		}
	}
	if !slices.Equal(s, []string{"a", "b", "c"}) {
		t.Errorf("rotate changed its input: %v", s)
	}
	if rotate(nil, 3) != nil {
		t.Error("rotate(nil) is not nil")
	}
}

// The provider keeps the given order and reports a full pass without a
// connection, as go-zookeeper expects of a HostProvider.
func TestOrderedHosts(t *testing.T) {
	var h orderedHosts
	if err := h.Init([]string{"b:1", "c:1", "a:1"}); err != nil {
		t.Fatal(err)
	}
	if h.Len() != 3 {
		t.Fatalf("Len = %d", h.Len())
	}
	type step struct {
		s     string
		retry bool
	}
	var got []step
	for range 4 {
		s, r := h.Next()
		got = append(got, step{s, r})
	}
	want := []step{{"b:1", false}, {"c:1", false}, {"a:1", false}, {"b:1", true}}
	if !slices.Equal(got, want) {
		t.Fatalf("Next sequence %v, want %v", got, want)
	}
	h.Connected() // on b:1
	for _, w := range []step{{"c:1", false}, {"a:1", false}, {"b:1", true}} {
		if s, r := h.Next(); (step{s, r}) != w {
			t.Fatalf("after Connected: %v %v, want %v", s, r, w)
		}
	}
}
