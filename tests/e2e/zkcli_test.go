package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/internal/zkraw"
	"github.com/zabkit/zabkit/tests/internal/launch"
)

const zkCli = "/usr/share/zookeeper/bin/zkCli.sh"

// TestJavaZkCli drives Apache ZooKeeper's own Java shell. Commands go in on
// stdin (one JVM and one session for the whole script, so addauth holds
// for what follows) and the output is matched line by line, in order.
func TestJavaZkCli(t *testing.T) {
	if _, err := os.Stat(zkCli); err != nil {
		t.Fatalf("%s missing (apt-get install zookeeper): %v", zkCli, err)
	}
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		r := root
		hash := strings.TrimPrefix(zkraw.DigestID("u", "p"), "u:")
		script := strings.Join([]string{
			"create " + r + "/a hello",
			"create -s " + r + "/a/s- x",
			"create -e " + r + "/eph e",
			"create -c " + r + "/ctr",
			"create -t 100000 " + r + "/ttl",
			"get " + r + "/a",
			"get -s " + r + "/a",
			"set " + r + "/a world",
			"set -v 0 " + r + "/a x",
			"stat " + r + "/a",
			"ls " + r,
			"ls -R " + r,
			"delete " + r + "/a",
			"deleteall " + r + "/a",
			"ls " + r,
			"addauth digest u:p",
			"create " + r + "/sec data digest:u:" + hash + ":cdrwa",
			"getAcl " + r + "/sec",
			"setAcl " + r + "/sec world:anyone:r",
			"getAcl " + r + "/sec",
			"set " + r + "/sec nope",
			"getEphemerals " + r,
			"getAllChildrenNumber " + r,
			"whoami",
			"sync " + r,
			"get " + r + "/missing",
			"quit",
		}, "\n") + "\n"
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, zkCli, "-server", srv.Addr)
		cmd.Stdin = strings.NewReader(script)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		// zkCli.sh exits with the status of its last failing command, so
		// only a failure to run at all is fatal; the output says the rest.
		if err := cmd.Run(); err != nil {
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("zkCli.sh: %v\n%s", err, out.String())
			}
		}
		want := []string{
			"Created " + r + "/a",
			"Created " + r + "/a/s-0000000000",
			"Created " + r + "/eph",
			"Created " + r + "/ctr",
			"Created " + r + "/ttl",
			"hello", // get
			"hello", // get -s
			"cZxid = 0x",
			"cversion = 1",
			"dataVersion = 0",
			"aclVersion = 0",
			"ephemeralOwner = 0x0",
			"dataLength = 5",
			"numChildren = 1",
			"version No is not valid : " + r + "/a",
			"dataVersion = 1", // stat
			"numChildren = 1",
			"[a, ctr, eph, ttl]",
			r, r + "/a", r + "/ctr", r + "/eph", r + "/ttl", r + "/a/s-0000000000", // ls -R, breadth first
			"Node not empty: " + r + "/a",
			"[ctr, eph, ttl]",
			"Created " + r + "/sec",
			"'digest,'u:" + hash,
			": cdrwa",
			"'world,'anyone",
			": r",
			"Insufficient permission : " + r + "/sec",
			"[" + r + "/eph]",
			"4",
			"Auth scheme: User",
			"Sync is OK",
			"Node does not exist: " + r + "/missing",
		}
		assertLinesInOrder(t, out.String(), want)
		for _, line := range []string{"ip: 127.0.0.1", "digest: u"} {
			if !hasLine(out.String(), line) {
				t.Errorf("whoami output lacks %q", line)
			}
		}
	})
}

func hasLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimRight(l, "\r") == want {
			return true
		}
	}
	return false
}

// assertLinesInOrder checks that each wanted line appears as a whole line
// of out, after the previous one (other lines may come between).
func assertLinesInOrder(t *testing.T, out string, want []string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for _, w := range want {
		found := false
		for ; i < len(lines); i++ {
			l := strings.TrimRight(lines[i], "\r")
			if l == w || (strings.HasSuffix(w, "0x") && strings.HasPrefix(l, w)) {
				found = true
				i++
				break
			}
		}
		if !found {
			t.Fatalf("output lacks line %q (in order); full output:\n%s", w, out)
		}
	}
}
