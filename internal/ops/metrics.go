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
	"github.com/ankitamadan/patient-profile/internal/version"
)

// NewRegistry returns a registry with the Go runtime and process metrics and the build's version,
// for /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "patient_profile_build_info",
		Help:        "Always 1, labelled with the version stamped into the binary: which build answers.",
		ConstLabels: prometheus.Labels{"version": version.String()},
	})
	build.Set(1)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build)
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
		consumer.OutcomeApplied:      func(s consumer.Stats) int64 { return s.Applied },
		consumer.OutcomeStale:        func(s consumer.Stats) int64 { return s.Stale },
		consumer.OutcomeSuperseded:   func(s consumer.Stats) int64 { return s.Superseded },
		consumer.OutcomeDeadLettered: func(s consumer.Stats) int64 { return s.DeadLettered },
		"kafka_tombstone":            func(s consumer.Stats) int64 { return s.KafkaTombstones },
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

// EventAgeBuckets are the freshness histogram's upper bounds, in seconds: fine where a healthy
// replica is (milliseconds to a second, where an objective is written), coarse up to the hour a
// backlog after an outage can take to drain.
var EventAgeBuckets = []float64{
	0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300, 900, 3600,
}

// EventAge returns the consumer loop's ObserveAge: a histogram of how old each event is when its
// outcome is final (the consumer's clock minus the event's UpdatedAt or DeletedAt), by outcome.
// It is the number a freshness objective is written on: "the replica reflects an update within
// N ms" is the share of applied events under N. Every outcome's series exists from the start,
// so an alert on it never watches nothing.
func EventAge(reg prometheus.Registerer) func(outcome string, age time.Duration) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "patient_profile_consumer_event_age_seconds",
		Help: "How old an event was when its outcome became final: the consumer's clock minus the event's " +
			"UpdatedAt (DeletedAt for a deletion), by outcome (applied, stale, superseded, dead_lettered). " +
			"For applied events, how fresh the replica is.",
		Buckets: EventAgeBuckets,
	}, []string{"outcome"})
	reg.MustRegister(h)
	observers := make(map[string]prometheus.Observer, len(consumer.AgeOutcomes))
	for _, o := range consumer.AgeOutcomes {
		observers[o] = h.WithLabelValues(o)
	}
	return func(outcome string, age time.Duration) {
		o, ok := observers[outcome]
		if !ok {
			o = h.WithLabelValues(outcome)
		}
		o.Observe(age.Seconds())
	}
}

// RegisterGroupLag exposes the consumer group's lag as the broker holds it: the topic's end
// offsets minus the group's committed offsets, summed over its partitions. lag is asked at scrape
// time, within a few seconds; when it fails, the metric is left out of that scrape, and /readyz
// says why. Unlike patient_profile_consumer_lag, which each member keeps for the partitions it
// has handled, every member reports the same number for the whole group, which stays true when
// partitions move: take the max over the members.
func RegisterGroupLag(reg prometheus.Registerer, lag func(ctx context.Context) (int64, error)) {
	reg.MustRegister(groupLagCollector{lag: lag, desc: prometheus.NewDesc("patient_profile_consumer_group_lag",
		"Messages of the topic the consumer group has not committed yet, summed over the partitions, as the "+
			"broker has it when scraped (end offsets minus committed offsets). Every member reports the group's.",
		nil, nil)})
}

type groupLagCollector struct {
	lag  func(ctx context.Context) (int64, error)
	desc *prometheus.Desc
}

func (g groupLagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g groupLagCollector) Collect(ch chan<- prometheus.Metric) {
	// A scrape has no context of its own; this bound keeps a hung broker from holding it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	n, err := g.lag(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n))
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
