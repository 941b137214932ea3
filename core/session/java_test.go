package session

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// javaRandomBytes runs a tiny Java program to get the reference bytes of
// new Random(seed).nextBytes(byte[16]), so the test checks against the
// real JVM rather than against our own reading of its algorithm.
func javaRandomBytes(t *testing.T, seed int64) string {
	t.Helper()
	dir := t.TempDir()
	src := `public class R { public static void main(String[] a) {
  byte[] b = new byte[16]; new java.util.Random(Long.parseLong(a[0])).nextBytes(b);
  StringBuilder s = new StringBuilder(); for (byte x : b) s.append(String.format("%02x", x & 0xff));
  System.out.print(s); } }`
	if err := os.WriteFile(filepath.Join(dir, "R.java"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("java", filepath.Join(dir, "R.java"), strconv.FormatInt(seed, 10)).CombinedOutput()
	if err != nil {
		t.Fatalf("java: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}
