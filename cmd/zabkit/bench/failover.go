package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/internal/zkraw"
)

// FailoverMethod says in the report how -failover-pid measures, so a
// number is never read without it.
const FailoverMethod = "one probe session per -server, connected before the kill; after SIGKILL each sends " +
	"a setData every -probe-interval without waiting for replies and, when its server closes the connection " +
	"(a member between roles does), redials after -probe-interval re-attaching the session; the clock runs " +
	"from just before kill(2) to the first successful setData reply from any probe"

// stallAfter is how long a probe keeps a connection on which requests are
// outstanding but nothing is answered before it redials.
const stallAfter = time.Second

// FailoverResult is one -failover-pid trial.
type FailoverResult struct {
	KilledPID int `json:"killed_pid"`
	// Ms is the time from the SIGKILL to the first acknowledged write.
	Ms float64 `json:"ms"`
	// Server is the probe's server that acknowledged it.
	Server string `json:"server"`
	// Dials counts the probes' connection attempts after the kill.
	Dials uint64 `json:"dials"`
	// Stalls counts connections the probes gave up on for not answering.
	Stalls uint64 `json:"stalls"`
	// WriterOps and WriterErrors are the background writers' (-writers)
	// setData calls from their start to the end of the trial.
	WriterOps    uint64 `json:"writer_ops"`
	WriterErrors uint64 `json:"writer_errors"`
	Method       string `json:"method"`
	// Error says why no write was acknowledged (the trial failed).
	Error string `json:"error,omitempty"`
}

// failover runs one trial: probes connect to cfg.Servers (the members
// expected to survive), background writers load every member in
// cfg.Writers for cfg.Warmup, then process cfg.FailoverPID is killed with
// SIGKILL and the probes race to the first acknowledged write.
func failover(ctx context.Context, cfg *Config, logger zk.Logger) (*FailoverResult, error) {
	if err := syscall.Kill(cfg.FailoverPID, 0); err != nil {
		return nil, fmt.Errorf("process %d to kill: %w", cfg.FailoverPID, err)
	}
	path := strings.Replace(randomRoot(), "bench", "failover", 1)
	probes := make([]*probe, len(cfg.Servers))
	for i, s := range cfg.Servers {
		probes[i] = &probe{addr: s, path: path, timeout: cfg.Timeout, interval: cfg.ProbeInterval}
	}
	defer func() {
		for _, p := range probes {
			p.closeSession()
		}
	}()
	for i, p := range probes {
		if err := p.connect(ctx, i == 0); err != nil {
			return nil, err
		}
	}
	defer deletePath(cfg, path, logger)

	wctx, stopWriters := context.WithCancel(ctx)
	w, err := startWriters(wctx, cfg, path, logger)
	if err != nil {
		stopWriters()
		return nil, err
	}
	sleepCtx(ctx, cfg.Warmup)

	res := &FailoverResult{KilledPID: cfg.FailoverPID, Method: FailoverMethod}
	pctx, stopProbes := context.WithTimeout(ctx, cfg.Timeout)
	var once sync.Once
	var won time.Time
	win := func(addr string, at time.Time) {
		once.Do(func() {
			won, res.Server = at, addr
			stopProbes()
		})
	}
	t0 := time.Now()
	if err := syscall.Kill(cfg.FailoverPID, syscall.SIGKILL); err != nil {
		stopProbes()
		stopWriters()
		w.wait()
		return nil, fmt.Errorf("kill %d: %w", cfg.FailoverPID, err)
	}
	var wg sync.WaitGroup
	for _, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(pctx, win)
		}()
	}
	wg.Wait()
	stopProbes()
	stopWriters()
	w.wait()
	res.WriterOps, res.WriterErrors = w.ops.Load(), w.errs.Load()
	for _, p := range probes {
		res.Dials += p.dials
		res.Stalls += p.stalls
	}
	if won.IsZero() {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		return res, fmt.Errorf("no write acknowledged within %v of killing %d (last probe error: %w)",
			cfg.Timeout, cfg.FailoverPID, lastProbeErr(probes))
	}
	res.Ms = float64(won.Sub(t0).Microseconds()) / 1e3
	return res, nil
}

func lastProbeErr(probes []*probe) error {
	for _, p := range probes {
		if p.lastErr != nil {
			return p.lastErr
		}
	}
	return errors.New("none")
}

// deletePath removes the probe znode after the trial, best effort.
func deletePath(cfg *Config, path string, logger zk.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dial(ctx, cfg.Servers, 5*time.Second, logger)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.Delete(path, -1)
}

// writers are the background sessions that keep writes in flight while
// the leader dies.
type writers struct {
	wg        sync.WaitGroup
	conns     []*zk.Conn
	ops, errs atomic.Uint64
}

func startWriters(ctx context.Context, cfg *Config, path string, logger zk.Logger) (*writers, error) {
	w := &writers{}
	if len(cfg.Writers) == 0 {
		return w, nil
	}
	conns, err := dialAll(ctx, cfg.Writers, len(cfg.Writers), cfg.Timeout, logger)
	if err != nil {
		return nil, fmt.Errorf("background writers: %w", err)
	}
	w.conns = conns
	value := make([]byte, cfg.ValueSize)
	for _, c := range conns {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for ctx.Err() == nil {
				if _, err := c.Set(path, value, -1); err != nil {
					w.errs.Add(1)
					sleepCtx(ctx, 5*time.Millisecond)
					continue
				}
				w.ops.Add(1)
			}
		}()
	}
	return w, nil
}

