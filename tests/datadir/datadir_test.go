// Package datadir proves zabkit and Apache ZooKeeper 3.8 share one on-disk
// format: each server is started on a data directory the other wrote and
// must serve exactly the same tree (paths, data, ACLs and every stat field)
// and the same sessions.
package datadir

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/tests/internal/launch"
)

type discard struct{}

func (discard) Printf(string, ...any) {}

func connect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 20*time.Second, zk.WithLogger(discard{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddAuth("digest", []byte("bob:secret")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for c.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			t.Fatalf("no session with %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c
}

// populate writes a tree that exercises every node kind and stat rule, and
// leaves a session open with ephemerals (returned so the caller can keep it
// alive across the switch).
func populate(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c := connect(t, addr)
	acl := zk.WorldACL(zk.PermAll)
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Create("/app", []byte("root data"), 0, acl))
	for i := 0; i < 40; i++ {
		must(c.Create(fmt.Sprintf("/app/n%02d", i), []byte(strings.Repeat("x", i)), 0, acl))
	}
	for i := 0; i < 5; i++ {
		must(c.Create("/app/seq-", []byte("s"), zk.FlagSequence, acl))
	}
	if err := c.Delete("/app/seq-0000000041", -1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set("/app/n01", []byte("changed"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetACL("/app/n02", zk.DigestACL(zk.PermRead, "bob", "secret"), -1); err != nil {
		t.Fatal(err)
	}
	must(c.CreateContainer("/app/box", nil, zk.FlagTTL&0|4, acl))
	must(c.Create("/app/box/item", []byte("i"), 0, acl))
	must(c.CreateTTL("/app/ttl", []byte("t"), zk.FlagTTL, acl, time.Hour))
	must(c.Create("/app/eph", []byte("e"), zk.FlagEphemeral, acl))
	if _, err := c.Multi(&zk.CreateRequest{Path: "/app/m", Acl: acl}, &zk.DeleteRequest{Path: "/nope", Version: -1}); err == nil {
		t.Fatal("failing multi succeeded")
	}
	if _, err := c.Create("/app/n00", nil, 0, acl); err == nil {
		t.Fatal("duplicate create succeeded")
	}
	return c
}

type nodeView struct {
	data string
	acl  string
	stat zk.Stat
}

// dump reads the whole tree under /app (and the root's stat).
func dump(t *testing.T, c *zk.Conn) map[string]nodeView {
	t.Helper()
	out := map[string]nodeView{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		acl, _, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("getACL %s: %v", p, err)
		}
		out[p] = nodeView{data: string(data), acl: fmt.Sprint(acl), stat: *st}
		kids, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			if p == "/" {
				if k == "zookeeper" {
					continue
				}
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
	return out
}

func compare(t *testing.T, want, got map[string]nodeView, from, to launch.Kind) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("%s → %s: %s missing", from, to, p)
			continue
		}
		if g != w {
			t.Errorf("%s → %s: %s differs:\n  before %+v\n  after  %+v", from, to, p, w, g)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s → %s: unexpected %s", from, to, p)
		}
	}
}

// switchServers writes with one implementation, stops it (cleanly or with
// SIGKILL), starts the other on the same data directory and compares.
func switchServers(t *testing.T, from, to launch.Kind, kill bool) {
	opts := launch.Options{TickTime: 2000, Extra: map[string]string{"snapCount": "20"}}
	a := launch.Start(t, from, opts)
	c := populate(t, a.Addr)
	defer c.Close()
	sid := c.SessionID()
	before := dump(t, c)
	if kill {
		a.Kill()
	} else {
		a.Stop()
	}
	opts.DataDir, opts.Port = a.DataDir, a.Port
	b := launch.Start(t, to, opts)
	// The open session survives the swap: its client reattaches to the
	// new server on the same port, and its ephemeral is still there.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, st, err := c.Get("/app/eph")
		if err == nil {
			if c.SessionID() != sid || st.EphemeralOwner != sid {
				t.Fatalf("session 0x%x did not survive: now 0x%x, owner 0x%x", sid, c.SessionID(), st.EphemeralOwner)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session 0x%x never came back on %s: %v", sid, to, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c2 := connect(t, b.Addr)
	defer c2.Close()
	after := dump(t, c2)
	compare(t, before, after, from, to)
}

func TestZabkitDataDirServedByZooKeeper(t *testing.T) {
	switchServers(t, launch.Zabkit, launch.ZooKeeper, false)
}

func TestZabkitCrashedDataDirServedByZooKeeper(t *testing.T) {
	switchServers(t, launch.Zabkit, launch.ZooKeeper, true)
}

func TestZooKeeperDataDirServedByZabkit(t *testing.T) {
	switchServers(t, launch.ZooKeeper, launch.Zabkit, false)
}

func TestZooKeeperCrashedDataDirServedByZabkit(t *testing.T) {
	switchServers(t, launch.ZooKeeper, launch.Zabkit, true)
}
