package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Pinger checks that a broker answers and has the topics.
type Pinger struct {
	cluster Cluster
	topics  []string
}

// NewPinger returns a Pinger for the topics.
func NewPinger(c Cluster, topics ...string) *Pinger {
	return &Pinger{cluster: c, topics: topics}
}

// Ping reads the cluster's metadata through a Transport of its own, made for this ping: a
// long-lived Transport answers metadata requests from its cache and would report a dead cluster
// as ready. Unlike kafka-go's Conn.ReadPartitions, it never asks the broker to create a missing
// topic, so a mistyped topic name shows as not ready instead of being created.
func (p *Pinger) Ping(ctx context.Context) error {
	client, done := p.cluster.client(2*time.Second, 2*time.Second)
	defer done()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: p.topics})
	if err != nil {
		return fmt.Errorf("kafka metadata: %w", err)
	}
	// Every missing topic at once: an operator fixing a deployment wants the whole list.
	var problems []string
	for _, name := range p.topics {
		i := slices.IndexFunc(md.Topics, func(t kafka.Topic) bool { return t.Name == name })
		switch {
		case i < 0, errors.Is(md.Topics[i].Error, kafka.UnknownTopicOrPartition):
			problems = append(problems, fmt.Sprintf("kafka topic %s: not found", name))
		case md.Topics[i].Error != nil:
			problems = append(problems, fmt.Sprintf("kafka topic %s: %v", name, md.Topics[i].Error))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
