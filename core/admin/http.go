package admin

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultCommandURL is ZooKeeper's admin.commandURL default.
const DefaultCommandURL = "/commands"

type handlerConfig struct {
	commandURL string
	gatherer   prometheus.Gatherer
}

// HandlerOption configures Handler.
type HandlerOption func(*handlerConfig)

// WithCommandURL serves the commands under prefix instead of /commands
// (zoo.cfg admin.commandURL).
func WithCommandURL(prefix string) HandlerOption {
	return func(c *handlerConfig) { c.commandURL = "/" + strings.Trim(prefix, "/") }
}

// WithMetrics adds /metrics in the Prometheus text format, gathered from g
// (typically the registry of core/metrics).
func WithMetrics(g prometheus.Gatherer) HandlerOption {
	return func(c *handlerConfig) { c.gatherer = g }
}

// Handler is ZooKeeper's AdminServer as an http.Handler:
//
//	GET /commands          links to every command (primary names, sorted)
//	GET /commands/<name>   the command's JSON; aliases work too
//	GET /metrics           Prometheus exposition, with WithMetrics
//
// Like ZooKeeper 3.8 it answers 200 with an "error" field for unknown
// commands and ignores the four-letter-word whitelist; keep the listener on
// a trusted interface. Query parameters are the command's arguments
// (set_trace_mask?traceMask=N).
func Handler(src Source, opts ...HandlerOption) http.Handler {
	cfg := handlerConfig{commandURL: DefaultCommandURL}
	for _, o := range opts {
		o(&cfg)
	}
	mux := http.NewServeMux()
	cmds := func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.Trim(strings.TrimPrefix(r.URL.Path, cfg.commandURL), "/")
		if name == "" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			var b strings.Builder
			for _, c := range Commands() {
				fmt.Fprintf(&b, "<a href=\"%s/%s\">%s</a>\n<br/>\n",
					html.EscapeString(cfg.commandURL), c, c)
			}
			_, _ = w.Write([]byte(b.String()))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(RunJSON(name, src, r.URL.Query()))
	}
	mux.HandleFunc(cfg.commandURL, cmds)
	mux.HandleFunc(cfg.commandURL+"/", cmds)
	if cfg.gatherer != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(cfg.gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// Serve runs the admin HTTP server on ln until ctx is cancelled, then shuts
// it down gracefully (bounded by five seconds). It returns nil after a
// cancellation and the server's error otherwise. The node owns the
// listener so it can bind early and report the address.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       30 * time.Second, // ZooKeeper's admin.idleTimeout default
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("admin: http server: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("admin: http shutdown: %w", err)
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("admin: http server: %w", err)
		}
		return nil
	}
}

// ListenAndServe binds addr ("host:port", zoo.cfg admin.serverAddress and
// admin.serverPort) and calls Serve.
func ListenAndServe(ctx context.Context, addr string, h http.Handler) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("admin: listen %s: %w", addr, err)
	}
	return Serve(ctx, ln, h)
}
