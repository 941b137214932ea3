package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/tests/internal/launch"
)

const cliMt = "/usr/lib/zookeeper/bin/cli_mt"

// TestCCliMt drives the C client's shell in batch mode (-c), one command
// per process: its interactive mode quits before async replies arrive.
// Each process is its own session, so an ephemeral it makes is gone when
// it exits, which the test uses. `exists` is left out: in batch mode it
// has no completion to wait for and may never exit.
func TestCCliMt(t *testing.T) {
	if _, err := os.Stat(cliMt); err != nil {
		t.Fatalf("%s missing (apt-get install zookeeper-bin): %v", cliMt, err)
	}
	forEachTarget(t, func(t *testing.T, srv *launch.Server, r string) {
		run := func(cmd string) string {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := exec.CommandContext(ctx, cliMt, "-h", srv.Addr, "-c", cmd)
			var out bytes.Buffer
			c.Stdout, c.Stderr = &out, &out
			if err := c.Run(); err != nil {
				t.Fatalf("cli_mt -c %q: %v\n%s", cmd, err, out.String())
			}
			return out.String()
		}
		steps := []struct {
			cmd  string
			want []string // whole lines (trimmed), in order
		}{
			{"create " + r + "/x", []string{"[" + r + "/x]: rc = 0", "name = " + r + "/x"}},
			{"set " + r + "/x hello", []string{r + "/x: rc = 0 Stat:", "version=1\taversion=0", "ephemeralOwner = 0"}},
			{"get " + r + "/x", []string{r + "/x: rc = 0", "value_len = 5", "hello", "Stat:", "version=1\taversion=0"}},
			{"create +s " + r + "/x/s-", []string{"[" + r + "/x/s-]: rc = 0", "name = " + r + "/x/s-0000000000"}},
			{"create +e " + r + "/x/e", []string{"[" + r + "/x/e]: rc = 0", "name = " + r + "/x/e"}},
			{"create2 " + r + "/x/c2", []string{"[" + r + "/x/c2]: rc = 0", "name = " + r + "/x/c2", "version=0\taversion=0"}},
			{"delete " + r + "/x", []string{r + "/x: rc = -111"}},
			{"create +t=5000 " + r + "/t", []string{"[" + r + "/t]: rc = 0"}},
			{"create +c " + r + "/ctr", []string{"[" + r + "/ctr]: rc = 0"}},
			{"sync " + r, []string{"[" + r + "]: rc = 0", "name = " + r}},
			{"get " + r + "/missing", []string{r + "/missing: rc = -101"}},
			// The ephemeral /x/e left with its session; the counter did not.
			{"create +s " + r + "/x/s-", []string{"name = " + r + "/x/s-0000000003"}},
			{"delete " + r + "/x/c2", []string{r + "/x/c2: rc = 0"}},
		}
		for _, s := range steps {
			out := run(s.cmd)
			assertTrimmedLinesInOrder(t, s.cmd, out, s.want)
		}
		// ls/ls2 list children in no defined order.
		for _, cmd := range []string{"ls " + r + "/x", "ls2 " + r + "/x"} {
			out := run(cmd)
			assertTrimmedLinesInOrder(t, cmd, out, []string{r + "/x: rc = 0"})
			for _, kid := range []string{"s-0000000000", "s-0000000003"} {
				if !hasTrimmedLine(out, kid) {
					t.Errorf("%s lacks child %s:\n%s", cmd, kid, out)
				}
			}
			for _, gone := range []string{"e", "c2"} {
				if hasTrimmedLine(out, gone) {
					t.Errorf("%s still lists %s:\n%s", cmd, gone, out)
				}
			}
		}
		if out := run("ls2 " + r + "/x"); !hasTrimmedLine(out, "version=1\taversion=0") {
			t.Errorf("ls2 lacks the parent's stat:\n%s", out)
		}
	})
}

func hasTrimmedLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

func assertTrimmedLinesInOrder(t *testing.T, cmd, out string, want []string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for _, w := range want {
		found := false
		for ; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) == w {
				found = true
				i++
				break
			}
		}
		if !found {
			t.Fatalf("cli_mt -c %q: output lacks line %q (in order):\n%s", cmd, w, out)
		}
	}
}
