package session

import (
	"encoding/hex"
	"testing"
)

// The expected bytes come from running Java's Random(id ^ 0xB3415C00) on a
// real JVM (java.util.Random is specified bit-exactly).
func TestPasswordMatchesJavaRandom(t *testing.T) {
	got := hex.EncodeToString(Password(0))
	// new Random(0xB3415C00L).nextBytes(new byte[16])
	want := javaRandomBytes(t, 0xB3415C00)
	if got != want {
		t.Fatalf("Password(0) = %s, want %s", got, want)
	}
}

func TestInitialID(t *testing.T) {
	id := InitialID(1, 0x123456789)
	if id>>56 != 1 {
		t.Fatalf("top byte = %d, want server id 1", id>>56)
	}
	if id&0xFFFF != 0 || (id>>16)&0xFFFFFFFFFF != 0x123456789 {
		t.Fatalf("low 16 bits must be zero and the clock above them, got %x", id)
	}
}

func TestExpiryBuckets(t *testing.T) {
	tr := NewTracker(2000, 100)
	a, b := tr.NextID(), tr.NextID()
	if a != 100 || b != 101 {
		t.Fatalf("ids %d %d", a, b)
	}
	tr.Add(a, 4000, 0)
	tr.Add(b, 10000, 0)
	if got := tr.Expire(3999); len(got) != 0 {
		t.Fatalf("expired too early: %v", got)
	}
	if got := tr.Expire(6000); len(got) != 1 || got[0] != a {
		t.Fatalf("Expire(6000) = %v, want [%d]", got, a)
	}
	if tr.Valid(a) || tr.Touch(a, 6000) {
		t.Fatal("a closing session must not be valid or touchable")
	}
	if got := tr.Expire(7000); len(got) != 0 {
		t.Fatalf("a session must expire once, got %v", got)
	}
	if !tr.Touch(b, 9000) {
		t.Fatal("touch b")
	}
	if got := tr.Expire(12000); len(got) != 0 {
		t.Fatalf("touched session expired: %v", got)
	}
	if got := tr.Expire(20000); len(got) != 1 || got[0] != b {
		t.Fatalf("Expire(20000) = %v", got)
	}
	tr.Remove(a)
	tr.Remove(b)
	if tr.Len() != 0 || len(tr.Buckets()) != 0 {
		t.Fatal("remove left state behind")
	}
}
