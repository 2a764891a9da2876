package api

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// measurePublishes wraps pub so that every publish is counted, as published or failed, and
// timed. The time is the broker's ack (acks from all in-sync replicas), the bulk of a 201's
// latency; a failure's time is usually PUBLISH_TIMEOUT.
func measurePublishes(pub publisher, reg prometheus.Registerer) publisher {
	m := &measuredPublisher{
		next: pub,
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "patient_profile_events_published_total",
			Help: "Events the broker acknowledged.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "patient_profile_events_publish_failed_total",
			Help: "Events the broker did not acknowledge in time (each answered 503). " +
				"A steady rise means the broker is failing.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "patient_profile_publish_duration_seconds",
			Help:    "Time from the publish to the broker's ack (or the failure), by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.published, m.failed, m.duration)
	// Each outcome's series is looked up once, at its first publish, so that (as ever) neither
	// shows in /metrics before it has a count.
	m.publishedDuration = sync.OnceValue(func() prometheus.Observer { return m.duration.WithLabelValues("published") })
	m.failedDuration = sync.OnceValue(func() prometheus.Observer { return m.duration.WithLabelValues("failed") })
	return m
}

type measuredPublisher struct {
	next                              publisher
	published, failed                 prometheus.Counter
	duration                          *prometheus.HistogramVec
	publishedDuration, failedDuration func() prometheus.Observer
}

func (m *measuredPublisher) Publish(ctx context.Context, e profile.Event) error {
	start := time.Now()
	err := m.next.Publish(ctx, e)
	took := time.Since(start).Seconds()
	if err != nil {
		m.failed.Inc()
		m.failedDuration().Observe(took)
		return err
	}
	m.published.Inc()
	m.publishedDuration().Observe(took)
	return nil
}
