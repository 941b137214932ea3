package storetest

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/ext"
)

// Environment of the crash child. CrashRoundsEnv is the knob for longer
// runs: ZABKIT_STORETEST_CRASH_ROUNDS=200 go test -run Crash ./stores/x.
const (
	CrashRoundsEnv = "ZABKIT_STORETEST_CRASH_ROUNDS"
	crashDirEnv    = "ZABKIT_STORETEST_CRASH_DIR"
	crashSeedEnv   = "ZABKIT_STORETEST_CRASH_SEED"
)

// CrashOptions tunes RunCrash. The zero value is the default: a few
// seconds of test time.
type CrashOptions struct {
	// Rounds is how many children are started and killed, one after the
	// other, on the same directory. Default 5; CrashRoundsEnv overrides.
	Rounds int
	// MaxOps bounds how many acknowledged operations a child reports
	// before it is killed; each round picks a random number up to it.
	// Default 150.
	MaxOps int
	// Seed fixes the random choices of the parent and the children (the
	// kill points still depend on timing); 0 picks one and logs it.
	Seed uint64
}

// CrashMain runs the crash child when the test binary was started as one
// by RunCrash, and returns at once otherwise. Call it first in TestMain,
// with the same Opener the test passes to RunCrash:
//
//	func TestMain(m *testing.M) {
//		storetest.CrashMain(open)
//		os.Exit(m.Run())
//	}
//
// The child opens the store on the directory it was given and writes until
// it is killed: batches of entries continuing the log (a new epoch each
// time it starts), now and then a log roll and a snapshot (some aborted),
// a purge of older snapshots, and a metadata update. It prints each
// operation to stdout before it starts it and again once it returned nil,
// which is what the parent holds the store to.
func CrashMain(open Opener) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	err := crashChild(open, dir, seed)
	fmt.Fprintln(os.Stderr, "storetest crash child:", err)
	os.Exit(3)
}

// crashEntry is the entry the crash test writes at zxid z: its size and
// bytes derive from z, so the parent can check any entry it reads back.
func crashEntry(z int64) ext.Entry {
	h := mix(uint64(z))
	n := int(h>>40) % 300
	if h%40 == 0 {
		n = 8000 + int(h>>32)%60000 // now and then one spans pages
	}
	return Entry(z, n)
}

// crashSnapshot is the body of the snapshot the crash test takes at zxid z.
func crashSnapshot(z int64) []byte {
	h := mix(uint64(z) ^ 0x5eed)
	b := make([]byte, 1000+int(h%150000))
	for i := range b {
		b[i] = byte(h>>(8*(i%8))) ^ byte(i*131)
	}
	return b
}

// mix is SplitMix64's finaliser: a cheap, well-spread hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// crash child report lines: "<op> <zxid or meta value>" before an
// operation starts, and the same op in upper case once it returned nil.
const (
	opAppend   = "a" // "a <first> <last>", then "A <last>"
	opSnapshot = "s" // "s <zxid>" before Commit, then "S <zxid>"
	opPurge    = "p" // "p <zxid>", then "P <zxid>"
	opMeta     = "m" // "m <k>" for metaFor(k), then "M <k>"
)

func crashChild(open Opener, dir string, seed uint64) error {
	s, err := open(dir)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	rng := rand.New(rand.NewPCG(seed, 0xc4a5))
	say := func(op string, v ...int64) {
		line := op
		for _, x := range v {
			line += " " + strconv.FormatInt(x, 10)
		}
		// One unbuffered write: once it returns, the parent can read the
		// line even if this process dies the next instant.
		os.Stdout.WriteString(line + "\n")
	}
	m, err := s.LoadMeta()
	if err != nil {
		return fmt.Errorf("load meta: %w", err)
	}
	k := max(m.CurrentEpoch, 0)
	next := Zxid(s.LastZxid()>>32+1, 1) // a new epoch, like a new leader
	var batch []ext.Entry
	for {
		batch = batch[:0]
		for range 1 + rng.IntN(40) {
			batch = append(batch, crashEntry(next))
			next++
		}
		say(opAppend, batch[0].Zxid, next-1)
		if err := s.Append(context.Background(), batch); err != nil {
			return fmt.Errorf("append: %w", err)
		}
		say(strings.ToUpper(opAppend), next-1)

		switch r := rng.IntN(100); {
		case r < 5:
			if err := crashSnapshotOnce(s, next-1, rng.IntN(5) == 0, say); err != nil {
				return err
			}
		case r < 8:
			snaps, err := s.Snapshots()
			if err != nil {
				return fmt.Errorf("list snapshots: %w", err)
			}
			if len(snaps) >= 3 { // keep two, as autopurge would
				z := snaps[1].Zxid
				say(opPurge, z)
				if err := s.PurgeBefore(z); err != nil {
					return fmt.Errorf("purge: %w", err)
				}
				say(strings.ToUpper(opPurge), z)
			}
		case r < 12:
			k++
			say(opMeta, k)
			if err := s.SaveMeta(metaFor(k)); err != nil {
				return fmt.Errorf("save meta: %w", err)
			}
			say(strings.ToUpper(opMeta), k)
		}
	}
}

