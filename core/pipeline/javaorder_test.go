package pipeline

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/proto/jute"
)

// javaCloseOrder runs the JVM on ZooKeeper's own recipe: a HashSet filled
// in creation order, cloned, the outstanding creates added, then listed.
func javaCloseOrder(t *testing.T, applied, outstanding []string) []string {
	t.Helper()
	dir := t.TempDir()
	src := `import java.util.*;
public class C { public static void main(String[] a) {
  HashSet<String> orig = new HashSet<>(); int i = 0;
  for (; i < a.length && !a[i].equals("+"); i++) orig.add(a[i]);
  @SuppressWarnings("unchecked") HashSet<String> es = (HashSet<String>) orig.clone();
  for (i++; i < a.length; i++) es.add(a[i]);
  StringBuilder b = new StringBuilder();
  for (String s : es) b.append(s).append('\n');
  System.out.print(b);
}}`
	if err := os.WriteFile(filepath.Join(dir, "C.java"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{filepath.Join(dir, "C.java")}, applied...)
	args = append(args, "+")
	args = append(args, outstanding...)
	out, err := exec.Command("java", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("java: %v: %s", err, out)
	}
	return strings.Fields(string(out))
}

func TestCloseSessionOrderMatchesJava(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, n := range [][2]int{{1, 1}, {2, 0}, {5, 2}, {12, 3}, {13, 0}, {30, 7}} {
		h := newHarness(t)
		var applied, outstanding []string
		for i := 0; i < n[0]; i++ {
			p := fmt.Sprintf("/k%d-%d", rng.IntN(1e6), i)
			h.prep(1, jute.OpCreate, create(p, jute.FlagEphemeral))
			applied = append(applied, p)
		}
		h.applyAll()
		for i := 0; i < n[1]; i++ {
			p := fmt.Sprintf("/o%d-%d", rng.IntN(1e6), i)
			h.prep(1, jute.OpCreate, create(p, jute.FlagEphemeral))
			outstanding = append(outstanding, p)
		}
		cs := h.prep(1, jute.OpCloseSession, nil)
		got := cs.Txn.(*jute.CloseSessionTxn).Paths
		want := javaCloseOrder(t, applied, outstanding)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%d applied + %d outstanding:\n got %v\nwant %v", n[0], n[1], got, want)
		}
	}
}
