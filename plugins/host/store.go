package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zabkit/zabkit/core/ext"
	"github.com/zabkit/zabkit/plugins/internal/wire"
	pb "github.com/zabkit/zabkit/plugins/proto/zabkit/v1"
	"github.com/zabkit/zabkit/plugins/sdk"
)

// ErrIdentity means the plugin reopened a different database (or format)
// than the one the node was running on; the host refuses it.
var ErrIdentity = errors.New("store plugin reopened a different database")

// StoreConfig configures a store plugin. Zero durations take the defaults
// in parentheses.
type StoreConfig struct {
	Launch LaunchConfig
	// Request is what the plugin's Open receives (directories, forceSync,
	// the plugin's own options).
	DataDir, DataLogDir string
	ForceSync           bool
	Options             map[string]any
	// RPCTimeout bounds every call and every step of a stream (10s): a
	// plugin that does not answer within it is failed and restarted.
	RPCTimeout time.Duration
	// HealthInterval is how often the plugin is pinged (500ms);
	// HealthTimeout bounds one ping (2s).
	HealthInterval, HealthTimeout time.Duration
	// Restart budget: at most Restarts restarts (5; negative: none)
	// within RestartWindow (10m), waiting BackoffMin (200ms) doubling up
	// to BackoffMax (10s) before each.
	Restarts               int
	RestartWindow          time.Duration
	BackoffMin, BackoffMax time.Duration
	Logger                 *slog.Logger
}

func (c *StoreConfig) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.RPCTimeout, 10*time.Second)
	def(&c.HealthInterval, 500*time.Millisecond)
	def(&c.HealthTimeout, 2*time.Second)
	def(&c.RestartWindow, 10*time.Minute)
	def(&c.BackoffMin, 200*time.Millisecond)
	def(&c.BackoffMax, 10*time.Second)
	if c.Restarts < 0 {
		c.Restarts = 0
	} else if c.Restarts == 0 {
		c.Restarts = 5
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Launch.Logger = c.Logger
}

// identity is what the plugin's first Open reported.
type identity struct {
	dbID    string
	caps    ext.StoreCapabilities
	checked bool
}

// Store is an ext.Store served by a plugin process. Calls fail fast with
// ErrPluginFailed once the plugin died, stalled or failed a write; Failed
// says when that happens and Restart brings a new process up on the same
// database.
type Store struct {
	cfg StoreConfig
	log *slog.Logger

	mu         sync.Mutex
	sess       *session
	closed     bool
	id         identity
	restarts   []time.Time // within the window
	cause      error       // why the last session failed
	stopHealth context.CancelFunc

	// last known bounds, for LastZxid/FirstZxid when the plugin is gone.
	first, last atomic.Int64
}

// OpenStore starts the plugin and opens its store.
func OpenStore(ctx context.Context, cfg StoreConfig) (*Store, error) {
	cfg.defaults()
	s := &Store{cfg: cfg, log: cfg.Logger}
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// start launches a plugin, opens the store, checks its identity and
// makes it the current session.
func (s *Store) start(ctx context.Context) error {
	proc, err := launch(s.cfg.Launch, sdk.StorePlugin)
	if err != nil {
		return err
	}
	rpc, ok := proc.raw.(pb.StoreClient)
	if !ok {
		proc.kill()
		return fmt.Errorf("plugin %s: unexpected store client %T", s.cfg.Launch.Path, proc.raw)
	}
	opts, err := wire.Options(s.cfg.Options)
	if err != nil {
		proc.kill()
		return err
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.RPCTimeout)
	resp, err := rpc.Open(octx, &pb.OpenRequest{
		ProtocolVersion: wire.ProtocolVersion, DataDir: s.cfg.DataDir, DataLogDir: s.cfg.DataLogDir,
		ForceSync: s.cfg.ForceSync, OptionsJson: opts,
	})
	cancel()
	if err != nil {
		proc.kill()
		return fmt.Errorf("store plugin %s: open: %w", s.cfg.Launch.Path, wire.FromStatus(err))
	}
	if err := wire.CheckVersion("plugin", resp.GetProtocolVersion()); err != nil {
		proc.kill()
		return err
	}
	got := identity{dbID: resp.GetDbId(), caps: ext.StoreCapabilities{Durable: resp.GetDurable(), Format: resp.GetFormat()}, checked: true}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id.checked && (got.dbID != s.id.dbID || got.caps != s.id.caps) {
		proc.kill()
		return fmt.Errorf("%w: it is database %q (format %q, durable %v); the node was running on %q (format %q, durable %v)",
			ErrIdentity, got.dbID, got.caps.Format, got.caps.Durable, s.id.dbID, s.id.caps.Format, s.id.caps.Durable)
	}
	s.id = got
	s.first.Store(resp.GetFirstZxid())
	s.last.Store(resp.GetLastZxid())
	sess := newSession(proc, rpc, s.log.With("pid", proc.pid()))
	s.sess, s.closed = sess, false
	hctx, stop := context.WithCancel(context.Background())
	s.stopHealth = stop
	go sess.health(hctx, s.cfg.HealthInterval, s.cfg.HealthTimeout)
	s.log.Info("store plugin open", "pid", proc.pid(), "db_id", got.dbID, "format", got.caps.Format, "durable", got.caps.Durable,
		"last_zxid", fmt.Sprintf("%#x", resp.GetLastZxid()))
	return nil
}

// Failed is closed when the current session fails (the plugin died,
// stalled or failed a write), not when the store is closed. The server
// stops the node on it, then calls Restart. Without a session (closed, or
// between a failure and a restart) it is already closed.
func (s *Store) Failed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return s.sess.failed
}