// crashSnapshotOnce rolls the log and writes a snapshot at z, as the
// pipeline does; an aborted one gets only part of its body, so a store
// that showed it anyway would be caught by its content.
func crashSnapshotOnce(s ext.Store, z int64, abort bool, say func(string, ...int64)) error {
	if err := s.RollLog(); err != nil {
		return fmt.Errorf("roll log: %w", err)
	}
	w, err := s.CreateSnapshot(z)
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	body := crashSnapshot(z)
	if abort {
		body = body[:len(body)/2]
	}
	for len(body) > 0 {
		n := min(len(body), 4096)
		if _, err := w.Write(body[:n]); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
		body = body[n:]
	}
	if abort {
		if err := w.Abort(); err != nil {
			return fmt.Errorf("abort snapshot: %w", err)
		}
		return nil
	}
	say(opSnapshot, z)
	if err := w.Commit(); err != nil {
		return fmt.Errorf("commit snapshot: %w", err)
	}
	say(strings.ToUpper(opSnapshot), z)
	return nil
}

// crashState is what the parent learned from the children's reports.
type crashState struct {
	begun     [][2]int64 // appended batches [first, last], acknowledged or not
	acked     [][2]int64 // acknowledged batches
	lastAcked int64
	purgedTo  int64 // highest PurgeBefore argument started
	snapBegun map[int64]bool
	snapAcked []int64
	metaBegun int64
	metaAcked int64
	ops       int // acknowledged operations, all rounds
}

// record applies one report line.
func (st *crashState) record(line string) (acked bool, err error) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return false, fmt.Errorf("child printed %q (did TestMain call storetest.CrashMain?)", line)
	}
	var v []int64
	for _, x := range f[1:] {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return false, fmt.Errorf("child printed %q", line)
		}
		v = append(v, n)
	}
	switch {
	case f[0] == opAppend && len(v) == 2:
		st.begun = append(st.begun, [2]int64{v[0], v[1]})
	case f[0] == "A" && len(v) == 1:
		if len(st.begun) == 0 || st.begun[len(st.begun)-1][1] != v[0] || v[0] <= st.lastAcked {
			return false, fmt.Errorf("child acknowledged %#x out of turn (last acknowledged %#x)", v[0], st.lastAcked)
		}
		b := st.begun[len(st.begun)-1]
		st.acked = append(st.acked, b)
		st.lastAcked = max(st.lastAcked, b[1])
		acked = true
	case f[0] == opSnapshot && len(v) == 1:
		st.snapBegun[v[0]] = true
	case f[0] == "S" && len(v) == 1:
		st.snapAcked = append(st.snapAcked, v[0])
		acked = true
	case f[0] == opPurge && len(v) == 1:
		st.purgedTo = max(st.purgedTo, v[0])
	case f[0] == "P" && len(v) == 1:
		acked = true
	case f[0] == opMeta && len(v) == 1:
		st.metaBegun = v[0]
	case f[0] == "M" && len(v) == 1:
		st.metaAcked = v[0]
		acked = true
	default:
		return false, fmt.Errorf("child printed %q", line)
	}
	if acked {
		st.ops++
	}
	return acked, nil
}

