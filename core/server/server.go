// Package server is the client side of a zabkit node: it accepts
// ZooKeeper client connections, speaks the jute framing and handshake,
// serves reads from the local data tree and hands writes to the pipeline,
// preserving ZooKeeper's per-session FIFO order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zabkit/zabkit/core/admin"
	"github.com/zabkit/zabkit/core/auth"
	"github.com/zabkit/zabkit/core/datatree"
	"github.com/zabkit/zabkit/core/metrics"
	"github.com/zabkit/zabkit/core/pipeline"
	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/session"
)

// Config configures the client listener.
type Config struct {
	// Addr is host:port to listen on.
	Addr string
	// MaxClientCnxns limits connections per client IP; 0 = unlimited.
	MaxClientCnxns int
	// MaxBuffer is jute.maxbuffer: a larger (or negative) frame closes the
	// connection with no reply.
	MaxBuffer int
	// MinSessionTimeout / MaxSessionTimeout clamp requested timeouts (ms).
	MinSessionTimeout int32
	MaxSessionTimeout int32
	// OutstandingLimit is zookeeper.globalOutstandingLimit: while more
	// writes than this are in the pipeline, connections stop submitting,
	// which pushes back on clients through TCP.
	OutstandingLimit int
	// FourLetterWord answers a four-letter word on a fresh connection; it
	// writes the reply to conn. Nil disables them.
	FourLetterWord func(word string, conn net.Conn)
	// IsFourLetterWord recognises a four-letter word from the first four
	// bytes of a connection.
	IsFourLetterWord func(first int32) (string, bool)
	// Metrics records request latencies and traffic; nil records nothing.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
}

// Server accepts client connections.
type Server struct {
	cfg      Config
	proc     *pipeline.Processor
	tree     *datatree.Tree
	sessions *session.Tracker
	auth     *auth.Config
	clock    func() int64 // monotonic ms
	log      *slog.Logger

	ln        net.Listener
	mu        sync.Mutex
	conns     map[*Conn]struct{}
	bySession map[int64]*Conn
	perIP     map[string]int
	closing   atomic.Bool
	wg        sync.WaitGroup

	stats Stats
	// localSessions counts connection-local sessions (read-only clients
	// served after a store failure).
	localSessions atomic.Int64
	// paused is set while an ensemble member has no role: like
	// ZooKeeper's server that is not running, it closes new connections.
	paused atomic.Bool
}

// SetServing opens (true) or closes (false) the server to clients. An
// ensemble member that leaves its role closes every client connection, so
// the clients reconnect to a server that serves; their sessions live on in
// the ensemble. New connections are closed until it serves again.
func (s *Server) SetServing(on bool) {
	s.paused.Store(!on)
	if on {
		return
	}
	for _, c := range s.Connections() {
		c.close()
	}
}

// SessionIDs lists the sessions connected to this server (a learner
// reports them to its leader in each PING reply).
func (s *Server) SessionIDs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.bySession))
	for id := range s.bySession {
		ids = append(ids, id)
	}
	return ids
}

// Serving reports whether the server takes clients.
func (s *Server) Serving() bool { return !s.paused.Load() }

// DropSession closes the connection of session sid on this server, if
// any: its closeSession was applied (ZooKeeper's server does the same for
// sessions expired by another server of the ensemble).
func (s *Server) DropSession(sid int64) { s.dropSession(sid) }

// Stats are server-wide counters, reset by `srst`.
type Stats struct {
	PacketsReceived atomic.Int64
	PacketsSent     atomic.Int64
	latency         latency
}

// New returns a server; Serve starts it.
func New(cfg Config, proc *pipeline.Processor, tree *datatree.Tree, sessions *session.Tracker, authCfg *auth.Config, clock func() int64) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBuffer <= 0 {
		cfg.MaxBuffer = 0xfffff
	}
	return &Server{
		cfg: cfg, proc: proc, tree: tree, sessions: sessions, auth: authCfg, clock: clock,
		log:       cfg.Logger,
		conns:     make(map[*Conn]struct{}),
		bySession: make(map[int64]*Conn),
		perIP:     make(map[string]int),
	}
}

// UseListener makes the server accept on an already bound listener. Binding
// before the database is recovered (as ZooKeeper does) lets clients
// connect during recovery; they are answered as soon as Serve starts.
func (s *Server) UseListener(ln net.Listener) { s.ln = ln }

// Listen binds the listener; Serve then accepts on it.
func (s *Server) Listen() error {
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until ctx is done or Close is called.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		s.accept(nc)
	}
}

