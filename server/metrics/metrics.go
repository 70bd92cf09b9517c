package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of collectors.
type Metrics struct {
	Registry *prometheus.Registry

	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	batchSize   *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
}

// New registers the collectors. waiting reports the long-polls waiting now.
func New(waiting func() float64) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rms_soap_requests_total",
			Help: "SOAP requests by service, operation and fault code (\"\" when it succeeded).",
		}, []string{"service", "operation", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rms_soap_request_duration_seconds",
			Help:    "Time from request read to response written, by service and operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"service", "operation"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rms_store_batch_size",
			Help:    "Items per batched store write, by kind (heartbeat, audit, replay).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}, []string{"kind"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rms_store_errors_total",
			Help: "Failed store writes and reads, by kind.",
		}, []string{"kind"}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.batchSize, m.storeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rms_longpolls_waiting",
			Help: "RequestInstructions polls waiting for an instruction right now.",
		}, waiting))
	return m
}

// Request counts one finished request.
func (m *Metrics) Request(service, operation, code string, took time.Duration) {
	m.requests.WithLabelValues(service, operation, code).Inc()
	m.latency.WithLabelValues(service, operation).Observe(took.Seconds())
}

// BatchObserver returns a function for batch.Config.Observe.
func (m *Metrics) BatchObserver(kind string) func(int, error) {
	return func(n int, err error) {
		m.batchSize.WithLabelValues(kind).Observe(float64(n))
		if err != nil {
			m.storeErrors.WithLabelValues(kind).Inc()
		}
	}
}

// StoreError counts one failed store call of the given kind.
func (m *Metrics) StoreError(kind string) { m.storeErrors.WithLabelValues(kind).Inc() }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
