package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ankitamadan/patient-profile/internal/api"
	"github.com/ankitamadan/patient-profile/internal/consumer"
)

// newRegistry exposes the consumer's counts on /metrics. They are read from Stats at scrape
// time, so the loop itself knows nothing of Prometheus.
func newRegistry(c *consumer.Consumer) *prometheus.Registry {
	reg := api.NewRegistry()
	for outcome, count := range map[string]func(consumer.Stats) int64{
		"applied":       func(s consumer.Stats) int64 { return s.Applied },
		"stale":         func(s consumer.Stats) int64 { return s.Stale },
		"superseded":    func(s consumer.Stats) int64 { return s.Superseded },
		"dead_lettered": func(s consumer.Stats) int64 { return s.DeadLettered },
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "patient_profile_consumer_events_total",
			Help:        "Events brought to a final outcome: applied to the table, stale or duplicate (a no-op), superseded by a newer event of the same patient waiting with it (never written), or dead-lettered.",
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
	return reg
}
