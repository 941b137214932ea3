package diff

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/zkraw"
	"github.com/zabkit/zabkit/tests/internal/launch"
)

// Knobs (environment):
//
//	ZABKIT_E2E_TARGET=zookeeper  run ZooKeeper against ZooKeeper (validates
//	                             the harness); anything else: zabkit vs ZooKeeper
//	ZABKIT_DIFF_SEEDS=N          number of seeds (default 20)
//	ZABKIT_DIFF_BASE=N           first seed (default 1)
//	ZABKIT_DIFF_SEED=a,b,...     exactly these seeds (to replay a failure)
//	ZABKIT_DIFF_OPS=N            ops per seed (default 300)
//	ZABKIT_E2E_ENSEMBLE=N        side A is an N-member ensemble; side B,
//	                             the reference, stays a standalone server
const (
	envSeeds = "ZABKIT_DIFF_SEEDS"
	envBase  = "ZABKIT_DIFF_BASE"
	envSeed  = "ZABKIT_DIFF_SEED"
	envOps   = "ZABKIT_DIFF_OPS"
)

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

func seeds(t *testing.T) []uint64 {
	if v := os.Getenv(envSeed); v != "" {
		var out []uint64
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
			if err != nil {
				t.Fatalf("%s=%q: %v", envSeed, v, err)
			}
			out = append(out, n)
		}
		return out
	}
	base, n := envInt(t, envBase, 1), envInt(t, envSeeds, 20)
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(base + i)
	}
	return out
}

// pair picks the two server kinds: A is the one under test.
func pair(t *testing.T) (launch.Kind, launch.Kind) {
	switch v := os.Getenv(launch.TargetEnv); v {
	case "zookeeper":
		return launch.ZooKeeper, launch.ZooKeeper
	case "", "zabkit", "both":
		return launch.Zabkit, launch.ZooKeeper
	default:
		t.Fatalf("%s=%q: want zabkit, zookeeper or both", launch.TargetEnv, v)
		return "", ""
	}
}

// diffOptions turn off the container/TTL reaper: it runs on a timer, so
// its deletes (and zxids) would land at different points on the two
// servers.
func diffOptions() launch.Options {
	return launch.Options{ContainerCheckMs: 3_600_000}
}

func TestDifferential(t *testing.T) {
	kindA, kindB := pair(t)
	mixed := kindA != kindB
	// With ZABKIT_E2E_ENSEMBLE side A is an ensemble, whose k-th session
	// opens on member k mod n. Side B, the reference, stays one standalone
	// server: Debian's ZooKeeper 3.8.0 ensemble sometimes leaves a
	// follower's sync unanswered until the next write (here: until
	// sessions expire), which would make it a flaky oracle.
	srvA := launch.StartTarget(t, kindA, diffOptions()).Server()
	srvB := launch.Start(t, kindB, diffOptions())
	nOps := envInt(t, envOps, 300)
	allowed := map[string]int{}
	for _, seed := range seeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runSeed(t, seed, nOps, srvA, srvB, mixed, allowed)
		})
		if t.Failed() {
			break
		}
	}
	for name, n := range allowed {
		t.Logf("allowance %s applied %d times", name, n)
	}
}

type step struct {
	op   Op
	a, b *Outcome
	used []Allowance
}

