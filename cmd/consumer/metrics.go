package main

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ankitamadan/patient-profile/internal/consumer"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// registerCounts exposes the consumer's counts on /metrics. They are read from Stats at scrape
// time, so the loop itself knows nothing of Prometheus.
func registerCounts(reg prometheus.Registerer, c *consumer.Consumer) {
	for outcome, count := range map[string]func(consumer.Stats) int64{
		"applied":       func(s consumer.Stats) int64 { return s.Applied },
		"stale":         func(s consumer.Stats) int64 { return s.Stale },
		"dead_lettered": func(s consumer.Stats) int64 { return s.DeadLettered },
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "patient_profile_consumer_events_total",
			Help:        "Events brought to a final outcome: applied to the table, stale or duplicate (a no-op), or dead-lettered.",
			ConstLabels: prometheus.Labels{"outcome": outcome},
		}, func() float64 { return float64(count(c.Stats())) }))
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "patient_profile_consumer_retries_total",
			Help: "Failed store writes and dead-letter publishes that were retried. A steady rise means an outage.",
		}, func() float64 { return float64(c.Stats().Retries) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "patient_profile_consumer_commits_total",
			Help: "Successful offset commits.",
		}, func() float64 { return float64(c.Stats().Commits) }),
	)
}

// profileWriter is the store as the consumer loop uses it.
type profileWriter interface {
	Put(ctx context.Context, e profile.Event) (bool, error)
}

// measureStore wraps the store so that each write is timed, by outcome: applied, stale (the
// condition failed: a duplicate or an older event) or error. Retries are separate observations.
func measureStore(w profileWriter, reg prometheus.Registerer) profileWriter {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "patient_profile_consumer_store_duration_seconds",
		Help:    "Time of one conditional PutItem, by outcome (applied, stale, error).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"outcome"})
	reg.MustRegister(h)
	return timedWriter{next: w, duration: h}
}

type timedWriter struct {
	next     profileWriter
	duration *prometheus.HistogramVec
}

func (t timedWriter) Put(ctx context.Context, e profile.Event) (bool, error) {
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

// registerLag exposes the consumer's lag per partition, read at scrape time.
func registerLag(reg prometheus.Registerer, c *consumer.Consumer) {
	reg.MustRegister(lagCollector{c: c, desc: prometheus.NewDesc(
		"patient_profile_consumer_lag",
		"Messages behind the last one brought to a final outcome, per partition, from the high watermark fetched with it. A partition moved to another member keeps its last value here.",
		[]string{"partition"}, nil)})
}

type lagCollector struct {
	c    *consumer.Consumer
	desc *prometheus.Desc
}

func (l lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- l.desc }

func (l lagCollector) Collect(ch chan<- prometheus.Metric) {
	for p, n := range l.c.Lag() {
		ch <- prometheus.MustNewConstMetric(l.desc, prometheus.GaugeValue, float64(n), strconv.Itoa(p))
	}
}
