package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/cmd/zabkit/offline"
	"github.com/zabkit/zabkit/internal/testzk"
)

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}

func zkConnect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogger(quietLog{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// run runs an offline tool as the binary would, with the modules this
// binary registers (store.file, store.pebble, store.mem).
func run(t *testing.T, tool func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) int, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := tool(context.Background(), args, &out, &errb)
	return code, out.String() + errb.String()
}

func convert(ctx context.Context, args []string, out, errb *bytes.Buffer) int {
	return offline.Convert(ctx, args, out, errb)
}

func verify(ctx context.Context, args []string, out, errb *bytes.Buffer) int {
	return offline.Verify(ctx, args, out, errb)
}

func dump(_ context.Context, args []string, out, errb *bytes.Buffer) int {
	return offline.Dump(args, out, errb)
}

// TestOfflineToolsThroughPebble takes a data directory Apache ZooKeeper
// wrote, converts it to store.pebble and back to store.file with the
// command-line tools, verifies each copy, and has ZooKeeper serve the
// result.
func TestOfflineToolsThroughPebble(t *testing.T) {
	zkDir := t.TempDir()
	srv := testzk.Start(t, testzk.Options{DataDir: zkDir})
	c := zkConnect(t, srv.Addr)
	acl := zk.WorldACL(zk.PermAll)
	for i := range 20 {
		if _, err := c.Create(fmt.Sprintf("/n%02d", i), []byte(fmt.Sprintf("v%d", i)), 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Set("/n07", []byte("changed"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/eph", nil, zk.FlagEphemeral, acl); err != nil {
		t.Fatal(err)
	}
	srv.Stop() // SIGKILL: the session and its ephemeral stay in the data
	const txns = 1 + 20 + 1 + 1

	pebDir, backDir := t.TempDir(), t.TempDir()
	if code, out := run(t, convert, "--from", "store.file", "--from-dir", zkDir, "--to", "store.pebble", "--to-dir", pebDir); code != 0 ||
		!strings.Contains(out, fmt.Sprintf("txns copied: %d", txns)) || !strings.Contains(out, "OK: the destination recovers to the same state") {
		t.Fatalf("file -> pebble: exit %d\n%s", code, out)
	}
	matches := regexp.MustCompile(fmt.Sprintf(`TxnDigests: %d match, 0 differ`, txns))
	if code, out := run(t, verify, "--store", "store.pebble", "--dataDir", pebDir); code != 0 || !matches.MatchString(out) {
		t.Fatalf("verify pebble: exit %d\n%s", code, out)
	}
	if code, out := run(t, convert, "--from", "store.pebble", "--from-dir", pebDir, "--to", "store.file", "--to-dir", backDir); code != 0 {
		t.Fatalf("pebble -> file: exit %d\n%s", code, out)
	}
	if code, out := run(t, verify, "--dataDir", backDir); code != 0 || !matches.MatchString(out) || !strings.Contains(out, "OK: 0 errors, 0 warnings") {
		t.Fatalf("verify file: exit %d\n%s", code, out)
	}
	if code, out := run(t, dump, filepath.Join(backDir, "version-2", "log.1")); code != 0 || !strings.Contains(out, `setData path=/n07 data="changed"`) {
		t.Fatalf("dump: exit %d\n%s", code, out)
	}
	if code, out := run(t, convert, "--from", "store.file", "--from-dir", zkDir, "--to", "store.pebble", "--to-dir", pebDir); code != 1 || !strings.Contains(out, "not empty") {
		t.Fatalf("into a non-empty store: exit %d\n%s", code, out)
	}

	// Apache ZooKeeper serves what came back.
	srv = testzk.Start(t, testzk.Options{DataDir: backDir})
	c = zkConnect(t, srv.Addr)
	data, _, err := c.Get("/n07")
	if err != nil || string(data) != "changed" {
		t.Fatalf("ZooKeeper on the round-tripped directory: %q %v", data, err)
	}
	if kids, _, err := c.Children("/"); err != nil || len(kids) != 22 { // n00..n19, eph, zookeeper
		t.Fatalf("children %v %v", kids, err)
	}
}

func TestUsageListsOfflineTools(t *testing.T) {
	for _, cmd := range []string{"dump", "verify", "convert"} {
		if !strings.Contains(usage, "\n  "+cmd+" ") || commands[cmd] == nil {
			t.Errorf("%s is not listed or not wired", cmd)
		}
	}
}
