package storetest

import (
	"math/rand/v2"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
)

// TearFunc damages, in the directory of a closed store, the newest entry
// the store wrote (last), the way a crash in the middle of that Append
// would: cut the file inside its record, zero it, or fill it with garbage.
// It must damage that entry (recovery has to drop it) and must not touch
// anything written before it. rng varies where and how.
type TearFunc func(dir string, last ext.Entry, rng *rand.Rand) error

// tornTailRounds is how many torn tails RunTornTail recovers from.
const tornTailRounds = 20

// RunTornTail writes batches, closes the store, lets tear damage the
// newest entry and reopens: Open must succeed, keep every batch before the
// torn one intact, drop at least the torn entry, report the new end through
// LastZxid, and take appends that continue from it, which survive another
// restart. A store that cannot damage its own files (a remote service) has
// no TearFunc and skips this; RunCrash covers torn tails made by real kills.
func RunTornTail(t *testing.T, open OpenFunc, tear TearFunc) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x7ea2))
	for round := range tornTailRounds {
		dir := t.TempDir()
		s := open(t, dir)
		var all []ext.Entry
		next := Zxid(1, 1)
		batches := 1 + rng.IntN(4)
		kept := 0 // entries in the batches before the last
		for b := range batches {
			if b == batches-1 {
				kept = len(all)
			}
			var batch []ext.Entry
			for range 1 + rng.IntN(12) {
				batch = append(batch, Entry(next, rng.IntN(3000)))
				next++
			}
			MustAppend(t, s, batch...)
			all = append(all, batch...)
			if rng.IntN(4) == 0 {
				if err := s.RollLog(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := tear(dir, all[len(all)-1], rng); err != nil {
			t.Fatalf("round %d: tear: %v", round, err)
		}

		s = open(t, dir)
		got := ReadAll(t, s, 0)
		if len(got) < kept || len(got) >= len(all) {
			t.Fatalf("round %d: recovered %d entries %s; want at least the %d acknowledged before the torn batch and not the torn entry %#x",
				round, len(got), zxids(got), kept, all[len(all)-1].Zxid)
		}
		CheckLog(t, s, 0, all[:len(got)])
		end := int64(0)
		if len(got) > 0 {
			end = got[len(got)-1].Zxid
		}
		more := Entries(77, end+1, end+2)
		MustAppend(t, s, more...)
		want := append(all[:len(got):len(got)], more...)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, dir)
		CheckLog(t, s, 0, want)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
