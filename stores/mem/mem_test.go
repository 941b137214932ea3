package mem_test

import (
	"sync"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/mem"
)

// disks maps the kit's directories to in-memory disks, so that reopening
// a directory is a restart with the disk intact.
type disks struct {
	mu sync.Mutex
	m  map[string]*mem.Disk
}

func (d *disks) open(dir string) (ext.Store, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	disk, ok := d.m[dir]
	if !ok {
		disk = mem.NewDisk()
		d.m[dir] = disk
	}
	return mem.Open(disk), nil
}

func TestConformance(t *testing.T) {
	d := &disks{m: map[string]*mem.Disk{}}
	storetest.Run(t, storetest.Opener(d.open).OpenFunc())
}

// TestCrash runs the kit's crash test, which declines a store that does
// not claim durability: a process crash loses a mem store.
func TestCrash(t *testing.T) {
	d := &disks{m: map[string]*mem.Disk{}}
	storetest.RunCrash(t, d.open, storetest.CrashOptions{})
}

func TestNotDurable(t *testing.T) {
	if c := mem.New().Capabilities(); c.Durable {
		t.Fatalf("mem store claims durability: %+v", c)
	}
}