func runSeed(t *testing.T, seed uint64, nOps int, srvA, srvB *launch.Server, mixed bool, allowed map[string]int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root := fmt.Sprintf("/d%d-%d", seed, time.Now().UnixNano()%1_000_000)
	var base [2]int64
	for i, s := range []*launch.Server{srvA, srvB} {
		c, err := zkraw.Dial(ctx, s.Addr, zkraw.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Create2(ctx, root, nil, zkraw.OpenACL, jute.FlagPersistent)
		if err != nil {
			t.Fatalf("create %s on %s: %v", root, s.Kind, err)
		}
		base[i] = r.Stat.Czxid
		c.CloseSession(ctx)
	}
	// Zxids are compared as distances from the root's creation. Two
	// standalone servers that started alike must also agree on the root's
	// zxid itself. Ensembles start in epoch 1 (zxids 0x1_0000_0001 on,
	// where a standalone server has 0x1 on), and the epoch and the
	// start-up probes before the test depend on the election, so there
	// only the distances must agree.
	if srvA.Ensemble() == nil && base[0] != base[1] {
		t.Fatalf("root %s created at zxid %#x on %s but %#x on %s", root, base[0], srvA.Kind, base[1], srvB.Kind)
	}
	ra := NewRunner("A="+string(srvA.Kind), srvA.Hosts()...)
	rb := NewRunner("B="+string(srvB.Kind), srvB.Addr)
	ra.ZxidBase, rb.ZxidBase = base[0], base[1]
	ra.CatchUp = srvA.Ensemble() != nil
	defer ra.Close(ctx)
	defer rb.Close(ctx)
	gen := NewGenerator(seed, root)
	model := NewACLModel()
	var history []step
	for i := 0; i < nOps; i++ {
		op := gen.Next()
		var oa, ob *Outcome
		var ea, eb error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); oa, ea = ra.Exec(ctx, op) }()
		go func() { defer wg.Done(); ob, eb = rb.Exec(ctx, op) }()
		wg.Wait()
		if ea != nil || eb != nil {
			t.Fatalf("seed %d op %d (%s): harness error: A: %v; B: %v", seed, i, Describe(op), ea, eb)
		}
		used, div := Compare(op, oa, ob, mixed, model)
		history = append(history, step{op, oa, ob, used})
		for _, u := range used {
			allowed[u.Name]++
		}
		if div != nil {
			t.Fatalf("DIVERGENCE seed=%d op=%d\n  op: %s\n  in: %s\n  A (%s): %s\n  B (%s): %s\n%s\nreplay: %s=%d %s=%d",
				seed, i, Describe(op), div.What, srvA.Kind, div.A, srvB.Kind, div.B, recent(history, historyShown()),
				envSeed, seed, envOps, i+1)
		}
		gen.Observe(op, oa)
		model.Observe(op, oa)
	}
	t.Log(summary(history))
}

// summary counts what a seed exercised, so a run that silently stopped
// producing interesting traffic shows up in the log.
func summary(h []step) string {
	codes := map[string]int{}
	errs := map[int32]int{}
	events := 0
	for _, s := range h {
		name := opNames[s.op.Code]
		switch s.op.Kind {
		case KindOpen:
			name = "open"
		case KindClose:
			name = "close"
		case KindAuth:
			name = "auth"
		}
		codes[name]++
		errs[s.a.Err]++
		events += len(s.a.PreEvents)
		for _, ev := range s.a.Events {
			events += len(ev)
		}
	}
	return fmt.Sprintf("ops %v; reply errs %v; events %d", codes, errs, events)
}

// recent renders the last n steps for a divergence report.
func recent(h []step, n int) string {
	if len(h) > n {
		h = h[len(h)-n:]
	}
	var b strings.Builder
	b.WriteString("  recent history (A's replies; B's where they differ):\n")
	for _, s := range h {
		fmt.Fprintf(&b, "    %s\n      -> %s\n", Describe(s.op), s.a.Reply)
		if s.b.Reply != s.a.Reply {
			fmt.Fprintf(&b, "      B> %s\n", s.b.Reply)
		}
		if pa, pb := eventsString(s.a.PreEvents), eventsString(s.b.PreEvents); pa != "[]" || pb != "[]" {
			fmt.Fprintf(&b, "      events before reply %s", pa)
			if pb != pa {
				fmt.Fprintf(&b, "  B> %s", pb)
			}
			b.WriteString("\n")
		}
		for i := range s.a.Events {
			ea, eb := eventsString(s.a.Events[i]), eventsString(s.b.Events[i])
			if ea != "[]" || eb != "[]" {
				fmt.Fprintf(&b, "      slot %d events %s", i, ea)
				if eb != ea {
					fmt.Fprintf(&b, "  B> %s", eb)
				}
				b.WriteString("\n")
			}
		}
		for _, u := range s.used {
			fmt.Fprintf(&b, "      allowed: %s\n", u.Name)
		}
	}
	return b.String()
}

// historyShown is how many steps a divergence report prints:
// ZABKIT_DIFF_HISTORY, default 12.
func historyShown() int {
	if n, err := strconv.Atoi(os.Getenv("ZABKIT_DIFF_HISTORY")); err == nil && n > 0 {
		return n
	}
	return 12
}
