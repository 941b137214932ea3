package cli

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// run executes one command through Run and returns exit code and outputs.
func run(t *testing.T, addr string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), append([]string{"-server", addr, "-timeout", "10s"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// must runs a command that has to succeed and returns its stdout.
func must(t *testing.T, addr string, args ...string) string {
	t.Helper()
	code, out, errs := run(t, addr, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
	}
	return out
}

// fails runs a command that has to fail with exit 1 and the given message.
func fails(t *testing.T, addr, msg string, args ...string) {
	t.Helper()
	code, out, errs := run(t, addr, args...)
	if code != exitError || strings.TrimSpace(errs) != msg {
		t.Fatalf("%v: exit %d stdout %q stderr %q, want exit 1 and %q", args, code, out, errs, msg)
	}
}

var statRE = regexp.MustCompile(`^cZxid = 0x[0-9a-f]+
ctime = [A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d [A-Z]+ \d{4}
mZxid = 0x[0-9a-f]+
mtime = [A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d [A-Z]+ \d{4}
pZxid = 0x[0-9a-f]+
cversion = -?\d+
dataVersion = \d+
aclVersion = \d+
ephemeralOwner = 0x[0-9a-f]+
dataLength = \d+
numChildren = \d+
$`)

func statField(t *testing.T, stat, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + ` = (.*)$`).FindStringSubmatch(stat)
	if m == nil {
		t.Fatalf("no %s in %q", name, stat)
	}
	return m[1]
}

func TestCommandsAgainstZooKeeper(t *testing.T) {
	addr := startZooKeeper(t)

	if got := must(t, addr, "create", "/a", "hello"); got != "Created /a\n" {
		t.Fatalf("create: %q", got)
	}
	must(t, addr, "create", "/a/b")
	if got := must(t, addr, "create", "-s", "/a/s", "x"); got != "Created /a/s0000000001\n" {
		t.Fatalf("sequential create: %q", got)
	}
	if got := must(t, addr, "ls", "/a"); got != "[b, s0000000001]\n" {
		t.Fatalf("ls: %q", got)
	}
	if got := must(t, addr, "ls", "/"); got != "[a, zookeeper]\n" {
		t.Fatalf("ls /: %q", got)
	}
	if got := must(t, addr, "get", "/a"); got != "hello\n" {
		t.Fatalf("get: %q", got)
	}
	if got := must(t, addr, "get", "/a/b"); got != "null\n" {
		t.Fatalf("get of a node without data: %q", got)
	}

	st := must(t, addr, "stat", "/a")
	if !statRE.MatchString(st) {
		t.Fatalf("stat format:\n%s", st)
	}
	if statField(t, st, "numChildren") != "2" || statField(t, st, "dataLength") != "5" || statField(t, st, "cversion") != "2" {
		t.Fatalf("stat values:\n%s", st)
	}
	ls := must(t, addr, "ls", "-s", "/a")
	if !strings.HasPrefix(ls, "[b, s0000000001]\n") || !statRE.MatchString(strings.SplitN(ls, "\n", 2)[1]) {
		t.Fatalf("ls -s:\n%s", ls)
	}
	get := must(t, addr, "get", "-s", "/a")
	if !strings.HasPrefix(get, "hello\n") || !statRE.MatchString(strings.SplitN(get, "\n", 2)[1]) {
		t.Fatalf("get -s:\n%s", get)
	}

	set := must(t, addr, "set", "-s", "/a", "world")
	if statField(t, set, "dataVersion") != "1" || statField(t, set, "dataLength") != "5" {
		t.Fatalf("set -s:\n%s", set)
	}
	if got := must(t, addr, "set", "/a", "again"); got != "" {
		t.Fatalf("set prints %q", got)
	}
	fails(t, addr, "version No is not valid : /a", "set", "-v", "0", "/a", "z")
	must(t, addr, "set", "-v", "2", "/a", "v3")

	fails(t, addr, "Node does not exist: /nope", "get", "/nope")
	fails(t, addr, "Node does not exist: /nope", "stat", "/nope")
	fails(t, addr, "Node does not exist: /nope", "ls", "/nope")
	fails(t, addr, "Node does not exist: /nope", "delete", "/nope")
	fails(t, addr, "Node already exists: /a", "create", "/a")
	fails(t, addr, "Node not empty: /a", "delete", "/a")

	if got := must(t, addr, "ls", "-R", "/a"); got != "/a\n/a/b\n/a/s0000000001\n" {
		t.Fatalf("ls -R: %q", got)
	}
	if got := must(t, addr, "getAcl", "/a"); got != "'world,'anyone\n: cdrwa\n" {
		t.Fatalf("getAcl: %q", got)
	}
	must(t, addr, "setAcl", "-R", "/a", "world:anyone:rwa")
	if got := must(t, addr, "getAcl", "/a/b"); got != "'world,'anyone\n: rwa\n" {
		t.Fatalf("getAcl after setAcl -R: %q", got)
	}
	fails(t, addr, "Insufficient permission : /a/b/c", "create", "/a/b/c")
	if got := must(t, addr, "sync", "/a"); got != "Sync is OK\n" {
		t.Fatalf("sync: %q", got)
	}
	must(t, addr, "setAcl", "-R", "/a", "world:anyone:cdrwa")
	must(t, addr, "deleteall", "/a")
	fails(t, addr, "Node does not exist: /a", "get", "/a")

	// Ephemeral nodes vanish with the one-shot session; containers and
	// TTL nodes are created with their flags.
	if got := must(t, addr, "create", "-e", "-s", "/eph", "x"); !strings.HasPrefix(got, "Created /eph00000000") {
		t.Fatalf("create -e -s: %q", got)
	}
	fails(t, addr, "Node does not exist: /eph0000000004", "get", "/eph0000000004")
	must(t, addr, "create", "-c", "/cont")
	must(t, addr, "create", "-t", "60000", "/ttl", "v")
	if got := must(t, addr, "get", "/ttl"); got != "v\n" {
		t.Fatalf("ttl node: %q", got)
	}
	fails(t, addr, "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.", "create", "-c", "-e", "/x")
	fails(t, addr, "TTLs cannot be used with Ephemeral znodes", "create", "-e", "-t", "10", "/x")

	// Usage and unknown commands.
	fails(t, addr, "set [-s] [-v version] path data", "set", "/a")
	fails(t, addr, "bad does not have the form scheme:id:perm\nAcl is not valid : /b", "create", "/b", "x", "bad")
	if code, _, errs := run(t, addr, "frobnicate"); code != exitNoCommand || !strings.Contains(errs, "Command not found: frobnicate") {
		t.Fatalf("unknown command: %d %q", code, errs)
	}
	if help := must(t, addr, "help"); !strings.Contains(help, "\tls [-s] [-w] [-R] path\n") {
		t.Fatalf("help: %q", help)
	}
}

func TestAuthAndWhoAmI(t *testing.T) {
	addr := startZooKeeper(t)
	if got := must(t, addr, "whoami"); got != "Auth scheme: User\nip: 127.0.0.1\n" {
		t.Fatalf("whoami: %q", got)
	}
	// digest:u:p hashes to Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ= (user:base64(sha1(user:pw))).
	out, errs, code := script(t, addr,
		"addauth digest u:p",
		"create /sec x digest:u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=:cdrwa",
		"get /sec",
		"whoami",
		"getAcl /sec",
	)
	want := "Created /sec\nx\nAuth scheme: User\nip: 127.0.0.1\ndigest: u\n'digest,'u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=\n: cdrwa\n"
	if code != 0 || out != want {
		t.Fatalf("authed script: exit %d out %q err %q", code, out, errs)
	}
	fails(t, addr, "Insufficient permission : /sec", "get", "/sec")
	fails(t, addr, "Insufficient permission : /sec", "getAcl", "/sec")
}

// script feeds lines to the interactive loop and returns its output.
func script(t *testing.T, addr string, lines ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	in := strings.NewReader(strings.Join(lines, "\n") + "\n")
	code := Run(context.Background(), []string{"-server", addr}, in, &out, &errb)
	return out.String(), errb.String(), code
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes watch
// notifications make.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls out until it contains want; the deadline only bounds a
// hung test, it is not what is asserted.
func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never contained %q:\n%s", want, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInteractiveWatches(t *testing.T) {
	addr := startZooKeeper(t)
	pr, pw := io.Pipe()
	out := &syncBuffer{}
	var errb syncBuffer
	done := make(chan int)
	go func() { done <- Run(context.Background(), []string{"-server", addr}, pr, out, &errb) }()
	send := func(line string) { t.Helper(); _, _ = io.WriteString(pw, line+"\n") }

	send("create /w one")
	send("get -w /w")
	send("set /w two")
	waitFor(t, out, "WatchedEvent state:SyncConnected type:NodeDataChanged path:/w\n")

	send("ls -w /w")
	send("create /w/kid")
	waitFor(t, out, "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/w\n")

	send("stat -w /later")
	send("create /later")
	waitFor(t, out, "WatchedEvent state:SyncConnected type:NodeCreated path:/later\n")

	// A persistent recursive watch fires for every change below it.
	send("addWatch /w")
	send("whoami") // the reply orders after addWatch's on the side session
	waitFor(t, out, "ip: 127.0.0.1\n")
	send("create /w/kid2")
	waitFor(t, out, "type:NodeCreated path:/w/kid2\n")
	send("set /w/kid2 x")
	waitFor(t, out, "type:NodeDataChanged path:/w/kid2\n")
	send("addWatch -m PERSISTENT /later")
	send("whoami")
	send("delete /later")
	waitFor(t, out, "type:NodeDeleted path:/later\n")
	send("addWatch -m BOGUS /later")
	waitFor(t, &errb, "Unsupported mode: BOGUS")

	// One write, so the loop reads both lines; the second must not run.
	send("quit\nget /w")
	if code := <-done; code != exitError {
		// The last command run was the failing addWatch.
		t.Fatalf("exit code %d, want %d", code, exitError)
	}
	pw.Close()
	if !strings.Contains(out.String(), "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/w\n") {
		t.Fatalf("event block format:\n%s", out.String())
	}
	if strings.Contains(out.String(), "two\n") {
		t.Fatalf("command after quit ran:\n%s", out.String())
	}
}

func TestConnectFailure(t *testing.T) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"-server", "127.0.0.1:1", "-timeout", "300ms", "ls", "/"}, strings.NewReader(""), &out, &errb)
	if code != exitError || !strings.Contains(errb.String(), "could not connect") {
		t.Fatalf("exit %d stderr %q", code, errb.String())
	}
}
