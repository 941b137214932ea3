package e2e

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/zkraw"
	"github.com/zabkit/zabkit/tests/internal/launch"
)

// TestCrashKeepsAcknowledgedWrites runs a write load, kills the server
// with SIGKILL in the middle of it, restarts it on the same data directory
// and checks that every write the server acknowledged is there: with
// forceSync=yes an acknowledgement means the txn was on disk. An ensemble
// crashes as a whole, every member killed, while the writers are spread
// over the members: an acknowledgement means the txn was on a quorum's
// disks, so every write is there once the members are back.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	forEachFreshTarget(t, launch.Options{}, func(t *testing.T, srv *launch.Server) {
		ctx := testCtx(t)
		setup := rawDial(t, srv.Addr, zkraw.Options{})
		if _, err := setup.Create(ctx, "/crash", nil, zkraw.OpenACL, 0); err != nil {
			t.Fatal(err)
		}
		const writers = 4
		type writer struct {
			created []string // acknowledged creates
			counter int      // last acknowledged value of /crash/c<i>
			maxZxid int64
		}
		ws := make([]writer, writers)
		var acked atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < writers; i++ {
			c := rawDial(t, srv.AddrFor(i), zkraw.Options{})
			ctr := fmt.Sprintf("/crash/c%d", i)
			if _, err := c.Create(ctx, ctr, []byte("0"), zkraw.OpenACL, 0); err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func(w *writer) {
				defer wg.Done()
				for n := 1; ; n++ {
					var f *zkraw.Frame
					var err error
					if n%2 == 0 {
						f, err = c.Call(ctx, jute.OpSetData, &jute.SetDataRequest{Path: ctr, Data: []byte(strconv.Itoa(n)), Version: -1})
					} else {
						f, err = c.Call(ctx, jute.OpCreate, &jute.CreateRequest{Path: fmt.Sprintf("%s-%d", ctr, n), Data: []byte("x"), ACL: zkraw.OpenACL})
					}
					if err != nil {
						if !errors.Is(err, zkraw.ErrClosed) {
							t.Errorf("writer: %v", err)
						}
						return // the server is gone
					}
					if f.Err() != 0 {
						t.Errorf("writer: op %d failed: %v", n, f.Err())
						return
					}
					if n%2 == 0 {
						w.counter = n
					} else {
						w.created = append(w.created, fmt.Sprintf("%s-%d", ctr, n))
					}
					w.maxZxid = max(w.maxZxid, f.Header.Zxid)
					acked.Add(1)
				}
			}(&ws[i])
		}
		// Let the load build, then crash the server under it.
		deadline := time.Now().Add(30 * time.Second)
		for acked.Load() < 400 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		srv2 := crashAndRestart(t, srv, wg.Wait)
		if acked.Load() < 400 {
			t.Fatalf("only %d writes acknowledged before the kill", acked.Load())
		}

		c := rawDial(t, srv2.Addr, zkraw.Options{})
		ping, err := c.Ping(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for i, w := range ws {
			if ping.Header.Zxid < w.maxZxid {
				t.Errorf("restarted server's zxid %#x is behind acknowledged %#x", ping.Header.Zxid, w.maxZxid)
			}
			for _, p := range w.created {
				if _, err := c.Exists(ctx, p, false); err != nil {
					t.Errorf("acknowledged create %s lost: %v", p, err)
				}
			}
			got, err := c.GetData(ctx, fmt.Sprintf("/crash/c%d", i), false)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := strconv.Atoi(string(got.Data))
			// A write may have been applied without its ack reaching us, so
			// the value may be ahead, never behind.
			if v < w.counter {
				t.Errorf("/crash/c%d = %d, acknowledged %d", i, v, w.counter)
			}
			total += len(w.created)
		}
		t.Logf("%d writes acknowledged before kill -9; %d creates verified after restart", acked.Load(), total)
	})
}

// crashAndRestart kills srv with SIGKILL (every member, for an ensemble
// member), calls killed, and starts it again on the same data. It returns
// the server to read from.
func crashAndRestart(t *testing.T, srv *launch.Server, killed func()) *launch.Server {
	t.Helper()
	e := srv.Ensemble()
	if e == nil {
		srv.Kill()
		killed()
		return srv.Restart(t)
	}
	var wg sync.WaitGroup
	for _, m := range e.Members {
		wg.Add(1)
		go func() { defer wg.Done(); m.Kill() }()
	}
	wg.Wait()
	killed()
	for i := range e.Members {
		if err := e.Restart(i); err != nil {
			t.Fatalf("restart member %d: %v", i+1, err)
		}
	}
	if err := e.WaitReady(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	return e.Members[srv.Myid()-1]
}
