package datatree

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/testzk"
)

// TestSyncPayloadInteropWithApacheZooKeeper runs Apache ZooKeeper 3.8's
// own serialisation code (testdata/java/SyncSnapInterop.java, with
// Debian's jar) in both directions:
//
//   - leader side: ZooKeeper loads a snapshot file zabkit wrote and
//     serialises it as a leader sends it after SNAP; ReadSyncSnapshot must
//     load exactly our tree from that;
//   - learner side: ZooKeeper reads zabkit's WriteSyncSnapshot payload as a
//     learner does, signature included and nothing after it, and must
//     compute our digest and node count; its re-serialisation must load
//     back into our tree.
//
// Java lists children and sessions in hash order, so the payloads are
// compared by what they load and by their length, not byte for byte.
func TestSyncPayloadInteropWithApacheZooKeeper(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java not found (install default-jre-headless): %v", err)
	}
	if _, err := os.Stat(testzk.DefaultJar); err != nil {
		t.Fatalf("Apache ZooKeeper not installed (apt-get install zookeeper): %v", err)
	}
	a := populate(t)
	for i := range 300 { // more than 256 children: the address-ordered walk
		a.mustCreate(fmt.Sprintf("/many-%03d", i), strconv.Itoa(i))
	}
	a.mustCreate("/app/big", strings.Repeat("0123456789", 20_000))
	a.create("/app/eph2", "second session", jute.FlagEphemeral, 0x0100_0000_0000_0042)
	sessions := map[int64]int32{0x1234: 30000, 0x0100_0000_0000_0042: 4000, 0x99: 6000}

	dir := t.TempDir()
	snapDir := filepath.Join(dir, "snap")
	if err := os.Mkdir(snapDir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := writeSnap(t, a.tree, sessions)
	if err := os.WriteFile(filepath.Join(snapDir, fmt.Sprintf("snapshot.%x", a.zxid)), file, 0o644); err != nil {
		t.Fatal(err)
	}
	ours := writeSync(t, a.tree, sessions)
	payload := filepath.Join(dir, "zabkit.payload")
	if err := os.WriteFile(payload, ours, 0o644); err != nil {
		t.Fatal(err)
	}

	classpath := testzk.DefaultJar
	if _, err := os.Stat("/usr/share/java/slf4j-nop.jar"); err == nil {
		classpath += ":/usr/share/java/slf4j-nop.jar"
	}
	cmd := exec.Command(java, "-Xshare:auto", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.extendedTypesEnabled=true", "-cp", classpath,
		filepath.Join("testdata", "java", "SyncSnapInterop.java"), snapDir, payload, dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("java: %v\n%s", err, out)
	}

	// Java counts root under both "" and "/", as Stats does.
	wantReport := func(name string) string {
		st := a.tree.Stats()
		return fmt.Sprintf("%s digest %x nodes %d sessions %d", name, uint64(a.tree.Digest()), st.NodeCount, len(sessions))
	}
	for _, name := range []string{"file", "payload"} {
		if !strings.Contains(string(out), wantReport(name)+"\n") {
			t.Errorf("ZooKeeper's view of our %s differs: want %q in\n%s", name, wantReport(name), out)
		}
	}

	for _, name := range []string{"leader.payload", "learner.payload"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != len(ours) {
			t.Errorf("%s: %d bytes, ours %d", name, len(b), len(ours))
		}
		got, gotSessions, err := ReadSyncSnapshot(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(gotSessions, sessions) {
			t.Errorf("%s: sessions %v", name, gotSessions)
		}
		checkLoaded(t, got, a)
	}
}
