package faultfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/zabkit/zabkit/stores/file/faultfs"
)

func TestTornWriteAndErrors(t *testing.T) {
	ffs := &faultfs.FS{}
	p := filepath.Join(t.TempDir(), "f")
	f, err := ffs.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ffs.Set(func(x *faultfs.Faults) { x.WriteErr, x.WritePartial = syscall.ENOSPC, 3 })
	if n, err := f.WriteAt([]byte("abcdef"), 0); n != 3 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("torn WriteAt = %d, %v; want 3, ENOSPC", n, err)
	}
	if b, _ := os.ReadFile(p); string(b) != "abc" {
		t.Fatalf("file holds %q after a torn write, want the first 3 bytes", b)
	}
	ffs.Set(func(x *faultfs.Faults) { *x = faultfs.Faults{DatasyncErr: syscall.EIO} })
	if err := f.Datasync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Datasync = %v, want EIO", err)
	}
	ffs.Set(func(x *faultfs.Faults) { *x = faultfs.Faults{} })
	if _, err := f.WriteAt([]byte("xyz"), 3); err != nil {
		t.Fatal(err)
	}
	if err := f.Datasync(); err != nil {
		t.Fatal(err)
	}
}

func TestStallBlocksUntilRelease(t *testing.T) {
	ffs := &faultfs.FS{}
	f, err := ffs.OpenFile(filepath.Join(t.TempDir(), "f"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stuck := ffs.Stall()
	done := make(chan error, 1)
	go func() { done <- f.Datasync() }()
	<-stuck
	select {
	case err := <-done:
		t.Fatalf("Datasync returned %v during a stall", err)
	default:
	}
	ffs.Release()
	if err := <-done; err != nil {
		t.Fatalf("Datasync after release = %v", err)
	}
	if err := f.Datasync(); err != nil { // the stall is over
		t.Fatal(err)
	}
}
