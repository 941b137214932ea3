package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

type opKind int

const (
	opCreate opKind = iota
	opSet
	opGet
	opMixed
	opCreateDelete
)

func kindOf(workload string) opKind {
	switch workload {
	case "create":
		return opCreate
	case "set":
		return opSet
	case "get":
		return opGet
	case "mixed":
		return opMixed
	default:
		return opCreateDelete
	}
}

// needsPrecreate reports whether a workload operates on existing znodes.
func (k opKind) needsPrecreate() bool { return k == opSet || k == opGet || k == opMixed }

// phase is the state shared by the clients of one workload run.
type phase struct {
	measuring atomic.Bool
	stop      atomic.Bool
	limit     uint64 // 0: run until stop
	started   atomic.Uint64
}

// worker is one client: its session, keyspace, and private histogram.
type worker struct {
	conn     *zk.Conn
	dir      string   // this client's directory
	paths    []string // precreated znodes (set/get/mixed)
	value    []byte
	rng      uint64
	seq      uint64
	nameBuf  []byte
	hist     Histogram
	errs     uint64
	firstErr string
}

// next is xorshift64*: cheap, allocation-free, and per worker, so clients
// never contend on a shared random source.
func (w *worker) next() uint64 {
	w.rng ^= w.rng >> 12
	w.rng ^= w.rng << 25
	w.rng ^= w.rng >> 27
	return w.rng * 2685821657736338717
}

func (w *worker) fail(err error) {
	w.errs++
	if w.firstErr == "" {
		w.firstErr = err.Error()
	}
}

// newPath builds dir/k<seq>; the string conversion is the only allocation,
// and the client library needs a string anyway.
func (w *worker) newPath() string {
	w.seq++
	w.nameBuf = append(w.nameBuf[:0], w.dir...)
	w.nameBuf = append(w.nameBuf, "/k"...)
	w.nameBuf = strconv.AppendUint(w.nameBuf, w.seq, 10)
	return string(w.nameBuf)
}

// timed runs one request and, if measuring, records its latency or error.
func (w *worker) timed(record bool, f func() error) bool {
	t0 := time.Now()
	err := f()
	d := time.Since(t0)
	if err != nil {
		if record {
			w.fail(err)
		}
		return false
	}
	if record {
		w.hist.Record(d)
	}
	return true
}

func (w *worker) step(k opKind, record bool) {
	switch k {
	case opCreate:
		p := w.newPath()
		w.timed(record, func() error { _, err := w.conn.Create(p, w.value, 0, zk.WorldACL(zk.PermAll)); return err })
	case opSet:
		p := w.paths[w.next()%uint64(len(w.paths))]
		w.timed(record, func() error { _, err := w.conn.Set(p, w.value, -1); return err })
	case opGet:
		p := w.paths[w.next()%uint64(len(w.paths))]
		w.timed(record, func() error { _, _, err := w.conn.Get(p); return err })
	case opMixed:
		r := w.next()
		p := w.paths[r%uint64(len(w.paths))]
		if (r>>32)%10 == 0 {
			w.timed(record, func() error { _, err := w.conn.Set(p, w.value, -1); return err })
		} else {
			w.timed(record, func() error { _, _, err := w.conn.Get(p); return err })
		}
	case opCreateDelete:
		p := w.newPath()
		if w.timed(record, func() error { _, err := w.conn.Create(p, w.value, 0, zk.WorldACL(zk.PermAll)); return err }) {
			w.timed(record, func() error { return w.conn.Delete(p, -1) })
		}
	}
}

func (w *worker) run(k opKind, ph *phase) {
	for !ph.stop.Load() {
		record := ph.measuring.Load()
		if record && ph.limit > 0 && ph.started.Add(1) > ph.limit {
			return
		}
		w.step(k, record)
	}
}

// runWorkloads connects the clients once and runs the selected workloads.
func runWorkloads(ctx context.Context, cfg *Config, logger zk.Logger, stderr io.Writer) ([]Result, error) {
	conns, err := dialAll(ctx, cfg.Servers, cfg.Clients, cfg.Timeout, logger)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)

	root := randomRoot()
	if _, err := conns[0].Create(root, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		return nil, fmt.Errorf("create bench root %s: %w", root, err)
	}
	// Cleanup must run even when ctx was cancelled by ^C.
	defer func() {
		if _, err := deleteTree(context.Background(), conns, root); err != nil {
			fmt.Fprintf(stderr, "zabkit bench: cleanup of %s: %v\n", root, err)
		}
	}()

	list := []string{cfg.Workload}
	if cfg.Workload == "all" {
		list = Workloads
	}
	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = 'v'
	}
	var results []Result
	for _, wl := range list {
		r, err := runOne(ctx, cfg, conns, root+"/"+wl, wl, value)
		if err != nil {
			return results, fmt.Errorf("workload %s: %w", wl, err)
		}
		results = append(results, r)
		// Each workload cleans its own keyspace so later ones run
		// against a server of the same size.
		if _, err := deleteTree(context.Background(), conns, root+"/"+wl); err != nil {
			return results, fmt.Errorf("cleanup after %s: %w", wl, err)
		}
		if ctx.Err() != nil {
			return results, ctx.Err()
		}
	}
	return results, nil
}

