package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// loadFanout is the number of leaves per bucket znode. A flat tree of a
// million children would make any later getChildren of the root a
// multi-megabyte response that exceeds jute.maxbuffer on the client.
const loadFanout = 1000

// LoadPath returns the path of the i-th znode -load-znodes creates under
// root, so tests and scripts can name one to read back.
func LoadPath(root string, i uint64) string {
	return fmt.Sprintf("%s/b%05d/n%07d", strings.TrimSuffix(root, "/"), i/loadFanout, i)
}

// loadZnodes creates cfg.LoadZnodes znodes of cfg.ValueSize bytes under
// cfg.Root, keeping up to cfg.Inflight requests outstanding on each of up
// to 16 connections. The znodes are left in place.
func loadZnodes(ctx context.Context, cfg *Config, logger zk.Logger) (*LoadResult, error) {
	nconn := min(cfg.Clients, 16)
	conns, err := dialAll(ctx, cfg.Servers, nconn, cfg.Timeout, logger)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)

	acl := zk.WorldACL(zk.PermAll)
	root := strings.TrimSuffix(cfg.Root, "/")
	if root == "" {
		return nil, errors.New("-root must not be /")
	}
	if err := ensurePath(conns[0], root, acl); err != nil {
		return nil, err
	}
	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = 'v'
	}
	start := time.Now()
	buckets := (cfg.LoadZnodes + loadFanout - 1) / loadFanout
	_, err = parallel(ctx, conns, cfg.Inflight, buckets, func(c *zk.Conn, b uint64) error {
		_, err := c.Create(fmt.Sprintf("%s/b%05d", root, b), nil, 0, acl)
		if errors.Is(err, zk.ErrNodeExists) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create buckets: %w", err)
	}
	okCount, err := parallel(ctx, conns, cfg.Inflight, cfg.LoadZnodes, func(c *zk.Conn, i uint64) error {
		_, err := c.Create(LoadPath(root, i), value, 0, acl)
		return err
	})
	elapsed := time.Since(start)
	res := &LoadResult{
		Root:        root,
		Znodes:      okCount,
		Errors:      cfg.LoadZnodes - okCount,
		DurationSec: elapsed.Seconds(),
	}
	if elapsed > 0 {
		res.OpsPerSec = float64(okCount) / elapsed.Seconds()
	}
	if err != nil && ctx.Err() != nil {
		return res, err
	}
	// Individual failures are reported through Errors; the first one is
	// returned too so the operator sees why.
	return res, err
}

// ensurePath creates path and its missing ancestors.
func ensurePath(c *zk.Conn, path string, acl []zk.ACL) error {
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		_, err := c.Create(path[:i], nil, 0, acl)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", path[:i], err)
		}
	}
	return nil
}

// waitRead polls until a getData of cfg.WaitRead succeeds and returns the
// milliseconds elapsed since cfg.Since (Unix ns) or since it was called.
//
// go-zookeeper sleeps a second after failing every server in its list, which
// would quantize the measurement, so each attempt is a fresh session with a
// short deadline, preceded by a cheap TCP probe.
func waitRead(ctx context.Context, cfg *Config, logger zk.Logger) (float64, error) {
	from := time.Now()
	if cfg.Since > 0 {
		from = time.Unix(0, cfg.Since)
	}
	deadline := time.Now().Add(cfg.Timeout)
	var last error
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err := tryRead(ctx, cfg.Servers, cfg.WaitRead, logger); err != nil {
			last = err
			sleepCtx(ctx, 5*time.Millisecond)
			continue
		}
		return float64(time.Since(from).Microseconds()) / 1e3, nil
	}
	return 0, fmt.Errorf("no successful read of %s within %v: %w", cfg.WaitRead, cfg.Timeout, last)
}

func tryRead(ctx context.Context, servers []string, path string, logger zk.Logger) error {
	reachable := false
	for _, s := range servers {
		c, err := net.DialTimeout("tcp", s, 200*time.Millisecond)
		if err == nil {
			c.Close()
			reachable = true
			break
		}
	}
	if !reachable {
		return errors.New("no server accepts connections")
	}
	// The session timeout also bounds how long a server that accepted the
	// TCP connection may take to grant a session.
	conn, err := dial(ctx, servers, 500*time.Millisecond, logger)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, _, err = conn.Get(path)
	return err
}
