// Package proxy is a loopback TCP forwarder that tests use to cut client
// connections on purpose: drop every live connection (a network blip), or
// refuse new ones for a while (a partition long enough to expire a
// session), without touching the server process.
package proxy

import (
	"net"
	"sync"
)

// Proxy forwards connections from Addr to a target address.
type Proxy struct {
	Addr   string
	target string
	l      net.Listener

	mu      sync.Mutex
	blocked bool
	// cut holds every byte in both directions (a silent partition: no
	// reset, nothing delivered, connections look alive) until lifted.
	cut    bool
	lifted *sync.Cond
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target.
func Start(target string) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, l: l, conns: map[net.Conn]struct{}{}}
	p.lifted = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		blocked := p.blocked
		p.mu.Unlock()
		if blocked {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.conns[up] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	// Either side ending ends both, like a real connection.
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.cut {
				p.lifted.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// DropAll closes every forwarded connection now.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// SetBlocked makes the proxy refuse (accept and close) new connections
// while true.
func (p *Proxy) SetBlocked(b bool) {
	p.mu.Lock()
	p.blocked = b
	p.mu.Unlock()
}

// SetCut starts (true) or ends (false) a silent partition: bytes stop
// flowing both ways but no connection is closed, as when a network cable
// is pulled; what was held is delivered when the cut ends.
func (p *Proxy) SetCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.mu.Unlock()
	p.lifted.Broadcast()
}

// Close stops the proxy and every connection through it.
func (p *Proxy) Close() {
	p.SetCut(false)
	p.l.Close()
	p.DropAll()
	p.wg.Wait()
}
