package launch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/zkraw"
)

// TestStartServesAndRestarts checks the launcher end to end for each
// selected target: the server answers four-letter words, serves a session,
// and keeps a write across a kill -9 and restart on the same dataDir.
func TestStartServesAndRestarts(t *testing.T) {
	for _, kind := range Targets(t) {
		t.Run(string(kind), func(t *testing.T) {
			s := Start(t, kind, Options{})
			out, err := FourLetter(s.Addr, "srvr", 5*time.Second)
			if err != nil {
				t.Fatalf("srvr: %v", err)
			}
			if !strings.Contains(out, "Mode: standalone") {
				t.Fatalf("srvr output lacks Mode: standalone:\n%s", out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := zkraw.Dial(ctx, s.Addr, zkraw.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Create(ctx, "/launch", []byte("x"), zkraw.OpenACL, jute.FlagPersistent); err != nil {
				t.Fatal(err)
			}
			c.Close()
			s.Kill()
			s2 := s.Restart(t)
			if s2.Addr != s.Addr || s2.DataDir != s.DataDir {
				t.Fatalf("restart moved: %s %s -> %s %s", s.Addr, s.DataDir, s2.Addr, s2.DataDir)
			}
			c2, err := zkraw.Dial(ctx, s2.Addr, zkraw.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c2.CloseSession(ctx)
			got, err := c2.GetData(ctx, "/launch", false)
			if err != nil {
				t.Fatalf("after restart: %v", err)
			}
			if string(got.Data) != "x" {
				t.Fatalf("after restart data %q", got.Data)
			}
		})
	}
}

// ZABKIT_E2E_STORE reaches the zabkit process: with store.pebble its data
// lives in dataDir/pebble instead of ZooKeeper's version-2 directory.
func TestStoreEnvSelectsTheStore(t *testing.T) {
	t.Setenv(StoreEnv, "store.pebble")
	s := Start(t, Zabkit, Options{})
	if _, err := os.Stat(filepath.Join(s.DataDir, "pebble", "db")); err != nil {
		t.Fatalf("%s=store.pebble, yet no Pebble database in the data dir: %v", StoreEnv, err)
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "version-2")); err == nil {
		t.Fatalf("%s=store.pebble, yet the data dir has store.file's version-2", StoreEnv)
	}
}

func TestZooCfgHasTheKeysBothServersRead(t *testing.T) {
	cfg := ZooCfg(Options{SuperDigest: "super:abc", Extra: map[string]string{"snapCount": "10"}}, "/d", 1234)
	for _, want := range []string{
		"tickTime=2000\n", "dataDir=/d\n", "clientPort=1234\n", "clientPortAddress=127.0.0.1\n",
		"maxClientCnxns=0\n", "4lw.commands.whitelist=*\n", "forceSync=yes\n",
		"zookeeper.extendedTypesEnabled=true\n", "znode.container.checkIntervalMs=1000\n",
		"admin.enableServer=false\n", "zookeeper.DigestAuthenticationProvider.superDigest=super:abc\n",
		"snapCount=10\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("zoo.cfg lacks %q:\n%s", want, cfg)
		}
	}
}

// ZABKIT_E2E_ENSEMBLE=3 turns a target into a 3-member ensemble that hands
// its members out in turn, spreads a test's clients with AddrFor, keeps
// the standalone tickTime, and keeps the test knobs out of the servers'
// environment.
func TestEnsembleTargetSpreadsClients(t *testing.T) {
	t.Setenv(EnsembleEnv, "3")
	tg := StartTarget(t, Zabkit, Options{})
	ms := tg.Servers()
	if len(ms) != 3 || tg.Ensemble == nil {
		t.Fatalf("%d servers, ensemble %v", len(ms), tg.Ensemble)
	}
	for i := 0; i < 4; i++ {
		if s := tg.Server(); s != ms[i%3] || s.Myid() != i%3+1 {
			t.Fatalf("server %d is %s (myid %d), want member %d", i, s.Label(), s.Myid(), i%3+1)
		}
	}
	s := ms[2]
	if s.AddrFor(0) != s.Addr || s.AddrFor(1) != ms[0].Addr || s.AddrFor(5) != ms[1].Addr {
		t.Fatalf("AddrFor from member 3: %s %s %s", s.AddrFor(0), s.AddrFor(1), s.AddrFor(5))
	}
	if want := ms[2].Addr + "," + ms[0].Addr + "," + ms[1].Addr; s.ConnectString() != want {
		t.Fatalf("ConnectString %q, want %q", s.ConnectString(), want)
	}
	leaders := 0
	for i, m := range ms {
		switch mode := tg.Ensemble.Mode(i); mode {
		case "leader":
			leaders++
		case "follower":
		default:
			t.Fatalf("member %d mode %q", i+1, mode)
		}
		conf, err := FourLetter(m.Addr, "conf", 5*time.Second)
		if err != nil || !strings.Contains(conf, "tickTime=2000\n") {
			t.Fatalf("member %d conf (want tickTime=2000): %v\n%s", i+1, err, conf)
		}
		if log := m.LogTail(1000); strings.Contains(log, EnsembleEnv) {
			t.Fatalf("member %d saw the test knob %s:\n%s", i+1, EnsembleEnv, log)
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders", leaders)
	}
}

func TestEnsembleSizeParsesAndZeroIsStandalone(t *testing.T) {
	for v, want := range map[string]int{"": 0, "0": 0, "3": 3, "5": 5} {
		t.Setenv(EnsembleEnv, v)
		if n, err := EnsembleSize(); err != nil || n != want {
			t.Errorf("%s=%q: %d, %v; want %d", EnsembleEnv, v, n, err, want)
		}
	}
	for _, v := range []string{"1", "-3", "three"} {
		t.Setenv(EnsembleEnv, v)
		if _, err := EnsembleSize(); err == nil {
			t.Errorf("%s=%q accepted", EnsembleEnv, v)
		}
	}
	t.Setenv(EnsembleEnv, "")
	if s := StartTarget(t, Zabkit, Options{}).Server(); s.Ensemble() != nil || s.AddrFor(2) != s.Addr || s.ConnectString() != s.Addr || s.Myid() != 0 {
		t.Fatalf("standalone target: ensemble %v AddrFor %s ConnectString %s myid %d", s.Ensemble(), s.AddrFor(2), s.ConnectString(), s.Myid())
	}
}