// RunCrash proves durability on return with real process crashes: it runs
// the test binary as a child (see CrashMain) that writes to one directory,
// SIGKILLs it at a random point, reopens the store with open and checks
// it, several times over on the same directory:
//
//   - Open succeeds: a torn tail left by the kill is recovered;
//   - every batch the child saw acknowledged is there, intact, except what
//     a PurgeBefore it started may have removed; nothing is there that the
//     child never started to append; the log obeys the gap rule and
//     FirstZxid and LastZxid name its ends;
//   - every acknowledged snapshot not purged is listed and reads back
//     exactly; no snapshot is listed whose Commit never started;
//   - the metadata is exactly one value that was saved, not older than the
//     last acknowledged one;
//   - the next child appends after whatever survived, and so does the
//     parent at the end.
//
// The whole process group is killed, so a store whose Opener starts helper
// processes dies with the child. A store whose Capabilities().Durable is
// false promises nothing across a crash: RunCrash logs that and returns.
//
// SIGKILL leaves the kernel's page cache intact: this proves that the store
// acknowledges only what it has written and recovers from a process crash,
// not that its fsyncs survive a power loss.
func RunCrash(t *testing.T, open Opener, opts CrashOptions) {
	if opts.Rounds <= 0 {
		opts.Rounds = 5
	}
	if v, err := strconv.Atoi(os.Getenv(CrashRoundsEnv)); err == nil && v > 0 {
		opts.Rounds = v
	}
	if opts.MaxOps <= 0 {
		opts.MaxOps = 150
	}
	if opts.Seed == 0 {
		opts.Seed = rand.Uint64()
	}
	dir := t.TempDir()

	s, err := open(dir)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	durable := s.Capabilities().Durable
	s.Close()
	if !durable {
		t.Logf("store is not durable (Capabilities().Durable is false): it promises nothing across a crash, so the SIGKILL test does not apply")
		return
	}
	t.Logf("seed %d, %d rounds", opts.Seed, opts.Rounds)
	rng := rand.New(rand.NewPCG(opts.Seed, 0xc4a5))

	st := &crashState{snapBegun: map[int64]bool{}}
	for round := range opts.Rounds {
		// The first round always runs until a report, so that something
		// is acknowledged; later ones sometimes die on a timer instead,
		// which can hit Open's own recovery.
		onTimer := round > 0 && rng.IntN(4) == 0
		killAfter := 1 + rng.IntN(opts.MaxOps)
		delay := time.Duration(rng.IntN(300)) * time.Millisecond
		n, err := crashRound(dir, rng.Uint64(), st, killAfter, onTimer, delay)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		s, err := open(dir)
		if err != nil {
			t.Fatalf("round %d: open after SIGKILL: %v", round, err)
		}
		err = checkCrashed(s, st)
		s.Close()
		if err != nil {
			t.Fatalf("round %d (%d acknowledged operations before the kill): %v", round, n, err)
		}
	}
	if st.ops == 0 {
		t.Fatalf("no operation was acknowledged in %d rounds: nothing was tested", opts.Rounds)
	}

	// The parent carries on after the last crash, in a new epoch.
	s, err = open(dir)
	if err != nil {
		t.Fatal(err)
	}
	next := Zxid(s.LastZxid()>>32+1, 1)
	more := []ext.Entry{crashEntry(next), crashEntry(next + 1)}
	st.begun = append(st.begun, [2]int64{next, next + 1})
	st.acked = append(st.acked, [2]int64{next, next + 1})
	st.lastAcked = next + 1
	MustAppend(t, s, more...)
	s.Close()
	if s, err = open(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := checkCrashed(s, st); err != nil {
		t.Fatalf("after the last crash and one more append: %v", err)
	}
	t.Logf("%d acknowledged operations over %d kills; log now %#x..%#x", st.ops, opts.Rounds, s.FirstZxid(), s.LastZxid())
}

// crashRound starts a child on dir, kills it after killAfter acknowledged
// operations (or after delay, onTimer), reads every line it wrote and
// returns how many acknowledgements it saw.
func crashRound(dir string, seed uint64, st *crashState, killAfter int, onTimer bool, delay time.Duration) (int, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	ownProcessGroup(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	var once sync.Once
	kill := func() { once.Do(func() { killGroup(cmd) }) }
	if onTimer {
		timer := time.AfterFunc(delay, kill)
		defer timer.Stop()
	}
	n := 0
	var readErr error
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		acked, err := st.record(sc.Text())
		if err != nil && readErr == nil {
			readErr = err
			kill()
		}
		if acked {
			if n++; n == killAfter {
				kill() // the child goes on meanwhile: the kill lands mid-operation
			}
		}
	}
	io.Copy(io.Discard, out)
	kill() // if the scan stopped early, or the timer has not fired yet
	err = cmd.Wait()
	if readErr != nil {
		return n, readErr
	}
	if !killedBySignal(err) {
		hint := ""
		if err == nil {
			hint = " (does TestMain call storetest.CrashMain?)"
		}
		return n, fmt.Errorf("child ended by itself (%v) after %d acknowledgements%s: %s", err, n, hint, strings.TrimSpace(stderr.String()))
	}
	return n, nil
}

// checkCrashed checks a reopened store against what the children reported.
func checkCrashed(s ext.Store, st *crashState) error {
	var log []ext.Entry
	err := s.ReadLog(context.Background(), 0, func(e ext.Entry) error {
		want := crashEntry(e.Zxid)
		if !bytes.Equal(e.Data, want.Data) {
			return fmt.Errorf("entry %#x has %d bytes that are not the ones written", e.Zxid, len(e.Data))
		}
		if n := len(log); n > 0 {
			prev := log[n-1].Zxid
			sameEpoch := e.Zxid>>32 == prev>>32
			if e.Zxid <= prev || (sameEpoch && e.Zxid != prev+1) || (!sameEpoch && e.Zxid&0xffffffff != 1) {
				return fmt.Errorf("log has %#x after %#x", e.Zxid, prev)
			}
		}
		log = append(log, ext.Entry{Zxid: e.Zxid})
		return nil
	})
	if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	first, last := int64(0), int64(0)
	if len(log) > 0 {
		first, last = log[0].Zxid, log[len(log)-1].Zxid
	}
	if f, l := s.FirstZxid(), s.LastZxid(); f != first || l != last {
		return fmt.Errorf("FirstZxid, LastZxid = %#x, %#x; the log holds %#x..%#x", f, l, first, last)
	}
	if st.purgedTo == 0 && len(log) > 0 && first != Zxid(1, 1) {
		return fmt.Errorf("nothing was purged, yet the log starts at %#x", first)
	}
	if st.purgedTo > 0 && first-1 > st.purgedTo {
		return fmt.Errorf("log starts at %#x: entries after the purge point %#x are gone", first, st.purgedTo)
	}
	have := func(z int64) bool {
		_, ok := slices.BinarySearchFunc(log, z, func(e ext.Entry, z int64) int { return cmp.Compare(e.Zxid, z) })
		return ok
	}
	for _, b := range st.acked {
		for z := max(b[0], st.purgedTo+1); z <= b[1]; z++ {
			if !have(z) {
				return fmt.Errorf("acknowledged zxid %#x (batch %#x..%#x) is missing; log %#x..%#x", z, b[0], b[1], first, last)
			}
		}
	}
	if last < st.lastAcked {
		return fmt.Errorf("log ends at %#x, before the last acknowledged %#x", last, st.lastAcked)
	}
	begun := merge(st.begun)
	for _, e := range log {
		if !within(begun, e.Zxid) {
			return fmt.Errorf("log holds %#x, which no child started to append", e.Zxid)
		}
	}
	if err := checkCrashedSnapshots(s, st); err != nil {
		return err
	}
	m, err := s.LoadMeta()
	if err != nil {
		return fmt.Errorf("load meta: %w", err)
	}
	k, err := metaIndex(m)
	if err != nil {
		return err
	}
	if k < st.metaAcked || k > st.metaBegun {
		return fmt.Errorf("metadata is value %d; acknowledged up to %d, started up to %d", k, st.metaAcked, st.metaBegun)
	}
	return nil
}

func checkCrashedSnapshots(s ext.Store, st *crashState) error {
	snaps, err := s.Snapshots()
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	listed := map[int64]bool{}
	for i, sn := range snaps {
		if i > 0 && sn.Zxid >= snaps[i-1].Zxid {
			return fmt.Errorf("Snapshots() not newest first: %+v", snaps)
		}
		if !st.snapBegun[sn.Zxid] {
			return fmt.Errorf("snapshot %#x is listed but its Commit never started", sn.Zxid)
		}
		r, err := s.OpenSnapshot(sn.Zxid)
		if err != nil {
			return fmt.Errorf("open snapshot %#x: %w", sn.Zxid, err)
		}
		body, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return fmt.Errorf("read snapshot %#x: %w", sn.Zxid, err)
		}
		if !bytes.Equal(body, crashSnapshot(sn.Zxid)) {
			return fmt.Errorf("snapshot %#x reads back %d bytes that are not the %d written", sn.Zxid, len(body), len(crashSnapshot(sn.Zxid)))
		}
		listed[sn.Zxid] = true
	}
	for _, z := range st.snapAcked {
		if z >= st.purgedTo && !listed[z] {
			return fmt.Errorf("acknowledged snapshot %#x is missing", z)
		}
	}
	return nil
}

// merge returns the union of spans as sorted, disjoint spans.
func merge(spans [][2]int64) [][2]int64 {
	sorted := slices.Clone(spans)
	slices.SortFunc(sorted, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	var out [][2]int64
	for _, sp := range sorted {
		if n := len(out); n > 0 && sp[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], sp[1])
			continue
		}
		out = append(out, sp)
	}
	return out
}

// within reports whether z lies in one of the sorted, disjoint spans.
func within(spans [][2]int64, z int64) bool {
	i, _ := slices.BinarySearchFunc(spans, z, func(sp [2]int64, z int64) int { return cmp.Compare(sp[0], z) })
	// spans[i-1] is the last span starting at or before z (or spans[i]
	// starts exactly at z).
	if i < len(spans) && spans[i][0] == z {
		return true
	}
	return i > 0 && z <= spans[i-1][1]
}
