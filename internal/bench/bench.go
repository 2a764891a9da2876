// Package bench is `make bench`: it runs the real binaries on the embedded stack and measures
// the consumer, the producer and the path between them, each against baselines measured in the
// same run, because absolute numbers drift on a shared machine and ratios hold better.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// Config sizes a run.
type Config struct {
	// Events is the size of each consumer workload.
	Events int
	// Delay is added to every store call in the delayed workloads.
	Delay time.Duration
	// InFlight is the consumer's MAX_IN_FLIGHT and the store ceiling's goroutines.
	InFlight int
	// Conns is the HTTP load's connections; Duration how long each producer is loaded.
	Conns    int
	Duration time.Duration
	// ProducerOnly skips the consumer's workloads, the end-to-end measures and the drain.
	ProducerOnly bool
	// FreshnessOnly measures freshness and resources at FreshnessRates alone: what sizing a
	// deployment needs, in a minute or two.
	FreshnessOnly bool
	// Drain is the size of the memory drain (0 skips it), in bursts of DrainBurst per patient.
	Drain, DrainBurst int
	// ConsoleMessages is the size of the topic the console's pages are measured on (0 skips
	// them): the drain's topic when the drain is at least as large, else a topic of its own.
	ConsoleMessages int
	// Self is this executable, run with -serve for the baseline producers.
	Self string
	// BinDir receives the built binaries.
	BinDir   string
	Logs     io.Writer
	Progress io.Writer
}

// runner measures; it formats nothing but its progress lines.
type runner struct {
	cfg   Config
	stack *devenv.Stack
	// seq numbers the topics and the store ceiling's patients, so that each measure starts on
	// fresh ones.
	seq int
	// drained is the topic of the last consumer drain, and its size; its group is topic+".group".
	drained     string
	drainedSize int
}

func (r *runner) progress(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, "bench: "+format+"\n", args...)
}

// report shows a measurement's rows as soon as it is done: the whole run takes minutes.
func (r *runner) report(rows ...Row) {
	for _, row := range rows {
		r.progress("%s: %s %s", row.Measure, row.Result, row.Ratio)
	}
}

// Run builds the binaries, starts the stack and measures everything.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res := Result{Machine: machine(), Setup: Setup{
		Events: cfg.Events, Delay: cfg.Delay, InFlight: cfg.InFlight, Conns: cfg.Conns, Duration: cfg.Duration,
	}}
	r := &runner{cfg: cfg}
	r.progress("building the binaries")
	if err := devenv.Build(ctx, cfg.BinDir, false, "./cmd/consumer", "./cmd/producer", "./cmd/console"); err != nil {
		return res, err
	}
	opts, err := devenv.Ephemeral()
	if err != nil {
		return res, err
	}
	stack, err := devenv.StartStack(ctx, cfg.Logs, opts)
	if err != nil {
		return res, err
	}
	defer stack.Close()
	r.stack = stack
	proxy, err := StartDelayProxy(stack.Dynalite.Endpoint(), cfg.Delay)
	if err != nil {
		return res, err
	}
	defer func() { _ = proxy.Close() }()

	// The consumer against the store ceiling and the naive consumer, per endpoint: loopback
	// first, which the end-to-end rate below relies on.
	endpoints := []struct{ name, url string }{
		{"loopback", stack.Dynalite.Endpoint()},
		{fmt.Sprintf("store +%s", cfg.Delay), proxy.Endpoint()},
	}
	if cfg.FreshnessOnly {
		err := r.freshnessAll(ctx, &res)
		return res, err
	}
	if cfg.ProducerOnly {
		endpoints = nil
	}
	for _, ep := range endpoints {
		c, err := r.consumer(ctx, ep.name, ep.url)
		if err != nil {
			return res, err
		}
		res.Consumer = append(res.Consumer, c)
		r.report(c.rows()...)
	}

	if res.Producer, err = r.producers(ctx); err != nil {
		return res, err
	}
	r.report(res.Producer.rows()...)
	if cfg.ProducerOnly {
		return res, nil
	}
	// At half the producer's max the consumer may be the bottleneck; at half its own rate on
	// distinct patients on loopback the measure is the path's latency rather than a growing
	// backlog.
	rates := []struct {
		at   string
		rate float64
	}{
		{"half the producer's max", res.Producer.Producer.Rate / 2},
		{"half the consumer's rate on distinct patients", res.Consumer[0].Workloads[0].Rate / 2},
	}
	for _, x := range rates {
		e, err := r.endToEnd(ctx, x.rate, x.at)
		if err != nil {
			return res, err
		}
		res.EndToEnd = append(res.EndToEnd, e)
		r.report(e.row())
	}
	if err := r.freshnessAll(ctx, &res); err != nil {
		return res, err
	}

	if cfg.Drain > 0 {
		_, rss, err := r.consumerDrain(ctx, stack.Dynalite.Endpoint(), cfg.Drain, cfg.DrainBurst)
		if err != nil {
			return res, err
		}
		res.Drain = &DrainResult{Events: cfg.Drain, Burst: cfg.DrainBurst, PeakRSS: rss}
		r.report(res.Drain.row())
	}
	if cfg.ConsoleMessages > 0 {
		topic := r.drained
		if r.drainedSize < cfg.ConsoleMessages {
			if topic, err = r.topic(ctx, "console"); err != nil {
				return res, err
			}
			r.progress("publishing %d events for the console", cfg.ConsoleMessages)
			if err := r.publish(ctx, topic, cfg.ConsoleMessages, cfg.DrainBurst); err != nil {
				return res, err
			}
		}
		ts, err := broker.Topics(ctx, stack.Cluster(), topic)
		if err != nil {
			return res, err
		}
		if res.Console, err = r.console(ctx, topic, topic+".group", ts[0].Messages()); err != nil {
			return res, err
		}
		r.report(res.Console.rows()...)
	}
	return res, nil
}

