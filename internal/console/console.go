// Package console is the browser console (cmd/console): the topic, the group, the dead letters and
// the replica side by side, and for one patient the timeline of their events, each with the
// outcome the ordering rule gives it against the stored row. Every route is in routes.go; pages
// are embedded templates, and the one script is an embedded file, so it needs no network.
//
// It shows patient data, so it is closed by default (security.go): loopback only, or a token;
// write actions carry a CSRF token and must come from the console's own origin; and every page
// that shows a profile or an event value writes an audit line.
package console

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"time"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// kafka is what the console reads of the cluster (broker.Inspector): offsets and group state, and
// bounded reads of one partition.
type kafka interface {
	Topics(ctx context.Context, names ...string) ([]broker.Topic, error)
	DescribeGroup(ctx context.Context, group, topic string) (broker.Group, error)
	ReadRange(ctx context.Context, topic string, partition int, from, to int64) ([]message.Message, error)
	ReadPartition(ctx context.Context, topic string, partition int, from, to int64,
		fn func(message.Message) error) error
}

// table is the replica as the console reads it (store.Table).
type table interface {
	Get(ctx context.Context, patientID string) (profile.Event, bool, error)
	Page(ctx context.Context, limit int, after string) ([]profile.Event, string, error)
}

// publisher publishes replayed dead letters to the event topic (broker.Writer).
type publisher interface {
	Write(ctx context.Context, msgs ...message.Message) error
}

// Config is what the console shows and where it finds it.
type Config struct {
	Topic, DLQTopic, Group string
	// ProducerURL and ConsumerURL are the services' base URLs; APIToken is sent to the producer.
	ProducerURL, ConsumerURL, APIToken string
	// Tokens open the console; with none, only loopback gets in.
	Tokens []string
	// Refresh is the overview's one shared poll interval.
	Refresh time.Duration
	// TimelineMessages bounds the read of a patient's partition.
	TimelineMessages int
}

// Deps are the console's adapters.
type Deps struct {
	Kafka  kafka
	Table  table
	Replay publisher
	// HTTP calls the services; nil means a client with short timeouts.
	HTTP *http.Client
}

// Console serves the pages. Run its Hub's loop (Run) for live updates.
type Console struct {
	logger *slog.Logger
	cfg    Config
	deps   Deps
	hub    *Hub
	access *access
	// stopped is closed once Run returns, which ends the live streams: a server's Shutdown waits
	// for every handler, and a stream would otherwise never end.
	stopped chan struct{}
}

// New returns a Console.
func New(logger *slog.Logger, cfg Config, deps Deps) *Console {
	if deps.HTTP == nil {
		deps.HTTP = &http.Client{Timeout: 3 * time.Second}
	}
	c := &Console{logger: logger, cfg: cfg, deps: deps, access: newAccess(cfg.Tokens, rand.Text()),
		stopped: make(chan struct{})}
	c.hub = NewHub(c.poll, cfg.Refresh)
	return c
}

// Hub is the overview's shared poll.
func (c *Console) Hub() *Hub { return c.hub }

// Run polls for the live overview while anyone watches, until ctx is done; then it ends the live
// streams.
func (c *Console) Run(ctx context.Context) {
	defer close(c.stopped)
	c.hub.Run(ctx)
}