// current returns the session a call should use, or the error it fails
// with at once.
func (s *Store) current() (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ext.ErrClosed
	}
	if s.sess == nil {
		return nil, fmt.Errorf("%w: not running", ErrPluginFailed)
	}
	if err := s.sess.err(); err != nil {
		return nil, err
	}
	return s.sess, nil
}

// call runs one unary RPC on the current session with the configured
// deadline. write says whether a failure leaves the store's state unknown
// (Append, TruncateAfter, SaveMeta): such a failure fails the session,
// except the refusals that write nothing (ErrZxidOrder, ErrZxidGap).
func (s *Store) call(parent context.Context, write bool, fn func(ctx context.Context, rpc pb.StoreClient) error) error {
	sess, err := s.current()
	if err != nil {
		return err
	}
	ctx, cancel := sess.callCtx(parent, s.cfg.RPCTimeout)
	err = fn(ctx, sess.rpc)
	cancel()
	return s.settle(sess, parent, err, write)
}

// settle turns an RPC error into what the caller gets, failing the
// session when the error says the plugin is gone or the state unknown.
func (s *Store) settle(sess *session, parent context.Context, err error, write bool) error {
	if err == nil {
		return nil
	}
	if perr := parent.Err(); perr != nil {
		return fmt.Errorf("store plugin: %w", perr)
	}
	if serr := sess.err(); serr != nil {
		return serr
	}
	if wire.Transport(err) {
		sess.fail(err)
		return sess.err()
	}
	err = wire.FromStatus(err)
	if write && !errors.Is(err, ext.ErrZxidOrder) && !errors.Is(err, ext.ErrClosed) {
		sess.fail(fmt.Errorf("write failed, outcome unknown: %w", err))
	}
	return err
}

func (s *Store) setBounds(b *pb.BoundsResponse) {
	s.first.Store(b.GetFirstZxid())
	s.last.Store(b.GetLastZxid())
}

// Capabilities is what the plugin reported when it opened.
func (s *Store) Capabilities() ext.StoreCapabilities {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id.caps
}

// DBID is the database id the plugin reported when it first opened.
func (s *Store) DBID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id.dbID
}

// Append sends the batch as one RPC: one group commit.
func (s *Store) Append(ctx context.Context, entries []ext.Entry) error {
	size := 0
	for _, e := range entries {
		size += len(e.Data) + 16
	}
	if size > wire.MaxMessageBytes-(1<<10) {
		return fmt.Errorf("store plugin: a group commit of %d bytes exceeds the %d-byte message limit", size, wire.MaxMessageBytes)
	}
	return s.call(ctx, true, func(ctx context.Context, rpc pb.StoreClient) error {
		resp, err := rpc.Append(ctx, &pb.AppendRequest{Entries: wire.Entries(entries)})
		if err == nil {
			s.last.Store(resp.GetLastZxid())
		}
		return err
	})
}

// bounds asks the plugin for the log's ends; when it cannot answer, the
// last known ones stand (every other call is failing then anyway).
func (s *Store) bounds() {
	_ = s.call(context.Background(), false, func(ctx context.Context, rpc pb.StoreClient) error {
		resp, err := rpc.Bounds(ctx, &pb.BoundsRequest{})
		if err == nil {
			s.setBounds(resp)
		}
		return err
	})
}

// LastZxid is the last logged zxid.
func (s *Store) LastZxid() int64 {
	s.bounds()
	return s.last.Load()
}

// FirstZxid is the oldest logged zxid.
func (s *Store) FirstZxid() int64 {
	s.bounds()
	return s.first.Load()
}

