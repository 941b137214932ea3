package snapdir

import "testing"

// Only names Name produces are snapshots: ZooKeeper's compressed variants,
// temp files and other spellings of a zxid are not listed.
func TestParseTakesOnlyCanonicalNames(t *testing.T) {
	for _, z := range []int64{0, 1, 0xabc, 0x100000004, 1<<63 - 1} {
		if got, ok := Parse(Name(z)); !ok || got != z {
			t.Fatalf("Parse(Name(%#x)) = %#x, %v", z, got, ok)
		}
	}
	for _, name := range []string{"snapshot.", "snapshot.0A", "snapshot.0a", "snapshot.-1", "snapshot.+1",
		"snapshot.1.gz", "snapshot.1.snappy", "tmp.snapshot.1.3", "log.1", "snapshot.10000000000000000"} {
		if z, ok := Parse(name); ok {
			t.Fatalf("Parse(%q) = %#x; want it refused", name, z)
		}
	}
}
