package ext

// MetricKind says how a StoreMetric's value behaves, which decides how a
// monitoring system may aggregate it (rates of counters, levels of gauges).
type MetricKind int

const (
	// Gauge is a level that goes up and down (bytes on disk, files in L0).
	Gauge MetricKind = iota
	// Counter only grows while the store is open (bytes written, compactions).
	Counter
)

// StoreMetric is one value a store reports about its own engine.
type StoreMetric struct {
	// Name is the series name without a prefix, snake_case, with a unit
	// suffix (_bytes, _seconds, _total for counters), e.g.
	// "pebble_wal_bytes_written_total". The kernel adds its own prefix.
	Name string
	// Help is a one-line description for the metrics endpoint.
	Help  string
	Kind  MetricKind
	Value float64
}

// MetricsReporter is implemented by stores that have engine internals worth
// watching (an LSM's compactions and write stalls, a cache's hit rate). It
// is optional: the kernel checks for it with a type assertion and exports
// what it returns on its metrics endpoint.
//
// Metrics is called at scrape time, possibly concurrently with any other
// method, and must be cheap (no disk I/O). It must return the same names
// on every call, and after Close it may return nothing.
type MetricsReporter interface {
	Metrics() []StoreMetric
}