// ReadLog streams the log in batches; each step of the stream has the
// RPC deadline, the whole read none.
func (s *Store) ReadLog(ctx context.Context, after int64, fn func(ext.Entry) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sess, err := s.current()
	if err != nil {
		return err
	}
	cctx, cancel := sess.callCtx(ctx, 0)
	defer cancel()
	arm := sess.watchdog(s.cfg.RPCTimeout, "read log")
	disarm := arm()
	stream, err := sess.rpc.ReadLog(cctx, &pb.ReadLogRequest{After: after, MaxBatchBytes: wire.ChunkBytes})
	disarm()
	if err != nil {
		return s.settle(sess, ctx, err, false)
	}
	for {
		disarm = arm()
		batch, err := stream.Recv()
		disarm()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return s.settle(sess, ctx, err, false)
		}
		for _, e := range batch.GetEntries() {
			if err := fn(ext.Entry{Zxid: e.GetZxid(), Data: e.GetData()}); err != nil {
				return err
			}
		}
	}
}

// TruncateAfter removes the log above zxid.
func (s *Store) TruncateAfter(zxid int64) error {
	return s.call(context.Background(), true, func(ctx context.Context, rpc pb.StoreClient) error {
		resp, err := rpc.TruncateAfter(ctx, &pb.ZxidRequest{Zxid: zxid})
		if err == nil {
			s.setBounds(resp)
		}
		return err
	})
}

// RollLog passes the hint on; the node treats its failure as a store
// failure, and so does the session.
func (s *Store) RollLog() error {
	return s.call(context.Background(), true, func(ctx context.Context, rpc pb.StoreClient) error {
		_, err := rpc.RollLog(ctx, &pb.Empty{})
		return err
	})
}

// PurgeBefore removes old history.
func (s *Store) PurgeBefore(zxid int64) error {
	return s.call(context.Background(), false, func(ctx context.Context, rpc pb.StoreClient) error {
		_, err := rpc.PurgeBefore(ctx, &pb.ZxidRequest{Zxid: zxid})
		return err
	})
}

// Snapshots lists the committed snapshots.
func (s *Store) Snapshots() ([]ext.SnapshotInfo, error) {
	var out []ext.SnapshotInfo
	err := s.call(context.Background(), false, func(ctx context.Context, rpc pb.StoreClient) error {
		resp, err := rpc.Snapshots(ctx, &pb.Empty{})
		for _, sn := range resp.GetSnapshots() {
			out = append(out, ext.SnapshotInfo{Zxid: sn.GetZxid(), Size: sn.GetSize(), Name: sn.GetName()})
		}
		return err
	})
	return out, err
}

// LoadMeta reads the node's metadata.
func (s *Store) LoadMeta() (ext.Meta, error) {
	var m ext.Meta
	err := s.call(context.Background(), false, func(ctx context.Context, rpc pb.StoreClient) error {
		resp, err := rpc.LoadMeta(ctx, &pb.Empty{})
		if err == nil {
			m = wire.FromMeta(resp)
		}
		return err
	})
	return m, err
}

// SaveMeta writes the node's metadata durably.
func (s *Store) SaveMeta(m ext.Meta) error {
	return s.call(context.Background(), true, func(ctx context.Context, rpc pb.StoreClient) error {
		_, err := rpc.SaveMeta(ctx, wire.Meta(m))
		return err
	})
}

// Usage reports the plugin's disk use (0, 0 when it cannot answer).
func (s *Store) Usage() (snapBytes, logBytes int64) {
	_ = s.call(context.Background(), false, func(ctx context.Context, rpc pb.StoreClient) error {
		resp, err := rpc.Usage(ctx, &pb.Empty{})
		snapBytes, logBytes = resp.GetSnapBytes(), resp.GetLogBytes()
		return err
	})
	return snapBytes, logBytes
}

// Close closes the store and ends the plugin process. A failed session's
// process is already dead; a healthy one closes its store first.
func (s *Store) Close() error {
	s.mu.Lock()
	sess, stop := s.sess, s.stopHealth
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.sess, s.stopHealth = nil, nil
	if sess != nil && sess.err() != nil {
		s.cause = sess.err()
	}
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	if sess == nil {
		return nil
	}
	var err error
	if sess.err() == nil {
		ctx, cancel := sess.callCtx(context.Background(), s.cfg.RPCTimeout)
		_, err = sess.rpc.Close(ctx, &pb.Empty{})
		cancel()
		err = wire.FromStatus(err)
	}
	sess.proc.client.Kill()
	sess.cancel()
	if err != nil {
		return fmt.Errorf("store plugin: close: %w", err)
	}
	return nil
}
