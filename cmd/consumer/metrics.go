package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ankitamadan/patient-profile/internal/consumer"
)

// registerMetrics exposes the consumer's counts on /metrics. They are read from Stats at scrape
// time, so the loop itself knows nothing of Prometheus. They appear once the consumer has joined
// its group: until then there is nothing to count.
func registerMetrics(reg prometheus.Registerer, c *consumer.Consumer) {
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
	for _, reason := range consumer.Reasons {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "patient_profile_consumer_dead_letters_total",
			Help:        "Messages dead-lettered, by reason: contract (not the event contract), key_mismatch (key is not the PatientId), future (UpdatedAt beyond MAX_CLOCK_SKEW), store_rejected.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(c.DeadLetters()[reason]) }))
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
