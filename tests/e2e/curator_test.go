package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zabkit/zabkit/tests/internal/launch"
)

// curatorJars are Debian's Curator 5.4 and the ZooKeeper client it runs on.
var curatorJars = []string{
	"/usr/share/java/curator-client.jar", "/usr/share/java/curator-framework.jar",
	"/usr/share/java/curator-recipes.jar", "/usr/share/java/zookeeper.jar",
	"/usr/share/java/zookeeper-jute.jar", "/usr/share/java/guava.jar", "/usr/share/java/slf4j-api.jar",
}

// TestCurator runs Apache Curator's recipes (mutex, atomic counter, cache,
// leader latch, transactions, TTL and container creates) through the Java
// client, as Curator users would.
func TestCurator(t *testing.T) {
	for _, j := range curatorJars {
		if _, err := os.Stat(j); err != nil {
			t.Fatalf("%s missing (apt-get install libcurator-framework-java libcurator-recipes-java zookeeper): %v", j, err)
		}
	}
	src, err := filepath.Abs("../java/CurTest.java")
	if err != nil {
		t.Fatal(err)
	}
	forEachTarget(t, func(t *testing.T, srv *launch.Server, root string) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cp := strings.Join(append(curatorJars, "/etc/zookeeper/conf"), ":")
		out, err := exec.CommandContext(ctx, "java", "-Xmx256m", "-cp", cp, src, srv.ConnectString(), root).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "CURATOR OK") {
			t.Fatalf("curator: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "counter 1 2") {
			t.Fatalf("atomic counter went wrong:\n%s", out)
		}
	})
}