// freshnessAll measures freshness at each of FreshnessRates into res.
func (r *runner) freshnessAll(ctx context.Context, res *Result) error {
	for _, rate := range FreshnessRates {
		f, err := r.freshness(ctx, rate)
		if err != nil {
			return err
		}
		res.Freshness = append(res.Freshness, f)
		r.report(f.rows()...)
	}
	return nil
}

// consumer measures the consumer on one store endpoint, distinct patients then bursts, between
// two measures of the store ceiling, and the naive consumer.
func (r *runner) consumer(ctx context.Context, name, endpoint string) (ConsumerResult, error) {
	c := ConsumerResult{Endpoint: name, Goroutines: r.cfg.InFlight}
	table, err := r.table(ctx, endpoint)
	if err != nil {
		return c, err
	}
	// The first run warms dynalite and the connections up. The ceiling is then measured before
	// and after the consumer's workloads, for ConsumerResult.Ceiling to average.
	if _, err := r.storeCeiling(ctx, table, min(r.cfg.Events, 2000)); err != nil {
		return c, err
	}
	if c.CeilingBefore, err = r.storeCeiling(ctx, table, r.cfg.Events); err != nil {
		return c, err
	}
	if c.Naive, err = r.naiveConsumer(ctx, table); err != nil {
		return c, err
	}
	for _, burst := range []int{1, 10} {
		rate, _, err := r.consumerDrain(ctx, endpoint, r.cfg.Events, burst)
		if err != nil {
			return c, err
		}
		c.Workloads = append(c.Workloads, Workload{Burst: burst, Rate: rate})
	}
	if c.CeilingAfter, err = r.storeCeiling(ctx, table, r.cfg.Events); err != nil {
		return c, err
	}
	return c, nil
}

func (r *runner) table(ctx context.Context, endpoint string) (*store.Table, error) {
	client, err := store.NewClient(ctx, endpoint, "", r.cfg.InFlight)
	if err != nil {
		return nil, err
	}
	return store.New(client, r.stack.Table, 0), nil
}

