package ops

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ankitamadan/patient-profile/internal/consumer"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// NewRegistry returns a registry with the Go runtime and process metrics, for /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// observeRequests logs one line per request and records its route, status and duration, with
// one wrapped writer and one clock reading for both. It logs no body: bodies carry patient data.
// The metric's route is chi's pattern, never the raw path, so the label set stays small.
func observeRequests(logger *slog.Logger, reg prometheus.Registerer) func(http.Handler) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "patient_profile_http_requests_total",
		Help: "HTTP requests by route and status code. On the producer, 201 means an event was acknowledged " +
			"by the broker; 503 that it was not.",
	}, []string{"route", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "patient_profile_http_request_duration_seconds",
		Help:    "HTTP request duration by route, publish to the broker included.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"route"})
	reg.MustRegister(requests, duration)
	m := &requestMetrics{requests: requests, duration: duration, series: map[seriesKey]series{}}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// traceRequests, outside, has wrapped the writer already: one wrapper serves both.
			ww, wrapped := w.(middleware.WrapResponseWriter)
			if !wrapped {
				ww = middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			}
			start := time.Now()
			next.ServeHTTP(ww, r)
			took := time.Since(start)
			if logger.Enabled(r.Context(), slog.LevelInfo) {
				logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("request_id", RequestID(r.Context())),
					slog.String("method", r.Method), slog.String("path", r.URL.Path),
					slog.Int("status", ww.Status()), slog.Duration("duration", took))
			}
			route := routePattern(chi.RouteContext(r.Context()))
			if route == "" || route == "/*" { // "/*" is the mount point: nothing in the app matched
				route = "unmatched"
			}
			m.observe(route, ww.Status(), took)
		})
	}
}

// requestMetrics keeps each route's and status's series once looked up, so that a request does
// not format its status and hash its labels again: routes are chi's patterns and statuses few,
// so the map stays small. A series appears in /metrics at its first request, as before.
type requestMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	mu       sync.RWMutex
	series   map[seriesKey]series
}

