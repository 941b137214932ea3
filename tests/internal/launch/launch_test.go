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