// storeCeiling is InFlight goroutines writing n new patients with the consumer's own
// conditional PutItem, as fast as the store takes them.
func (r *runner) storeCeiling(ctx context.Context, t *store.Table, n int) (float64, error) {
	r.seq++
	prefix := fmt.Sprintf("ceiling%d", r.seq)
	rate, err := inParallel(r.cfg.InFlight, n, func(i int) error {
		_, err := t.Put(ctx, event(prefix, i, 0))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store ceiling: %w", err)
	}
	return rate, nil
}

// inParallel calls do for 0 to n-1 from workers goroutines and returns the calls a second; a
// worker that meets an error makes no more calls, and the first error is returned.
func inParallel(workers, n int, do func(i int) error) (float64, error) {
	next := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			failed := false // then the rest is only taken, so that the feeder finishes
			for i := range next {
				if failed {
					continue
				}
				if err := do(i); err != nil {
					errc <- err
					failed = true
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		return 0, err
	default:
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// startConsumer starts the consumer binary on topic, in a group of its own, with env added, and
// returns it and the port of its health and metrics.
func (r *runner) startConsumer(topic string, env ...string) (*devenv.Process, int, error) {
	port, err := devenv.FreePort()
	if err != nil {
		return nil, 0, err
	}
	env = append([]string{"TOPIC_NAME=" + topic, "CONSUMER_GROUP=" + topic + ".group", "LOG_LEVEL=warn",
		"MAX_IN_FLIGHT=" + strconv.Itoa(r.cfg.InFlight)}, env...)
	p, err := devenv.Start("consumer", r.cfg.BinDir+"/consumer", r.stack.ConsumerEnv(port, env...), r.cfg.Logs)
	return p, port, err
}

func (r *runner) naiveConsumer(ctx context.Context, t *store.Table) (float64, error) {
	topic, err := r.topic(ctx, "naive")
	if err != nil {
		return 0, err
	}
	// It is slow: measure it over a few seconds rather than over the whole workload.
	n := min(r.cfg.Events, 5000)
	if err := r.publish(ctx, topic, n, 1); err != nil {
		return 0, err
	}
	return naiveConsumer(ctx, r.stack.Brokers, topic+".group", topic, t, n, 5*time.Second)
}

// consumerDrain publishes n events in bursts of burst per patient, then runs the consumer binary
// against endpoint until it has committed them all. It returns the rate over the drain (from the
// first commit to the last, so the group join is not counted) and the consumer's peak RSS.
func (r *runner) consumerDrain(ctx context.Context, endpoint string, n, burst int) (float64, int64, error) {
	topic, err := r.topic(ctx, "drain")
	if err != nil {
		return 0, 0, err
	}
	if n >= 100000 {
		r.progress("publishing %d events", n)
	}
	if err := r.publish(ctx, topic, n, burst); err != nil {
		return 0, 0, err
	}
	r.drained, r.drainedSize = topic, n
	group := topic + ".group"
	p, _, err := r.startConsumer(topic, "DDB_HOST="+endpoint, "COMMIT_INTERVAL=100ms")
	if err != nil {
		return 0, 0, err
	}
	defer p.Kill()
	var t0 time.Time
	var c0 int64
	for {
		if p.Exited() {
			return 0, 0, errors.New("the consumer exited during the drain")
		}
		committed, end, err := broker.GroupOffsets(ctx, r.stack.Cluster(), group, topic)
		now := time.Now()
		if err == nil && committed > 0 && t0.IsZero() {
			t0, c0 = now, committed
		}
		if err == nil && committed == end && end > 0 {
			rss, err := peakRSS(p.Pid())
			if err != nil {
				return 0, 0, err
			}
			if now.Equal(t0) {
				return 0, rss, errors.New("the drain finished before a first progress was seen: use more events")
			}
			return float64(end-c0) / now.Sub(t0).Seconds(), rss, nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// topic creates a fresh topic with as many partitions as the stack's.
func (r *runner) topic(ctx context.Context, name string) (string, error) {
	r.seq++
	topic := fmt.Sprintf("bench.%s.%d", name, r.seq)
	return topic, broker.CreateTopics(ctx, r.stack.Cluster(), devenv.Partitions, topic)
}

// publish writes n events, burst per patient back to back, in big batches.
func (r *runner) publish(ctx context.Context, topic string, n, burst int) error {
	w := broker.NewBulkWriter(r.stack.Cluster(), topic)
	defer closeWithin(w.Close)
	const chunk = 30000
	msgs := make([]message.Message, 0, chunk)
	for i := range n {
		e := event(topic, i/burst, i%burst)
		msgs = append(msgs, message.Message{Key: []byte(e.PatientID), Value: e.AppendJSON(nil)})
		if len(msgs) == chunk || i == n-1 {
			if err := w.Write(ctx, msgs...); err != nil {
				return fmt.Errorf("publish: %w", err)
			}
			msgs = msgs[:0]
		}
	}
	return nil
}

var epoch = time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)

// event is patient's version-th event.
func event(prefix string, patient, version int) profile.Event {
	id := prefix + "-" + strconv.Itoa(patient)
	return profile.Event{
		EventID: fmt.Sprintf("%s-%04d", id, version), PatientID: id, FirstName: "John", LastName: "Doe", Sex: "Female",
		UpdatedAt: epoch.Add(time.Duration(version) * time.Millisecond),
	}
}

// peakRSS is the process's VmHWM.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10,
				64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = ", load average " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("%s, %d CPUs, %s, %s/%s%s",
		model, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, load)
}

// closeWithin closes a writer or a reader within 5 s of its own: the run's ctx may be cancelled
// already (Ctrl-C), and a close must neither be skipped nor wait forever on a broker that is gone.
func closeWithin(closeFn func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Nothing is lost to an error here: every write waited for its acks, and the naive consumer
	// commits each message before it fetches the next.
	_ = closeFn(ctx)
}
