package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zabkit/zabkit/core/ext"
)

// StorePrefix starts the name of every series a store reports about its
// own engine (ext.MetricsReporter).
const StorePrefix = "zabkit_store_"

// RegisterStore exports what r reports, read at scrape time, as
// StorePrefix + its names. The store's set of names is its own business,
// so the collector is unchecked: the registry does not ask it up front.
func (m *Metrics) RegisterStore(r ext.MetricsReporter) error {
	return m.Register(storeCollector{r})
}

type storeCollector struct{ r ext.MetricsReporter }

func (storeCollector) Describe(chan<- *prometheus.Desc) {}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, sm := range c.r.Metrics() {
		desc := prometheus.NewDesc(StorePrefix+sm.Name, sm.Help, nil, nil)
		kind := prometheus.GaugeValue
		if sm.Kind == ext.Counter {
			kind = prometheus.CounterValue
		}
		m, err := prometheus.NewConstMetric(desc, kind, sm.Value)
		if err != nil {
			m = prometheus.NewInvalidMetric(desc, err)
		}
		ch <- m
	}
}
