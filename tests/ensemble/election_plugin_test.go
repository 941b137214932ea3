package ensemble_test

import (
	"context"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zabkit/zabkit/core/config"
	"github.com/zabkit/zabkit/core/node"
	"github.com/zabkit/zabkit/plugins/host"
	"github.com/zabkit/zabkit/plugins/sdk/sdktest"
	memstore "github.com/zabkit/zabkit/stores/mem"
	"github.com/zabkit/zabkit/transports/mem"
)

// TestInProcessEnsembleElectionPlugin runs three in-process members whose
// election is election.external's engine with the example bully plugin
// (plugins/examples/bullyelection), one plugin process per member as in
// production: they elect, replicate, survive a member's plugin being
// SIGKILLed, and elect again when the leader stops.
func TestInProcessEnsembleElectionPlugin(t *testing.T) {
	t.Setenv(sdktest.BinaryEnv, "") // build this plugin, not one an earlier Build named
	bin, cleanup, err := sdktest.Build("../../plugins/examples/bullyelection")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	c := &cluster{t: t, net: mem.NewNetwork(), size: 3}
	t.Cleanup(c.net.Close)
	plugins := make([]*host.ElectionFactory, 3)
	for i := range 3 {
		c.members = append(c.members, &member{id: int64(i + 1)})
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("member", i+1)
		f, err := host.OpenElection(context.Background(), host.ElectionConfig{
			Launch: host.LaunchConfig{Path: bin}, HealthInterval: 100 * time.Millisecond, BackoffMin: 10 * time.Millisecond,
			Logger: log.With("plugin", "bullyelection"),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		plugins[i] = f
		startElecting(c, i, f, log)
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			c.stop(m)
		}
	})

	lead := c.leader(60 * time.Second)
	follower := (lead + 1) % 3
	fc := connect(t, c.addr(follower))
	if _, err := fc.Create("/before", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create through a follower: %v", err)
	}
	c.converged(20 * time.Second)

	// The other follower's plugin dies; its election comes back on its own
	// and takes part in the next one.
	other := (lead + 2) % 3
	pid := plugins[other].PluginPID()
	syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(30 * time.Second)
	for p := plugins[other].PluginPID(); p == 0 || p == pid; p = plugins[other].PluginPID() {
		if time.Now().After(deadline) {
			t.Fatal("the killed plugin was not replaced")
		}
		time.Sleep(10 * time.Millisecond)
	}

	c.stop(c.members[lead])
	lead2 := c.leader(60 * time.Second)
	if lead2 == lead {
		t.Fatal("the stopped leader still leads")
	}
	oc := connect(t, c.addr(other))
	if _, err := oc.Create("/after", []byte("y"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create after the leader stopped: %v", err)
	}
	c.converged(20 * time.Second)
	for _, p := range []string{"/before", "/after"} {
		if ok, _, err := oc.Exists(p); err != nil || !ok {
			t.Fatalf("%s after the new election: %v %v", p, ok, err)
		}
	}
}

// startElecting runs member i on an in-memory store with el as its
// election.
func startElecting(c *cluster, i int, el *host.ElectionFactory, log *slog.Logger) {
	t, m := c.t, c.members[i]
	cfg := config.Default()
	cfg.TickTime, cfg.InitLimit, cfg.SyncLimit = 200, 10, 5
	cfg.ClientPort, cfg.ClientPortAddress = 0, "127.0.0.1"
	cfg.DataDir, cfg.MyID = t.TempDir(), m.id
	cfg.Servers = map[int64]config.ServerSpec{}
	for id := int64(1); id <= int64(c.size); id++ {
		cfg.Servers[id] = config.ServerSpec{ID: id, Host: "127.0.0.1", QuorumPort: 22000 + int(id), ElectionPort: 23000 + int(id), Role: config.Participant}
	}
	n, err := node.Open(&cfg, memstore.New(), log)
	if err != nil {
		t.Fatal(err)
	}
	n.Transport, n.Election = c.net.NewTransport(mem.Options{}), el
	if err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.n, m.cancel, m.done = n, cancel, make(chan error, 1)
	go func() { m.done <- n.Run(ctx) }()
}
