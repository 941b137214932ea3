package mem_test

import (
	"sync"
	"testing"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/core/ext/storetest"
	"github.com/zabkit/zabkit/stores/mem"
)

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	disks := map[string]*mem.Disk{}
	storetest.Run(t, func(t *testing.T, dir string) ext.Store {
		mu.Lock()
		defer mu.Unlock()
		d, ok := disks[dir]
		if !ok {
			d = mem.NewDisk()
			disks[dir] = d
		}
		return mem.Open(d)
	})
}

func TestNotDurable(t *testing.T) {
	if c := mem.New().Capabilities(); c.Durable {
		t.Fatalf("mem store claims durability: %+v", c)
	}
}