func (s *Server) accept(nc net.Conn) {
	ip := remoteIP(nc)
	s.mu.Lock()
	if s.cfg.MaxClientCnxns > 0 && s.perIP[ip] >= s.cfg.MaxClientCnxns {
		s.mu.Unlock()
		s.log.Warn("too many connections from client; closing", "ip", ip, "max", s.cfg.MaxClientCnxns)
		nc.Close()
		return
	}
	s.perIP[ip]++
	c := newConn(s, nc, ip)
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.serve()
	}()
}

func remoteIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return nc.RemoteAddr().String()
	}
	return host
}

// Close stops accepting and closes every connection. Sessions stay alive
// in the tracker: a restarted or other server can take them over.
func (s *Server) Close() {
	if !s.closing.CompareAndSwap(false, true) {
		return
	}
	if s.ln != nil {
		s.ln.Close()
	}
	for _, c := range s.Connections() {
		c.close()
	}
	s.wg.Wait()
}

func (s *Server) removeConn(c *Conn) {
	s.mu.Lock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		s.perIP[c.ip]--
		if s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
	}
	if sid := c.session(); sid != 0 && s.bySession[sid] == c {
		delete(s.bySession, sid)
	}
	s.mu.Unlock()
}

// bindSession makes c the connection of session sid, closing an older
// connection of the same session on this server (as ZooKeeper does).
func (s *Server) bindSession(sid int64, c *Conn) {
	s.mu.Lock()
	old := s.bySession[sid]
	s.bySession[sid] = c
	s.mu.Unlock()
	if old != nil && old != c {
		old.close()
	}
}

// Applied handles server-internal requests (session expiry, container
// reaping): when a session's closeSession is applied its connection goes.
func (s *Server) Applied(req *pipeline.Request, res *datatree.Result) {
	if req.Hdr.Type == jute.OpCloseSession {
		s.dropSession(req.Hdr.ClientID)
	}
}

func (s *Server) dropSession(sid int64) {
	s.mu.Lock()
	c := s.bySession[sid]
	delete(s.bySession, sid)
	s.mu.Unlock()
	if c != nil {
		c.closeAfterFlush()
	}
}

// ExpireSession submits a closeSession for an expired session.
func (s *Server) ExpireSession(sid int64) {
	s.log.Info("session expired", "session", fmt.Sprintf("0x%x", sid))
	_ = s.proc.Submit(&pipeline.Request{SessionID: sid, Op: jute.OpCloseSession, Origin: s})
}

// Connections returns a snapshot of the live connections.
func (s *Server) Connections() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// LocalSessions is the number of connection-local sessions.
func (s *Server) LocalSessions() int64 { return s.localSessions.Load() }

// Stats returns the server-wide counters.
func (s *Server) Stats() *Stats { return &s.stats }

// Latency returns min/avg/max request latency in ms and the count.
func (s *Server) Latency() (min, avg, max float64, count int64) { return s.stats.latency.get() }

// ResetStats clears server-wide counters.
func (s *Server) ResetStats() {
	s.stats.PacketsReceived.Store(0)
	s.stats.PacketsSent.Store(0)
	s.stats.latency.reset()
}

// latency keeps min/avg/max of request latencies in microseconds.
type latency struct {
	mu    sync.Mutex
	min   int64
	max   int64
	sum   int64
	count int64
}

func (l *latency) add(us int64) {
	l.mu.Lock()
	if l.count == 0 || us < l.min {
		l.min = us
	}
	if us > l.max {
		l.max = us
	}
	l.sum += us
	l.count++
	l.mu.Unlock()
}

func (l *latency) get() (min, avg, max float64, count int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count == 0 {
		return 0, 0, 0, 0
	}
	return float64(l.min) / 1000, float64(l.sum) / float64(l.count) / 1000, float64(l.max) / 1000, l.count
}

func (l *latency) reset() {
	l.mu.Lock()
	l.min, l.max, l.sum, l.count = 0, 0, 0, 0
	l.mu.Unlock()
}

// LatencyMs reports server-wide latency in ZooKeeper's units.
func (s *Server) LatencyMs() admin.Latency { return s.stats.latency.ms() }

func (l *latency) ms() admin.Latency {
	l.mu.Lock()
	defer l.mu.Unlock()
	return admin.Latency{Min: l.min / 1000, Max: l.max / 1000, Total: l.sum / 1000, Count: l.count}
}
