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

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/idempotency"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// producers loads the HTTP ceiling, the naive producer and the producer with the same closed
// loop, then the producer alone at half its maximum rate, open loop, for its latency.
func (r *runner) producers(ctx context.Context) (ProducerResult, error) {
	res := ProducerResult{Conns: r.cfg.Conns}
	for _, s := range []struct {
		name  string
		load  *Load
		keyed bool
	}{
		{ServeCeiling, &res.HTTPCeiling, false}, {ServeNaive, &res.Naive, false}, {"producer", &res.Producer, false},
		// Right after the same producer without keys, so that the two see the same machine.
		{"producer", &res.Keyed, true},
	} {
		topic, err := r.topic(ctx, "produce")
		if err != nil {
			return res, err
		}
		url, stop, err := r.startProducer(ctx, s.name, topic)
		if err != nil {
			return res, err
		}
		if s.keyed {
			// The producer opens its connections to the key table on the first requests, all at
			// once: a second of load first, so that the measure is of the steady state.
			if _, err := closedLoop(ctx, url, topic+"-warmup", r.cfg.Conns, time.Second, true); err != nil {
				stop()
				return res, fmt.Errorf("%s warm-up: %w", s.name, err)
			}
		}
		load, err := closedLoop(ctx, url, topic, r.cfg.Conns, r.cfg.Duration, s.keyed)
		stop()
		if err != nil {
			return res, fmt.Errorf("%s: %w", s.name, err)
		}
		if load.Errors > 0 {
			return res, fmt.Errorf("%s: %d requests failed", s.name, load.Errors)
		}
		*s.load = loadOf(load)
	}
	var err error
	if res.KeyCeiling, err = r.keyCeiling(ctx, 5000); err != nil {
		return res, err
	}

	res.OpenLoopRate = res.Producer.Rate / 2
	topic, err := r.topic(ctx, "produce")
	if err != nil {
		return res, err
	}
	url, stop, err := r.startProducer(ctx, "producer", topic)
	if err != nil {
		return res, err
	}
	load, err := openLoop(ctx, url, topic, res.OpenLoopRate, r.cfg.Duration, r.cfg.Conns, nil)
	stop()
	if err != nil {
		return res, err
	}
	res.OpenLoop = loadOf(load)
	return res, nil
}

// keyCeiling is Conns goroutines doing to the stack's key table what n keyed requests do, a
// claim of a new key then its completion, as fast as the table takes them; in keys/s.
func (r *runner) keyCeiling(ctx context.Context, n int) (float64, error) {
	client, err := store.NewClient(ctx, r.stack.Dynalite.Endpoint(), "", r.cfg.Conns)
	if err != nil {
		return 0, err
	}
	keys := idempotency.New(client, r.stack.KeyTable, 24*time.Hour, 10*time.Second)
	r.seq++
	prefix := fmt.Sprintf("ceiling%d-", r.seq)
	body := []byte(`{"EventId":"0193c1f0-0000-7000-8000-000000000000","PatientId":"1",` +
		`"UpdatedAt":"2026-01-02T05:00:00.5Z"}` + "\n")
	rate, err := inParallel(r.cfg.Conns, n, func(i int) error {
		c, err := keys.Begin(ctx, prefix+strconv.Itoa(i), "fingerprint", "event", epoch)
		if err == nil {
			err = keys.Complete(ctx, c, 201, body)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("key table ceiling: %w", err)
	}
	return rate, nil
}

// endToEnd runs the producer and the consumer together and sends POSTs at rate, open loop. For
// a sample of the 201s, it polls the table until the row holds that event.
func (r *runner) endToEnd(ctx context.Context, rate float64, at string) (EndToEndResult, error) {
	res := EndToEndResult{At: at, Rate: rate}
	topic, err := r.topic(ctx, "e2e")
	if err != nil {
		return res, err
	}
	table, err := r.table(ctx, r.stack.Dynalite.Endpoint())
	if err != nil {
		return res, err
	}
	group := topic + ".group"
	consumer, _, err := r.startConsumer(topic)
	if err != nil {
		return res, err
	}
	defer consumer.Kill()
	url, stop, err := r.startProducer(ctx, "producer", topic)
	if err != nil {
		return res, err
	}
	defer stop()
	// The consumer has joined once it commits a first event (startProducer's warm-up POST).
	for deadline := time.Now().Add(time.Minute); ; {
		if lag, err := broker.Lag(ctx, r.stack.Cluster(), group, topic); err == nil && lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("end to end: the consumer never caught up with one event")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// About 200 samples a second, so that the polling costs the store little.
	every := max(1, int(rate/200))
	var mu sync.Mutex
	var seen []time.Duration
	var polls sync.WaitGroup
	var n int
	load, err := openLoop(ctx, url, topic, rate, r.cfg.Duration, r.cfg.Conns, func(w written) {
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
		return res, err
	}
	if load.Errors > 0 {
		return res, fmt.Errorf("end to end: %d requests failed", load.Errors)
	}
	e2e := summarize(seen)
	res.Samples, res.P50, res.P99 = len(seen), e2e.P50, e2e.P99
	return res, nil
}

// startProducer starts the producer binary, or a baseline (this executable with -serve), on a
// free port publishing to topic, and waits until it answers.
func (r *runner) startProducer(ctx context.Context, name, topic string) (url string, stop func(), err error) {
	url, p, err := r.startProducerProcess(ctx, name, topic)
	if err != nil {
		return "", nil, err
	}
	return url, p.stop, nil
}

// producerProcess is a started producer: its pid, for its CPU and memory, and how to stop it.
type producerProcess struct {
	pid  int
	stop func()
}

// startProducerProcess is startProducer, with the process's pid.
func (r *runner) startProducerProcess(ctx context.Context, name, topic string) (url string, p producerProcess,
	err error) {
	port, err := devenv.FreePort()
	if err != nil {
		return "", producerProcess{}, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	url = "http://" + addr + "/patientprofile"
	var cmd *exec.Cmd
	if name == "producer" {
		// The whole contract is on, authentication included. The load sends the token it finds
		// in the URL's user info; the baselines get none, and would ignore it.
		cmd = exec.Command(r.cfg.BinDir + "/producer") //nolint:gosec,noctx // G204: the binary the bench built
		cmd.Env = r.stack.ProducerEnv(port, "TOPIC_NAME="+topic, "LOG_LEVEL=warn", "API_TOKENS="+benchToken)
		url = "http://:" + benchToken + "@" + addr + "/patientprofile"
	} else {
		cmd = exec.Command(r.cfg.Self, //nolint:gosec,noctx // G204: this executable, stopped by stop
			"-serve", name, "-addr", addr, "-brokers", r.stack.Brokers[0], "-topic", topic)
	}
	cmd.Stdout, cmd.Stderr = r.cfg.Logs, r.cfg.Logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", producerProcess{}, fmt.Errorf("start %s: %w", name, err)
	}
	stop := func() {
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
				return url, producerProcess{pid: cmd.Process.Pid, stop: stop}, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", producerProcess{}, fmt.Errorf("%s did not answer on %s", name, addr)
		}
	}
}

// benchToken is the producer's API token in the benchmark.
const benchToken = "bench-token-0123456789abcdef"