type seriesKey struct {
	route string
	code  int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func (m *requestMetrics) observe(route string, code int, took time.Duration) {
	k := seriesKey{route, code}
	m.mu.RLock()
	s, ok := m.series[k]
	m.mu.RUnlock()
	if !ok {
		s = series{
			requests: m.requests.WithLabelValues(route, strconv.Itoa(code)),
			duration: m.duration.WithLabelValues(route),
		}
		m.mu.Lock()
		m.series[k] = s
		m.mu.Unlock()
	}
	s.requests.Inc()
	s.duration.Observe(took.Seconds())
}

// routePattern is chi's RoutePattern, without building a string when it is one of the patterns
// as they are: a route of ops's own, or one of the app's under its mount at "/*". It falls back
// to chi's for anything else (nested mounts).
func routePattern(rc *chi.Context) string {
	if rc == nil {
		return ""
	}
	var route string
	switch p := rc.RoutePatterns; {
	case len(p) == 1 && !strings.Contains(p[0], "/*/"):
		route = p[0]
	case len(p) == 2 && p[0] == "/*" && strings.HasPrefix(p[1], "/") && !strings.Contains(p[1], "/*/"):
		// chi joins them to "/*" + p[1] and replaces the "/*/" that makes, which leaves p[1].
		route = p[1]
	default:
		return rc.RoutePattern()
	}
	if route != "/" {
		route = strings.TrimSuffix(strings.TrimSuffix(route, "//"), "/")
	}
	return route
}

// RegisterConsumer exposes the consumer's counts: outcomes, dead letters by reason, retries,
// commits and lag per partition. They are read from current() at scrape time, so the loop itself
// knows nothing of Prometheus; current returns nil until the consumer runs, and the counts read
// zero until then.
func RegisterConsumer(reg prometheus.Registerer, current func() *consumer.Consumer) {
	stats := func() consumer.Stats {
		if c := current(); c != nil {
			return c.Stats()
		}
		return consumer.Stats{}
	}
	for outcome, count := range map[string]func(consumer.Stats) int64{
		"applied":         func(s consumer.Stats) int64 { return s.Applied },
		"stale":           func(s consumer.Stats) int64 { return s.Stale },
		"superseded":      func(s consumer.Stats) int64 { return s.Superseded },
		"dead_lettered":   func(s consumer.Stats) int64 { return s.DeadLettered },
		"kafka_tombstone": func(s consumer.Stats) int64 { return s.KafkaTombstones },
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "patient_profile_consumer_events_total",
			Help: "Messages brought to a final outcome: applied to the table, stale or duplicate (a no-op), " +
				"superseded by a newer event of the same patient waiting with it (never written), dead-lettered, " +
				"or a Kafka tombstone (a null value, committed as it is).",
			ConstLabels: prometheus.Labels{"outcome": outcome},
		}, func() float64 { return float64(count(stats())) }))
	}
	for _, reason := range consumer.Reasons {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "patient_profile_consumer_dead_letters_total",
			Help: "Messages dead-lettered, by reason: contract (not the event contract), key_mismatch " +
				"(key is not the PatientId), future (UpdatedAt beyond MAX_CLOCK_SKEW), store_rejected.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 {
			if c := current(); c != nil {
				return float64(c.DeadLetters()[reason])
			}
			return 0
		}))
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "patient_profile_consumer_retries_total",
			Help: "Failed store writes and dead-letter publishes that were retried. A steady rise means an outage.",
		}, func() float64 { return float64(stats().Retries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "patient_profile_consumer_commits_total",
			Help: "Successful offset commits.",
		}, func() float64 { return float64(stats().Commits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "patient_profile_consumer_commit_failures_total",
			Help: "Offset commits that failed (refused by the group after a rebalance or an expiry, or not " +
				"delivered); what they held is committed by a later commit, or redelivered.",
		}, func() float64 { return float64(stats().CommitFailures) }),
		lagCollector{current: current, desc: prometheus.NewDesc(
			"patient_profile_consumer_lag",
			"Messages behind the last one brought to a final outcome, per partition, from the high watermark "+
				"fetched with it. A partition moved to another member keeps its last value here.",
			[]string{"partition"}, nil)},
	)
}

type lagCollector struct {
	current func() *consumer.Consumer
	desc    *prometheus.Desc
}

func (l lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- l.desc }

func (l lagCollector) Collect(ch chan<- prometheus.Metric) {
	c := l.current()
	if c == nil {
		return
	}
	for p, n := range c.Lag() {
		ch <- prometheus.MustNewConstMetric(l.desc, prometheus.GaugeValue, float64(n), strconv.Itoa(p))
	}
}

// profileWriter is the store as the consumer loop uses it.
type profileWriter interface {
	Put(ctx context.Context, e profile.Event) (bool, error)
}

// MeasureStore wraps the store so that each write is timed, by outcome: applied, stale (the
// condition failed: a duplicate or an older event) or error. Retries are separate observations.
func MeasureStore(w profileWriter, reg prometheus.Registerer) *MeasuredStore {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "patient_profile_consumer_store_duration_seconds",
		Help:    "Time of one conditional PutItem, by outcome (applied, stale, error).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"outcome"})
	reg.MustRegister(h)
	return &MeasuredStore{next: w, duration: h}
}

// MeasuredStore is a store whose writes are timed.
type MeasuredStore struct {
	next     profileWriter
	duration *prometheus.HistogramVec
}

// Put writes e through the store it wraps, and records how long that took, by outcome.
func (t *MeasuredStore) Put(ctx context.Context, e profile.Event) (bool, error) {
	start := time.Now()
	applied, err := t.next.Put(ctx, e)
	outcome := "stale"
	switch {
	case err != nil:
		outcome = "error"
	case applied:
		outcome = "applied"
	}
	t.duration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	return applied, err
}