// runOne sets up one workload's keyspace, runs warm-up and measurement, and
// summarizes. Set-up is never measured.
func runOne(ctx context.Context, cfg *Config, conns []*zk.Conn, dir, wl string, value []byte) (Result, error) {
	k := kindOf(wl)
	acl := zk.WorldACL(zk.PermAll)
	if _, err := conns[0].Create(dir, nil, 0, acl); err != nil {
		return Result{}, fmt.Errorf("create %s: %w", dir, err)
	}
	workers := make([]*worker, len(conns))
	perClient := 1
	if k.needsPrecreate() {
		perClient = max(1, cfg.Znodes/len(conns))
	}
	for i, c := range conns {
		w := &worker{conn: c, dir: dir + "/c" + strconv.Itoa(i), value: value}
		w.rng = uint64(time.Now().UnixNano())*uint64(2*i+1) | 1
		workers[i] = w
		if k.needsPrecreate() {
			w.paths = make([]string, perClient)
			for j := range w.paths {
				w.paths[j] = w.dir + "/n" + strconv.Itoa(j)
			}
		}
	}
	// Client directories, then the precreated znodes, all pipelined.
	_, err := parallel(ctx, conns, 16, uint64(len(workers)), func(c *zk.Conn, i uint64) error {
		_, err := c.Create(workers[i].dir, nil, 0, acl)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("create client dirs: %w", err)
	}
	if k.needsPrecreate() {
		total := uint64(perClient * len(workers))
		_, err := parallel(ctx, conns, 16, total, func(c *zk.Conn, i uint64) error {
			w := workers[i/uint64(perClient)]
			_, err := c.Create(w.paths[i%uint64(perClient)], value, 0, acl)
			return err
		})
		if err != nil {
			return Result{}, fmt.Errorf("precreate znodes: %w", err)
		}
	}
	if len(cfg.Servers) > 1 {
		// A session on one ensemble member may not see yet what another
		// member acknowledged; a sync per session makes every client see
		// its znodes before the first request.
		if err := syncAll(conns, dir); err != nil {
			return Result{}, err
		}
	}

	ph := &phase{limit: cfg.Ops}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(k, ph)
		}()
	}
	// A cancelled context stops the clients early; what was measured so far
	// is still reported.
	stopOnCancel := context.AfterFunc(ctx, func() { ph.stop.Store(true) })
	defer stopOnCancel()

	sleepCtx(ctx, cfg.Warmup)
	start := time.Now()
	ph.measuring.Store(true)
	if cfg.Ops == 0 {
		sleepCtx(ctx, cfg.Duration)
		ph.stop.Store(true)
	}
	wg.Wait()
	elapsed := time.Since(start)

	var h Histogram
	var errs uint64
	firstErr := ""
	for _, w := range workers {
		h.Merge(&w.hist)
		errs += w.errs
		if firstErr == "" {
			firstErr = w.firstErr
		}
	}
	return summarize(wl, len(conns), cfg.ValueSize, &h, errs, elapsed, firstErr), nil
}

// syncAll runs sync(path) on every session in parallel.
func syncAll(conns []*zk.Conn, path string) error {
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Sync(path); err != nil {
				errs[i] = fmt.Errorf("sync %s: %w", path, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// parallel calls f(conn, i) for every i in [0, n) from perConn goroutines
// per connection. go-zookeeper pipelines the calls of concurrent goroutines
// on one connection, so this keeps perConn requests in flight on each. It
// returns how many calls succeeded and the first error.
func parallel(ctx context.Context, conns []*zk.Conn, perConn int, n uint64, f func(c *zk.Conn, i uint64) error) (uint64, error) {
	var next, ok atomic.Uint64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	workers := len(conns) * perConn
	if uint64(workers) > n {
		workers = int(n)
	}
	for g := 0; g < workers; g++ {
		c := conns[g%len(conns)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				if err := f(c, i); err != nil {
					once.Do(func() { first = fmt.Errorf("item %d: %w", i, err) })
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return ok.Load(), first
}

// deleteTree removes root and everything below it, breadth-first listing
// then deepest-first pipelined deletes. A missing root is not an error.
func deleteTree(ctx context.Context, conns []*zk.Conn, root string) (uint64, error) {
	levels := [][]string{{root}}
	for {
		cur := levels[len(levels)-1]
		kids := make([][]string, len(cur))
		_, err := parallel(ctx, conns, 8, uint64(len(cur)), func(c *zk.Conn, i uint64) error {
			names, _, err := c.Children(cur[i])
			if errors.Is(err, zk.ErrNoNode) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("list %s: %w", cur[i], err)
			}
			prefix := cur[i] + "/"
			if cur[i] == "/" {
				prefix = "/"
			}
			out := make([]string, len(names))
			for j, nm := range names {
				out[j] = prefix + nm
			}
			kids[i] = out
			return nil
		})
		if err != nil {
			return 0, err
		}
		var next []string
		for _, k := range kids {
			next = append(next, k...)
		}
		if len(next) == 0 {
			break
		}
		levels = append(levels, next)
	}
	var deleted uint64
	for l := len(levels) - 1; l >= 0; l-- {
		lv := levels[l]
		n, err := parallel(ctx, conns, 16, uint64(len(lv)), func(c *zk.Conn, i uint64) error {
			err := c.Delete(lv[i], -1)
			if errors.Is(err, zk.ErrNoNode) {
				return nil
			}
			return err
		})
		deleted += n
		if err != nil {
			return deleted, fmt.Errorf("delete: %w", err)
		}
	}
	return deleted, nil
}
