package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/tests/internal/launch"
)

// debianPython is the interpreter python3-kazoo is installed for; a pyenv
// python3 earlier on PATH would not see it.
const debianPython = "/usr/bin/python3"

// TestKazooRecipes runs tests/python/test_kazoo.py (kazoo's Lock, Election,
// Counter, Barrier, Queue recipes, transactions, watches, ACLs) against the
// target and fails on a non-zero exit.
func TestKazooRecipes(t *testing.T) {
	if _, err := os.Stat(debianPython); err != nil {
		t.Fatalf("%s missing (apt-get install python3-kazoo): %v", debianPython, err)
	}
	if out, err := exec.Command(debianPython, "-c", "import kazoo").CombinedOutput(); err != nil {
		t.Fatalf("kazoo not importable by %s (apt-get install python3-kazoo): %v\n%s", debianPython, err, out)
	}
	script, err := filepath.Abs("../python/test_kazoo.py")
	if err != nil {
		t.Fatal(err)
	}
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// Every member is listed; the script spreads its clients over them.
		cmd := exec.CommandContext(ctx, debianPython, script, "--hosts", srv.ConnectString())
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		t.Logf("test_kazoo.py output:\n%s", out.String())
		if err != nil {
			t.Fatalf("test_kazoo.py failed: %v", err)
		}
		if !strings.Contains(out.String(), " passed, 0 failed") {
			t.Fatal("test_kazoo.py did not report a clean summary")
		}
	})
}
