package file_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/file"
)

const crashChildEnv = "ZABKIT_STORE_FILE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild appends batches forever, printing each batch's last zxid
// after Append has returned: a printed zxid is an acknowledged one.
func crashChild(dir string) {
	s, err := file.Open(file.Options{DataDir: dir, ForceSync: true, PreAllocSizeKB: 64})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	next := s.LastZxid() + 1
	var batch []ext.Entry
	for i := 0; ; i++ {
		batch = batch[:0]
		for range 1 + rng.IntN(40) {
			batch = append(batch, storetest.Entry(next, 100))
			next++
		}
		if err := s.Append(context.Background(), batch); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(3)
		}
		os.Stdout.WriteString(strconv.FormatInt(next-1, 10) + "\n")
		if i%25 == 24 {
			s.RollLog()
		}
	}
}

// TestKill9Durability SIGKILLs a writer at a random moment, several times
// on the same directory, and checks that every acknowledged zxid survives
// and the log is a gap-free sequence of intact entries.
func TestKill9Durability(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
	acked := int64(0)
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		killAfter := 1 + rng.IntN(120) // acks to see before the kill
		n := 0
		for sc.Scan() {
			z, err := strconv.ParseInt(sc.Text(), 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", sc.Text())
			}
			if z <= acked {
				t.Fatalf("child acknowledged %d after %d", z, acked)
			}
			acked = z
			if n++; n == killAfter {
				cmd.Process.Kill() // SIGKILL, mid-whatever the child is doing
			}
		}
		cmd.Wait()
		if n < killAfter {
			t.Fatalf("round %d: child died on its own after %d acks", round, n)
		}

		s, err := file.Open(file.Options{DataDir: dir, ForceSync: true, Logger: quietLogger()})
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		if s.LastZxid() < acked {
			t.Fatalf("round %d: LastZxid %d < acknowledged %d", round, s.LastZxid(), acked)
		}
		want := int64(1)
		err = s.ReadLog(context.Background(), 0, func(e ext.Entry) error {
			if e.Zxid != want {
				return fmt.Errorf("entry %d where %d was expected", e.Zxid, want)
			}
			if string(e.Data) != string(storetest.Entry(e.Zxid, 100).Data) {
				return fmt.Errorf("entry %d has wrong bytes", e.Zxid)
			}
			want++
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if want-1 != s.LastZxid() {
			t.Fatalf("round %d: log ends at %d, LastZxid %d", round, want-1, s.LastZxid())
		}
		t.Logf("round %d: %d acks before the kill, last acked %d, recovered up to %d", round, n, acked, s.LastZxid())
		s.Close()
	}
}
