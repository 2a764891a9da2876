package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ankitamadan/patient-profile/internal/broker"
)

// Snapshot is what the overview shows, as one poll found it.
type Snapshot struct {
	At time.Time
	// Took is how long the poll took.
	Took     time.Duration
	Services []Service
	// Topics are the event topic and the dead-letter topic, in that order; TopicsErr says why
	// they are missing.
	Topics    []broker.Topic
	TopicsErr string
	Group     broker.Group
	GroupErr  string
	// DeadLetters is how many messages the dead-letter topic holds.
	DeadLetters int64
	// Outcomes are the consumer's counters, by outcome and by dead-letter reason.
	Outcomes    []Count
	Reasons     []Count
	OutcomesErr string
}

// Service is one service's health and readiness, from its own routes.
type Service struct {
	Name, URL string
	// Healthy and Ready are their answers; Detail says why not ready.
	Healthy, Ready bool
	Detail         string
}

// Count is one counter of the consumer.
type Count struct {
	Name  string
	Value int64
}

// TotalLag is the group's lag over every partition.
func (s *Snapshot) TotalLag() int64 {
	var n int64
	for _, p := range s.Group.Partitions {
		n += p.Lag()
	}
	return n
}

// poll gathers a snapshot: the services' readiness and counters and the cluster's offsets and
// group, all at once. It reads no message: offsets and group state only.
func (c *Console) poll(ctx context.Context) *Snapshot {
	start := time.Now()
	s := &Snapshot{At: start}
	var wg sync.WaitGroup
	s.Services = []Service{{Name: "producer", URL: c.cfg.ProducerURL}, {Name: "consumer", URL: c.cfg.ConsumerURL}}
	for i := range s.Services {
		wg.Go(func() { c.checkService(ctx, &s.Services[i]) })
	}
	wg.Go(func() {
		var err error
		s.Outcomes, s.Reasons, err = c.counters(ctx)
		if err != nil {
			s.OutcomesErr = err.Error()
		}
	})
	wg.Go(func() {
		ts, err := c.deps.Kafka.Topics(ctx, c.cfg.Topic, c.cfg.DLQTopic)
		if err != nil {
			s.TopicsErr = err.Error()
			return
		}
		s.Topics, s.DeadLetters = ts, ts[1].Messages()
	})
	wg.Go(func() {
		g, err := c.deps.Kafka.DescribeGroup(ctx, c.cfg.Group, c.cfg.Topic)
		if err != nil {
			s.GroupErr = err.Error()
		}
		s.Group = g
	})
	wg.Wait()
	s.Took = time.Since(start)
	return s
}

// checkService asks a service's /healthz and /readyz.
func (c *Console) checkService(ctx context.Context, s *Service) {
	status, _, err := c.get(ctx, s.URL+"/healthz")
	s.Healthy = err == nil && status == http.StatusOK
	if err != nil {
		s.Detail = "not reachable: " + err.Error()
		return
	}
	status, body, err := c.get(ctx, s.URL+"/readyz")
	if err != nil {
		s.Detail = "readiness not reachable: " + err.Error()
		return
	}
	s.Ready = status == http.StatusOK
	var answer struct{ Status, Error string }
	if json.Unmarshal(body, &answer) == nil && answer.Error != "" {
		s.Detail = answer.Error
	}
}

// counters reads the consumer's outcome and dead-letter counters from its /metrics.
func (c *Console) counters(ctx context.Context) (outcomes, reasons []Count, err error) {
	status, body, err := c.get(ctx, c.cfg.ConsumerURL+"/metrics")
	if err != nil {
		return nil, nil, err
	}
	if status != http.StatusOK {
		return nil, nil, fmt.Errorf("consumer /metrics answered %d", status)
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, m := range []struct {
			prefix string
			into   *[]Count
		}{
			{`patient_profile_consumer_events_total{outcome="`, &outcomes},
			{`patient_profile_consumer_dead_letters_total{reason="`, &reasons},
		} {
			rest, ok := strings.CutPrefix(line, m.prefix)
			if !ok {
				continue
			}
			name, value, ok := strings.Cut(rest, `"} `)
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				continue
			}
			*m.into = append(*m.into, Count{Name: name, Value: int64(v)})
		}
	}
	return outcomes, reasons, sc.Err()
}

// get fetches url and returns its status and up to 1 MiB of its body.
func (c *Console) get(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return 0, nil, fmt.Errorf("request %s: %w", url, err)
	}
	resp, err := c.deps.HTTP.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("get %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read %s: %w", url, err)
	}
	return resp.StatusCode, body, nil
}
