package offline

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/stores/file"
)

// FuzzDump feeds arbitrary bytes to dump's two parsers (the magic picks
// one; seeds of both kinds are in testdata/fuzz/FuzzDump, from Apache
// ZooKeeper, and below, from zabkit). Whatever the bytes, dump must not
// panic, must end, and its JSON output must be JSON.
func FuzzDump(f *testing.F) {
	dir := f.TempDir()
	st, err := file.Open(file.Options{DataDir: dir, PreAllocSizeKB: 4, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	if err := st.Append(context.Background(), storetest.Entries(20, 1, 2, 3)); err != nil {
		f.Fatal(err)
	}
	st.Close()
	log, err := os.ReadFile(dir + "/" + file.VersionDir + "/log.1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(log[:300])
	tree := datatree.New()
	for i, p := range []string{"/a", "/a/b", "/c"} {
		hdr := jute.TxnHeader{ClientID: 7, Zxid: int64(i + 1), Time: 1, Type: jute.OpCreate}
		tree.Apply(&hdr, &jute.CreateTxn{Path: p, Data: []byte{byte(i), 'x'}, ACL: jute.OpenACLUnsafe, Ephemeral: i == 2, ParentCVersion: -1})
	}
	var snap bytes.Buffer
	if _, err := tree.WriteSnapshot(&snap, map[int64]int32{7: 30000}); err != nil {
		f.Fatal(err)
	}
	f.Add(snap.Bytes())
	f.Add([]byte("ZKSN\x00\x00\x00\x02\xff\xff\xff\xff\xff\xff\xff\xff\x7f\xff\xff\xff"))
	f.Add([]byte("ZKLG"))

	f.Fuzz(func(t *testing.T, b []byte) {
		for _, name := range []string{"snapshot.3", "log.1"} {
			_, err := DumpReader(io.Discard, name, bytes.NewReader(b), int64(len(b)), DumpOptions{DataLimit: 16})
			if err != nil && !strings.Contains(err.Error(), ErrNotZooKeeperFile.Error()) {
				t.Fatalf("an in-memory dump failed: %v", err)
			}
		}
		var out bytes.Buffer
		if _, err := DumpReader(&out, "x", bytes.NewReader(b), int64(len(b)), DumpOptions{JSON: true, DataLimit: -1}); err != nil {
			return
		}
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Fatalf("not JSON: %q", line)
			}
		}
	})
}