func (w *writers) wait() {
	w.wg.Wait()
	closeAll(w.conns)
}

// probe is one measuring session on one server, driven through zkraw so no
// client library back-off sits between a server coming back and the probe
// noticing.
type probe struct {
	addr     string
	path     string
	timeout  time.Duration
	interval time.Duration

	conn    *zkraw.Conn
	sid     int64
	passwd  []byte
	dials   uint64
	stalls  uint64
	lastErr error
}

var worldACL = []jute.ACL{{Perms: 31, ID: jute.Id{Scheme: "world", ID: "anyone"}}}

// connect opens the probe's session before the kill and proves a write
// through it works (creating the probe znode first if create is set).
func (p *probe) connect(ctx context.Context, create bool) error {
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	c, err := zkraw.Dial(cctx, p.addr, zkraw.Options{Timeout: p.timeout, DialTimeout: p.timeout})
	if err != nil {
		return fmt.Errorf("probe %s: %w", p.addr, err)
	}
	p.conn, p.sid, p.passwd = c, c.SessionID(), c.Passwd()
	if create {
		if _, err := c.Create(cctx, p.path, nil, worldACL, 0); err != nil {
			return fmt.Errorf("probe %s: create %s: %w", p.addr, p.path, err)
		}
	}
	// A member answers a session's requests in order, so after a sync the
	// znode created through another member is visible here.
	if _, err := c.Sync(cctx, p.path); err != nil {
		return fmt.Errorf("probe %s: sync: %w", p.addr, err)
	}
	if _, err := c.SetData(cctx, p.path, []byte("probe"), -1); err != nil {
		return fmt.Errorf("probe %s: first write: %w", p.addr, err)
	}
	return nil
}

// run keeps a connection to p.addr and writes through it until ctx ends
// or a write is acknowledged, which it reports to win.
func (p *probe) run(ctx context.Context, win func(addr string, at time.Time)) {
	for ctx.Err() == nil {
		if p.conn == nil {
			p.dials++
			dctx, cancel := context.WithTimeout(ctx, stallAfter)
			c, err := zkraw.Dial(dctx, p.addr, zkraw.Options{
				Timeout: p.timeout, SessionID: p.sid, Passwd: p.passwd, DialTimeout: stallAfter,
			})
			cancel()
			if errors.Is(err, zkraw.ErrSessionInvalid) {
				// Expired meanwhile: the next attempt asks for a new one.
				c.Close()
				p.sid, p.passwd = 0, nil
			}
			if err != nil {
				p.lastErr = err
				sleepCtx(ctx, p.interval)
				continue
			}
			p.conn, p.sid, p.passwd = c, c.SessionID(), c.Passwd()
		}
		p.pump(ctx, win)
		p.conn.Close()
		p.conn = nil
		sleepCtx(ctx, p.interval)
	}
}

// pump sends a setData every interval on p.conn without waiting and reads
// the replies, until the connection fails or stalls, ctx ends, or a write
// succeeds.
func (p *probe) pump(ctx context.Context, win func(addr string, at time.Time)) {
	c := p.conn
	var answered atomic.Int64 // unix ns of the last reply (or of the connect)
	answered.Store(time.Now().UnixNano())
	var sent, replied atomic.Int64
	var readErr error // written by the reader before it closes dead
	dead := make(chan struct{})
	go func() {
		defer close(dead)
		for {
			f, err := c.NextFrame(ctx)
			if err != nil {
				readErr = err
				return
			}
			if f.Header.Xid <= 0 {
				continue // ping or notification
			}
			now := time.Now()
			replied.Add(1)
			answered.Store(now.UnixNano())
			if f.Header.Err == 0 {
				win(p.addr, now)
				return
			}
			readErr = f.Err()
		}
	}()
	// stop closes the socket, which ends the reader, and waits for it.
	stop := func(err error) {
		c.Close()
		<-dead
		if readErr != nil {
			p.lastErr = readErr
		}
		if err != nil {
			p.lastErr = err
		}
	}
	req := &jute.SetDataRequest{Path: p.path, Data: []byte("probe"), Version: -1}
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		if err := c.Send(c.NextXid(), jute.OpSetData, req); err != nil {
			stop(err)
			return
		}
		sent.Add(1)
		select {
		case <-dead:
			stop(nil)
			return
		case <-ctx.Done():
			stop(nil)
			return
		case <-tick.C:
		}
		if sent.Load() > replied.Load() && time.Since(time.Unix(0, answered.Load())) > stallAfter {
			p.stalls++
			stop(errors.New("no reply within " + stallAfter.String()))
			return
		}
	}
}

// closeSession ends the probe's session so trials do not pile up sessions
// on the ensemble, best effort.
func (p *probe) closeSession() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	if p.sid == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := zkraw.Dial(ctx, p.addr, zkraw.Options{Timeout: p.timeout, SessionID: p.sid, Passwd: p.passwd, DialTimeout: time.Second})
	if err != nil {
		if c != nil {
			c.Close()
		}
		return
	}
	_ = c.CloseSession(ctx)
}
