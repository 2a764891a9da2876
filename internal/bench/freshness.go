package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ankitamadan/patient-profile/internal/broker"
)

// FreshnessRates are the fixed rates freshness is measured at: what a real Profile service sees,
// and ten times that.
var FreshnessRates = []float64{100, 1000}

// freshness runs the producer and the consumer together, sends POSTs at rate for twice the load's
// duration, open loop, waits until every event is applied, and reads how old the events were when
// applied from the consumer's own histogram, as a production scrape would, with nothing polled:
// the difference between its buckets before and after the load. It also measures the CPU and the
// peak memory of both processes over the run.
func (r *runner) freshness(ctx context.Context, rate float64) (FreshnessResult, error) {
	res := FreshnessResult{Rate: rate}
	topic, err := r.topic(ctx, "fresh")
	if err != nil {
		return res, err
	}
	group := topic + ".group"
	consumer, port, err := r.startConsumer(topic)
	if err != nil {
		return res, err
	}
	defer consumer.Kill()
	url, producer, err := r.startProducerProcess(ctx, "producer", topic)
	if err != nil {
		return res, err
	}
	defer producer.stop()
	if err := r.waitNoLag(ctx, group, topic); err != nil {
		return res, fmt.Errorf("freshness: %w", err)
	}
	metrics := "http://127.0.0.1:" + strconv.Itoa(port) + "/metrics"
	before, err := appliedAges(ctx, metrics)
	if err != nil {
		return res, err
	}
	cpu0, err := cpuSeconds(producer.pid, consumer.Pid())
	if err != nil {
		return res, err
	}

	start := time.Now()
	load, err := openLoop(ctx, url, topic, rate, 2*r.cfg.Duration, r.cfg.Conns, nil)
	if err != nil {
		return res, err
	}
	if load.Errors > 0 {
		return res, fmt.Errorf("freshness: %d requests failed", load.Errors)
	}
	if err := r.waitNoLag(ctx, group, topic); err != nil {
		return res, fmt.Errorf("freshness: %w", err)
	}
	took := time.Since(start).Seconds()
	cpu1, err := cpuSeconds(producer.pid, consumer.Pid())
	if err != nil {
		return res, err
	}
	after, err := appliedAges(ctx, metrics)
	if err != nil {
		return res, err
	}

	delta := after.minus(before)
	res.Events = int(delta.count())
	res.P50, res.P99 = delta.quantile(0.5), delta.quantile(0.99)
	res.ProducerCPU, res.ConsumerCPU = (cpu1[0]-cpu0[0])/took, (cpu1[1]-cpu0[1])/took
	if res.ProducerRSS, err = peakRSS(producer.pid); err != nil {
		return res, err
	}
	res.ConsumerRSS, err = peakRSS(consumer.Pid())
	return res, err
}

// waitNoLag waits until the group has committed every event of the topic.
func (r *runner) waitNoLag(ctx context.Context, group, topic string) error {
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if lag, err := broker.Lag(ctx, r.stack.Cluster(), group, topic); err == nil && lag == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the consumer did not catch up with %s within 2 minutes", topic)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// histogram is a cumulative histogram: the count of observations at or under each upper bound,
// in increasing order of bound, the last one +Inf.
type histogram []bucket

type bucket struct {
	le    float64
	count float64
}

func (h histogram) count() float64 {
	if len(h) == 0 {
		return 0
	}
	return h[len(h)-1].count
}

// minus is what was observed between an earlier reading of the same histogram and h.
func (h histogram) minus(earlier histogram) histogram {
	out := slices.Clone(h)
	for i := range out {
		if i < len(earlier) {
			out[i].count -= earlier[i].count
		}
	}
	return out
}

// quantile is the q-quantile, interpolated linearly within the bucket it falls in, as PromQL's
// histogram_quantile does; in the +Inf bucket, the highest finite bound.
func (h histogram) quantile(q float64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range h {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return seconds(lower)
			}
			in := b.count - below
			if in == 0 {
				return seconds(b.le)
			}
			return seconds(lower + (b.le-lower)*(rank-below)/in)
		}
		lower, below = b.le, b.count
	}
	return seconds(lower)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// appliedAges reads the consumer's event-age histogram for applied events from its /metrics.
func appliedAges(ctx context.Context, url string) (histogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape the consumer: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape the consumer: %w", err)
	}
	f, ok := families["patient_profile_consumer_event_age_seconds"]
	if !ok {
		return nil, fmt.Errorf("the consumer exports no patient_profile_consumer_event_age_seconds")
	}
	for _, m := range f.GetMetric() {
		applied := slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
			return l.GetName() == "outcome" && l.GetValue() == "applied"
		})
		if !applied {
			continue
		}
		var h histogram
		for _, b := range m.GetHistogram().GetBucket() {
			h = append(h, bucket{le: b.GetUpperBound(), count: float64(b.GetCumulativeCount())})
		}
		return append(h, bucket{le: math.Inf(1), count: float64(m.GetHistogram().GetSampleCount())}), nil
	}
	return nil, fmt.Errorf("no applied series in patient_profile_consumer_event_age_seconds")
}

// cpuSeconds is each process's user and system CPU time so far, from /proc.
func cpuSeconds(pids ...int) ([]float64, error) {
	const ticks = 100 // USER_HZ, 100 on Linux wherever Go runs
	out := make([]float64, 0, len(pids))
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil, err
		}
		// The command name, in parentheses, may hold spaces: count fields after its end.
		_, rest, ok := strings.Cut(string(b), ") ")
		fields := strings.Fields(rest)
		if !ok || len(fields) < 13 {
			return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
		}
		utime, err1 := strconv.ParseFloat(fields[11], 64)
		stime, err2 := strconv.ParseFloat(fields[12], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
		}
		out = append(out, (utime+stime)/ticks)
	}
	return out, nil
}
