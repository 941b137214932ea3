package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func runBench(t *testing.T, args ...string) (*Report, int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), append([]string{"-json"}, args...), &out, &errb)
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bench output is not JSON (%v): %q stderr %q", err, out.String(), errb.String())
	}
	return &rep, code, errb.String()
}

func TestWorkloadsAgainstZooKeeper(t *testing.T) {
	addr := startZooKeeper(t)
	pid := os.Getpid() // any live process exercises the RSS path
	rep, code, stderr := runBench(t, "-server", addr, "-workload", "all", "-clients", "4",
		"-ops", "200", "-warmup", "0", "-znodes", "20", "-value-size", "10", "-pid", strconv.Itoa(pid))
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if len(rep.Results) != len(Workloads) {
		t.Fatalf("got %d results, want %d", len(rep.Results), len(Workloads))
	}
	for i, r := range rep.Results {
		if r.Workload != Workloads[i] {
			t.Errorf("result %d is %q, want %q", i, r.Workload, Workloads[i])
		}
		if r.Ops == 0 || r.Errors != 0 || r.OpsPerSec <= 0 {
			t.Errorf("%s: ops=%d errors=%d ops/s=%v first error %q", r.Workload, r.Ops, r.Errors, r.OpsPerSec, r.FirstError)
		}
		// -ops counts steps; create-delete makes two requests per step.
		want := uint64(200)
		if r.Workload == "create-delete" {
			want = 400
		}
		if r.Ops != want {
			t.Errorf("%s: ops=%d, want %d", r.Workload, r.Ops, want)
		}
		if r.LatencyUs.P50 <= 0 || r.LatencyUs.P50 > r.LatencyUs.P99 || r.LatencyUs.P99 > r.LatencyUs.Max {
			t.Errorf("%s: latencies not ordered: %+v", r.Workload, r.LatencyUs)
		}
	}
	if rep.ServerRSSKB <= 0 {
		t.Errorf("no RSS for pid %d", pid)
	}
	// Everything the bench created is gone.
	assertNoRootChild(t, addr, "zabkit-bench-")
}

// assertNoRootChild fails if a child of / on addr starts with prefix.
func assertNoRootChild(t *testing.T, addr, prefix string) {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	kids, _, err := c.Children("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		if strings.HasPrefix(k, prefix) {
			t.Errorf("%s left behind", k)
		}
	}
}

func TestDurationModeAndLoadAndWaitRead(t *testing.T) {
	addr := startZooKeeper(t)
	rep, code, stderr := runBench(t, "-server", addr, "-workload", "get", "-clients", "2",
		"-duration", "300ms", "-warmup", "100ms", "-znodes", "10")
	if code != 0 || len(rep.Results) != 1 || rep.Results[0].Ops == 0 || rep.Results[0].Errors != 0 {
		t.Fatalf("duration run: exit %d %+v %s", code, rep.Results, stderr)
	}

	rep, code, stderr = runBench(t, "-server", addr, "-load-znodes", "2500", "-root", "/load/x", "-value-size", "20", "-clients", "3", "-inflight", "8")
	if code != 0 || rep.Load == nil || rep.Load.Znodes != 2500 || rep.Load.Errors != 0 {
		t.Fatalf("load: exit %d %+v %s", code, rep.Load, stderr)
	}
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buckets, _, err := c.Children("/load/x")
	if err != nil || len(buckets) != 3 {
		t.Fatalf("buckets %v, %v", buckets, err)
	}
	data, _, err := c.Get(LoadPath("/load/x", 2499))
	if err != nil || len(data) != 20 {
		t.Fatalf("last znode: %q, %v", data, err)
	}

	rep, code, stderr = runBench(t, "-server", addr, "-wait-read", LoadPath("/load/x", 0), "-timeout", "10s")
	if code != 0 || rep.ReadyMs == nil || *rep.ReadyMs <= 0 {
		t.Fatalf("wait-read: exit %d %+v %s", code, rep, stderr)
	}
	_, code, _ = runBench(t, "-server", addr, "-wait-read", "/no/such/node", "-timeout", "300ms")
	if code == 0 {
		t.Fatal("wait-read of a missing node must fail")
	}
}
