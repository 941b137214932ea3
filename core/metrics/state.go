package metrics

import "github.com/prometheus/client_golang/prometheus"

// State is the node's current shape, sampled at scrape time.
type State struct {
	// Role is "standalone", "leader", "follower", "observer", "read-only"
	// or "looking"; exported as zabkit_server_role{role=...} 1.
	Role             string
	Connections      int64
	GlobalSessions   int64
	LocalSessions    int64
	Znodes           int64
	Watches          int64
	Ephemerals       int64
	ApproxDataSize   int64
	Outstanding      int64
	LastZxid         int64
	QuorumSize       int64 // 0 when standalone
	SyncedFollowers  int64 // leader only
	PendingProposals int64 // leader only: proposed, not yet committed
	// StoreFailure is why the store failed ("" while it is healthy);
	// exported as zabkit_store_failed 0/1 and, once failed,
	// zabkit_store_failure_info{reason=...} 1.
	StoreFailure string
}

// StateFunc returns the current State. It is called from the scraping
// goroutine and must be safe for concurrent use.
type StateFunc func() State

// SetStateFunc installs (or, with nil, removes) the scrape-time state
// source. Without one the state gauges are absent from the exposition.
func (m *Metrics) SetStateFunc(f StateFunc) {
	if m == nil {
		return
	}
	if f == nil {
		m.state.Store(nil)
		return
	}
	m.state.Store(&f)
}

type gaugeDef struct {
	desc *prometheus.Desc
	get  func(State) int64
}

// The unprefixed names are ZooKeeper's own (PrometheusMetricsProvider).
var stateGauges = []gaugeDef{
	{prometheus.NewDesc("num_alive_connections", "Client connections open.", nil, nil), func(s State) int64 { return s.Connections }},
	{prometheus.NewDesc("global_sessions", "Sessions known to the ensemble.", nil, nil), func(s State) int64 { return s.GlobalSessions }},
	{prometheus.NewDesc("local_sessions", "Local (non-global) sessions on this server.", nil, nil), func(s State) int64 { return s.LocalSessions }},
	{prometheus.NewDesc("znode_count", "Znodes in the data tree (ZooKeeper counts the root twice).", nil, nil), func(s State) int64 { return s.Znodes }},
	{prometheus.NewDesc("watch_count", "Watch registrations (data and child).", nil, nil), func(s State) int64 { return s.Watches }},
	{prometheus.NewDesc("ephemerals_count", "Ephemeral znodes.", nil, nil), func(s State) int64 { return s.Ephemerals }},
	{prometheus.NewDesc("approximate_data_size", "Bytes of paths plus data in the tree.", nil, nil), func(s State) int64 { return s.ApproxDataSize }},
	{prometheus.NewDesc("outstanding_requests", "Client requests received but not yet answered.", nil, nil), func(s State) int64 { return s.Outstanding }},
	{prometheus.NewDesc("quorum_size", "Voting members in the current configuration.", nil, nil), func(s State) int64 { return s.QuorumSize }},
	{prometheus.NewDesc("synced_followers", "Followers in sync with this leader.", nil, nil), func(s State) int64 { return s.SyncedFollowers }},
	{prometheus.NewDesc("zabkit_pending_proposals", "Proposals sent but not yet committed (leader).", nil, nil), func(s State) int64 { return s.PendingProposals }},
	{prometheus.NewDesc("zabkit_last_zxid", "Last applied zxid.", nil, nil), func(s State) int64 { return s.LastZxid }},
}

var roleDesc = prometheus.NewDesc("zabkit_server_role", "1 for the role this server currently has.", []string{"role"}, nil)

var (
	storeFailedDesc = prometheus.NewDesc("zabkit_store_failed",
		"1 once the store has failed (write, fsync or stall): no write is acknowledged until a restart.", nil, nil)
	storeFailureDesc = prometheus.NewDesc("zabkit_store_failure_info",
		"1, labelled with why the store failed; absent while it is healthy.", []string{"reason"}, nil)
)

type stateCollector struct{ m *Metrics }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range stateGauges {
		ch <- g.desc
	}
	ch <- roleDesc
	ch <- storeFailedDesc
	ch <- storeFailureDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	fp := c.m.state.Load()
	if fp == nil {
		return
	}
	s := (*fp)()
	for _, g := range stateGauges {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(g.get(s)))
	}
	if s.Role != "" {
		ch <- prometheus.MustNewConstMetric(roleDesc, prometheus.GaugeValue, 1, s.Role)
	}
	failed := 0.0
	if s.StoreFailure != "" {
		failed = 1
		ch <- prometheus.MustNewConstMetric(storeFailureDesc, prometheus.GaugeValue, 1, s.StoreFailure)
	}
	ch <- prometheus.MustNewConstMetric(storeFailedDesc, prometheus.GaugeValue, failed)
}
