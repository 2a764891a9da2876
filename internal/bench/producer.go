package bench

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ankitamadan/patient-profile/internal/devenv"
)

// producers loads the HTTP ceiling, the naive producer and the producer with the same closed
// loop, then the producer alone at half its maximum rate, open loop, with the consumer running,
// for the producer's latency and the end-to-end latency.
func (r *runner) producers(ctx context.Context) error {
	type server struct {
		name string
		rate float64
		p99  time.Duration
	}
	var ceiling, naive, real server
	for _, s := range []*server{{name: ServeCeiling}, {name: ServeNaive}, {name: "producer"}} {
		topic, err := r.topic(ctx, "produce")
		if err != nil {
			return err
		}
		url, stop, err := r.startProducer(ctx, s.name, topic)
		if err != nil {
			return err
		}
		res, err := closedLoop(ctx, url, topic, r.cfg.Conns, r.cfg.Duration)
		stop()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if res.Errors > 0 {
			return fmt.Errorf("%s: %d requests failed", s.name, res.Errors)
		}
		s.rate, s.p99 = res.Rate, res.P99
		switch s.name {
		case ServeCeiling:
			ceiling = *s
		case ServeNaive:
			naive = *s
		default:
			real = *s
		}
	}
	r.add(Row{Measure: fmt.Sprintf("HTTP ceiling: the same route, a publisher that does nothing (%d connections)", r.cfg.Conns),
		Result: fmt.Sprintf("%s req/s, p99 %s", num(ceiling.rate), ms(ceiling.p99)), Ratio: "1.00x (baseline)"})
	r.add(Row{Measure: "naive producer: one shared Writer, BatchTimeout 1 ms, no validation, metrics or logs",
		Result: fmt.Sprintf("%s req/s, p99 %s", num(naive.rate), ms(naive.p99)), Ratio: ratio(naive.rate, ceiling.rate, "HTTP ceiling")})
	r.add(Row{Measure: "producer", Result: fmt.Sprintf("%s req/s, p99 %s", num(real.rate), ms(real.p99)),
		Ratio:  ratio(real.rate, naive.rate, "naive producer") + "; " + ratio(real.rate, ceiling.rate, "HTTP ceiling"),
		Target: "≥ 0.8x naive producer", Met: met(real.rate >= 0.8*naive.rate)})

	half := real.rate / 2
	topic, err := r.topic(ctx, "produce")
	if err != nil {
		return err
	}
	url, stop, err := r.startProducer(ctx, "producer", topic)
	if err != nil {
		return err
	}
	res, err := openLoop(ctx, url, topic, half, r.cfg.Duration, r.cfg.Conns, nil)
	stop()
	if err != nil {
		return err
	}
	r.add(Row{Measure: fmt.Sprintf("producer at half its max rate, open loop (%s req/s)", num(half)),
		Result: fmt.Sprintf("p50 %s, p99 %s", ms(res.P50), ms(res.P99)), Target: "p99 ≤ 10 ms", Met: met(res.Errors == 0 && res.P99 <= 10*time.Millisecond)})
	r.producerMax = real.rate
	return nil
}

// endToEnd runs the producer and the consumer together and sends POSTs at rate, open loop. For
// a sample of the 201s, it polls the table until the row holds that event.
func (r *runner) endToEnd(ctx context.Context, rate float64, what string) error {
	topic, err := r.topic(ctx, "e2e")
	if err != nil {
		return err
	}
	table, err := r.table(ctx, r.stack.Dynalite.Endpoint())
	if err != nil {
		return err
	}
	port, err := devenv.FreePort()
	if err != nil {
		return err
	}
	group := topic + ".group"
	consumer, err := devenv.Start("consumer", r.cfg.BinDir+"/consumer", r.stack.ConsumerEnv(port,
		"TOPIC_NAME="+topic, "CONSUMER_GROUP="+group, "LOG_LEVEL=warn", "MAX_IN_FLIGHT="+strconv.Itoa(r.cfg.InFlight)), r.cfg.Logs)
	if err != nil {
		return err
	}
	defer consumer.Kill()
	url, stop, err := r.startProducer(ctx, "producer", topic)
	if err != nil {
		return err
	}
	defer stop()
	// The consumer has joined once it commits a first event (startProducer's warm-up POST).
	for deadline := time.Now().Add(time.Minute); ; {
		if lag, err := devenv.Lag(ctx, r.stack.Brokers, group, topic); err == nil && lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("end to end: the consumer never caught up with one event")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// About 200 samples a second, so that the polling costs the store little.
	every := max(1, int(rate/200))
	var mu sync.Mutex
	var seen []time.Duration
	var polls sync.WaitGroup
	var n int
	res, err := openLoop(ctx, url, topic, rate, r.cfg.Duration, r.cfg.Conns, func(w written) {
		mu.Lock()
		n++
		sample := n%every == 0
		mu.Unlock()
		if !sample {
			return
		}
		polls.Add(1)
		go func() {
			defer polls.Done()
			wait := time.Millisecond
			for deadline := w.at.Add(time.Minute); time.Now().Before(deadline); time.Sleep(wait) {
				// Polls back off so that a consumer far behind is not buried in reads.
				if time.Since(w.at) > 100*time.Millisecond {
					wait = 20 * time.Millisecond
				}
				e, ok, err := table.Get(ctx, w.patient)
				if err == nil && ok && e.EventID == w.eventID {
					mu.Lock()
					seen = append(seen, time.Since(w.at))
					mu.Unlock()
					return
				}
			}
		}()
	})
	polls.Wait()
	if err != nil {
		return err
	}
	if res.Errors > 0 {
		return fmt.Errorf("end to end: %d requests failed", res.Errors)
	}
	e2e := summarize(seen)
	r.add(Row{Measure: fmt.Sprintf("end to end, open loop at %s (%s req/s): the POST's 201 to the row readable (%d samples)", what, num(rate), len(seen)),
		Result: fmt.Sprintf("p50 %s, p99 %s", ms(e2e.P50), ms(e2e.P99)), Target: "p99 ≤ 50 ms", Met: met(len(seen) > 0 && e2e.P99 <= 50*time.Millisecond)})
	return nil
}

// startProducer starts the producer binary, or a baseline (this executable with -serve), on a
// free port publishing to topic, and waits until it answers.
func (r *runner) startProducer(ctx context.Context, name, topic string) (url string, stop func(), err error) {
	port, err := devenv.FreePort()
	if err != nil {
		return "", nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	url = "http://" + addr + "/patientprofile"
	var cmd *exec.Cmd
	if name == "producer" {
		// The whole contract is on, authentication included. The load sends the token it finds
		// in the URL's user info; the baselines get none, and would ignore it.
		cmd = exec.Command(r.cfg.BinDir + "/producer")
		cmd.Env = r.stack.ProducerEnv(port, "TOPIC_NAME="+topic, "LOG_LEVEL=warn", "API_TOKENS="+benchToken)
		url = "http://:" + benchToken + "@" + addr + "/patientprofile"
	} else {
		cmd = exec.Command(r.cfg.Self, "-serve", name, "-addr", addr, "-brokers", r.stack.Brokers[0], "-topic", topic)
	}
	cmd.Stdout, cmd.Stderr = r.cfg.Logs, r.cfg.Logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", name, err)
	}
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := dialLoad(ctx, url); err == nil {
			_, err = c.post(topic + "-warmup")
			c.close()
			if err == nil {
				return url, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("%s did not answer on %s", name, addr)
		}
	}
}

// benchToken is the producer's API token in the benchmark.
const benchToken = "bench-token-0123456789abcdef"

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
