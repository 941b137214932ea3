// Package metrics is zabkit's Prometheus instrumentation: a fixed, small
// set of series on a private registry (never the global one, so several
// servers can live in one process, as tests and the simulator need).
//
// Hot-path recording (ObserveRequest, AddBytes*, ObserveFsync,
// ObserveCommitBatch) does not allocate: label children are resolved once
// and cached in fixed tables indexed by opcode and error code, and the
// underlying client_golang counters and histograms are atomic. State that
// already lives in the node (connections, sessions, znodes, watches,
// outstanding requests) is not mirrored into gauges on every change;
// a StateFunc is sampled at scrape time instead.
//
// The gauges use Apache ZooKeeper's own Prometheus names (znode_count,
// num_alive_connections, ...) so dashboards built for ZooKeeper's
// PrometheusMetricsProvider keep working; zabkit-specific series carry
// the zabkit_ prefix.
//
// A nil *Metrics is valid and records nothing, so components can be built
// without instrumentation in tests.
package metrics

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/zabkit/zabkit/core/proto/jute"
	"github.com/zabkit/zabkit/core/zkerr"
)

// Op classes for the request latency histogram.
const (
	ClassRead  = "read"
	ClassWrite = "write"
	ClassOther = "other" // session, ping, auth and watch bookkeeping
)

// Metrics owns a registry and the pre-resolved series.
type Metrics struct {
	reg *prometheus.Registry

	latency     *prometheus.HistogramVec
	latencyByCl [3]prometheus.Observer // indexed by class
	requests    *prometheus.CounterVec
	reqCells    [numOps][numErrs]atomic.Pointer[counterCell]
	reqMu       sync.Mutex // serialises first resolution of a cell

	bytesIn, bytesOut prometheus.Counter
	fsync             prometheus.Observer
	batch             prometheus.Observer
	snapshot          prometheus.Observer

	state atomic.Pointer[StateFunc]
}

type counterCell struct{ c prometheus.Counter }

// Option configures New.
type Option func(*options)

type options struct{ runtime bool }

// WithoutRuntimeCollectors leaves out the Go runtime and process
// collectors (go_*, process_*), e.g. when several Metrics share a process
// and only one should report them.
func WithoutRuntimeCollectors() Option { return func(o *options) { o.runtime = false } }

// New builds the registry and every series.
func New(opts ...Option) *Metrics {
	o := options{runtime: true}
	for _, f := range opts {
		f(&o)
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	if o.runtime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}

	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "zabkit_request_duration_seconds",
		Help: "Time from reading a client request to writing its reply, by op class.",
		// 50µs .. ~1.6s: loopback reads are tens of µs, fsync-bound writes ~ms.
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
	}, []string{"class"})
	for i, c := range []string{ClassRead, ClassWrite, ClassOther} {
		m.latencyByCl[i] = m.latency.WithLabelValues(c)
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "zabkit_requests_total",
		Help: "Client requests answered, by opcode and result (ok or the ZooKeeper error name).",
	}, []string{"op", "result"})
	m.bytesIn = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "zabkit_client_bytes_received_total", Help: "Bytes read from client connections.",
	})
	m.bytesOut = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "zabkit_client_bytes_sent_total", Help: "Bytes written to client connections.",
	})
	fsync := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "zabkit_fsync_duration_seconds",
		Help:    "Duration of txn-log syncs.",
		Buckets: prometheus.ExponentialBuckets(25e-6, 2, 16), // 25µs .. ~0.8s
	})
	batch := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "zabkit_commit_batch_size",
		Help:    "Transactions made durable by one group-commit sync.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12), // 1 .. 2048
	})
	snap := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "zabkit_snapshot_duration_seconds",
		Help:    "Time to write a snapshot.",
		Buckets: prometheus.ExponentialBuckets(1e-3, 4, 9), // 1ms .. ~65s
	})
	m.fsync, m.batch, m.snapshot = fsync, batch, snap
	m.reg.MustRegister(m.latency, m.requests, m.bytesIn, m.bytesOut, fsync, batch, snap, &stateCollector{m: m})
	return m
}

// Registry is where the series live; pass it to admin.WithMetrics or
// promhttp.HandlerFor.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Register adds a component's own collector (e.g. a store's Pebble
// metrics) to the registry. Names should carry a zabkit_<component>_
// prefix to stay clear of the series here.
func (m *Metrics) Register(c prometheus.Collector) error {
	if m == nil {
		return nil
	}
	return m.reg.Register(c)
}

// ObserveRequest records one answered client request: its latency into
// the class histogram and one count under (op, result). err is the
// ReplyHeader error code (0 for success). It does not allocate once the
// (op, err) pair has been seen.
func (m *Metrics) ObserveRequest(op int32, err int32, d time.Duration) {
	if m == nil {
		return
	}
	m.latencyByCl[classOf(op)].Observe(d.Seconds())
	oi, ei := opIndex(op), errIndex(err)
	cell := m.reqCells[oi][ei].Load()
	if cell == nil {
		cell = m.resolve(oi, ei, err)
	}
	cell.c.Inc()
}

