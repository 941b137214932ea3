package bench

import (
	"sync"

	"github.com/go-zookeeper/zk"
)

// orderedHosts is a zk.HostProvider that tries servers in the order given
// instead of shuffling them as go-zookeeper's default does. dialAll hands
// client i the list rotated by i, so the sessions of a run against an
// ensemble are spread evenly over its members (a shuffle leaves one member
// with noticeably more clients than another at 64 clients) while every
// client can still fail over to the others.
type orderedHosts struct {
	mu      sync.Mutex
	servers []string
	curr    int
	last    int
}

var _ zk.HostProvider = (*orderedHosts)(nil)

func (h *orderedHosts) Init(servers []string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.servers = append([]string(nil), servers...)
	h.curr, h.last = -1, -1
	return nil
}

func (h *orderedHosts) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.servers)
}

// Next returns the next server; retryStart reports a full pass over the
// list since the last successful connection (go-zookeeper then backs off).
func (h *orderedHosts) Next() (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.curr = (h.curr + 1) % len(h.servers)
	retryStart := h.curr == h.last
	if h.last == -1 {
		h.last = 0
	}
	return h.servers[h.curr], retryStart
}

func (h *orderedHosts) Connected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = h.curr
}

// rotate returns servers starting at index i (mod len), wrapping around.
func rotate(servers []string, i int) []string {
	if len(servers) == 0 {
		return nil
	}
	k := i % len(servers)
	out := make([]string, 0, len(servers))
	out = append(out, servers[k:]...)
	return append(out, servers[:k]...)
}
