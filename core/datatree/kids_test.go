package datatree

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestKidTableIncrementalResize drives one table through growth past the
// incremental threshold and back down with random inserts and removes,
// checking it against a map after every write, and that a resize moves at
// most step slots per write rather than rehashing everything at once.
func TestKidTableIncrementalResize(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	kt := &kidTable{}
	model := map[string]*node{}
	sawResize, sawShrink := false, false
	check := func(step int) {
		if kt.Len() != len(model) {
			t.Fatalf("step %d: Len %d, want %d", step, kt.Len(), len(model))
		}
		if step%61 == 0 || kt.old != nil && kt.old.live < 8 {
			checkKidTable(t, "/", kt, len(model))
		}
		if step%199 == 0 {
			for name, n := range model {
				if kt.get(name) != n {
					t.Fatalf("step %d: %q not found", step, name)
				}
			}
			seen := 0
			kt.each(func(c *node) {
				if model[c.name()] != c {
					t.Fatalf("step %d: each yields stray %q", step, c.name())
				}
				seen++
			})
			if seen != len(model) {
				t.Fatalf("step %d: each yields %d of %d", step, seen, len(model))
			}
		}
	}
	write := func(step int, op func()) {
		var before int
		o := kt.old
		if o != nil {
			before = o.next
		}
		op()
		if o != nil && kt.old == o && o.next-before > o.step {
			t.Fatalf("step %d: one write moved %d slots, step %d", step, o.next-before, o.step)
		}
		if kt.old != nil {
			sawResize = true
			if len(kt.old.slots) > len(kt.slots) {
				sawShrink = true
			}
		}
		check(step)
	}
	id := 0
	for step := 0; step < 60000; step++ {
		grow := step < 40000
		if (grow && r.IntN(4) != 0) || (!grow && r.IntN(4) == 0) || len(model) == 0 {
			n := &node{}
			name := fmt.Sprintf("k%07d", id)
			id++
			n.setBuf(name, nil)
			model[name] = n
			write(step, func() { kt.insert(n) })
			if kt.insertNew(n, hashName(name)) {
				t.Fatalf("step %d: insertNew accepted a duplicate", step)
			}
		} else {
			var name string
			for name = range model {
				break
			}
			delete(model, name)
			write(step, func() {
				if !kt.remove(name) {
					t.Fatalf("step %d: remove %q failed", step, name)
				}
			})
			if kt.remove(name) {
				t.Fatalf("step %d: removed %q twice", step, name)
			}
		}
	}
	if !sawResize || !sawShrink {
		t.Fatalf("no incremental resize exercised (grow %v, shrink %v)", sawResize, sawShrink)
	}
}