func (m *Metrics) resolve(oi, ei int, err int32) *counterCell {
	m.reqMu.Lock()
	defer m.reqMu.Unlock()
	if c := m.reqCells[oi][ei].Load(); c != nil {
		return c
	}
	c := &counterCell{c: m.requests.WithLabelValues(opLabels[oi], errLabel(ei, err))}
	m.reqCells[oi][ei].Store(c)
	return c
}

// AddBytesReceived counts bytes read from clients.
func (m *Metrics) AddBytesReceived(n int) {
	if m != nil {
		m.bytesIn.Add(float64(n))
	}
}

// AddBytesSent counts bytes written to clients.
func (m *Metrics) AddBytesSent(n int) {
	if m != nil {
		m.bytesOut.Add(float64(n))
	}
}

// ObserveFsync records one txn-log sync.
func (m *Metrics) ObserveFsync(d time.Duration) {
	if m != nil {
		m.fsync.Observe(d.Seconds())
	}
}

// ObserveCommitBatch records how many txns one group commit made durable.
func (m *Metrics) ObserveCommitBatch(n int) {
	if m != nil {
		m.batch.Observe(float64(n))
	}
}

// ObserveSnapshot records the time one snapshot took to write.
func (m *Metrics) ObserveSnapshot(d time.Duration) {
	if m != nil {
		m.snapshot.Observe(d.Seconds())
	}
}

// classOf maps an opcode to its latency class: 0 read, 1 write, 2 other.
func classOf(op int32) int {
	switch op {
	case jute.OpExists, jute.OpGetData, jute.OpGetACL, jute.OpGetChildren, jute.OpGetChildren2,
		jute.OpSync, jute.OpMultiRead, jute.OpGetEphemerals, jute.OpGetAllChildrenNumber, jute.OpWhoAmI:
		return 0
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer, jute.OpDelete,
		jute.OpDeleteContainer, jute.OpSetData, jute.OpSetACL, jute.OpCheck, jute.OpMulti, jute.OpReconfig:
		return 1
	}
	return 2
}

// Opcode table: dense indexes for -11..22 and 100..107, plus "other".
const (
	opLow    = -11
	opMidMax = 22
	opHigh   = 100
	opHighN  = 8
	numOps   = (opMidMax - opLow + 1) + opHighN + 1
	opOther  = numOps - 1
)

func opIndex(op int32) int {
	switch {
	case op >= opLow && op <= opMidMax:
		return int(op - opLow)
	case op >= opHigh && op < opHigh+opHighN:
		return int(op-opHigh) + (opMidMax - opLow + 1)
	}
	return opOther
}

var opNames = map[int32]string{
	jute.OpNotification: "notification", jute.OpCreate: "create", jute.OpDelete: "delete",
	jute.OpExists: "exists", jute.OpGetData: "getData", jute.OpSetData: "setData",
	jute.OpGetACL: "getACL", jute.OpSetACL: "setACL", jute.OpGetChildren: "getChildren",
	jute.OpSync: "sync", jute.OpPing: "ping", jute.OpGetChildren2: "getChildren2",
	jute.OpCheck: "check", jute.OpMulti: "multi", jute.OpCreate2: "create2",
	jute.OpReconfig: "reconfig", jute.OpCheckWatches: "checkWatches",
	jute.OpRemoveWatches: "removeWatches", jute.OpCreateContainer: "createContainer",
	jute.OpDeleteContainer: "deleteContainer", jute.OpCreateTTL: "createTTL",
	jute.OpMultiRead: "multiRead", jute.OpAuth: "auth", jute.OpSetWatches: "setWatches",
	jute.OpSASL: "sasl", jute.OpGetEphemerals: "getEphemerals",
	jute.OpGetAllChildrenNumber: "getAllChildrenNumber", jute.OpSetWatches2: "setWatches2",
	jute.OpAddWatch: "addWatch", jute.OpWhoAmI: "whoAmI", jute.OpCreateSession: "createSession",
	jute.OpCloseSession: "closeSession", jute.OpError: "error",
}

// opLabels[i] is the label for opIndex i; unnamed opcodes in the dense
// range share "other" with everything outside it.
var opLabels = func() (l [numOps]string) {
	for i := range l {
		l[i] = "other"
	}
	for op, name := range opNames {
		l[opIndex(op)] = name
	}
	return l
}()

// Error table: 0, -1..-20 and -100..-131 are dense; the rest share a slot.
const (
	errSysN   = 21
	errAPILow = 100
	errAPIN   = 32
	numErrs   = errSysN + errAPIN + 1
	errOther  = numErrs - 1
)

func errIndex(err int32) int {
	switch {
	case err <= 0 && err > -errSysN:
		return int(-err)
	case err <= -errAPILow && err > -(errAPILow+errAPIN):
		return errSysN + int(-err-errAPILow)
	}
	return errOther
}

func errLabel(ei int, err int32) string {
	if ei == errOther {
		return "other"
	}
	return strings.ToLower(zkerr.Code(err).String())
}
