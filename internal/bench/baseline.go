package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ankitamadan/patient-profile/internal/api"
	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// Baseline servers, run by `bench -serve MODE` as child processes so that each producer under
// test is a process of its own, as the real one is.
const (
	ServeCeiling = "http-ceiling"
	ServeNaive   = "naive-producer"
)

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, profile.Event) error { return nil }

type nopPinger struct{}

func (nopPinger) Ping(context.Context) error { return nil }

// Serve runs a baseline producer on addr until ctx is cancelled. The HTTP ceiling is the real
// route with a publisher that does nothing; the naive producer is the least a producer can be:
// one shared kafka-go Writer with a 1 ms batch timeout, no validation, metrics or logs.
func Serve(ctx context.Context, mode, addr, brokers, topic string) error {
	var h http.Handler
	switch mode {
	case ServeCeiling:
		logger := slog.New(slog.DiscardHandler)
		reg := ops.NewRegistry()
		cfg := api.Config{PublishTimeout: 5 * time.Second, MaxInFlightPublishes: 1024}
		h = ops.NewHandler(logger, reg, api.NewHandler(logger, nopPublisher{}, cfg, reg), nopPinger{})
	case ServeNaive:
		w := broker.NewWriter(broker.Cluster{Brokers: []string{brokers}}, topic)
		defer closeWithin(w.Close)
		h = naiveProducer(w)
	default:
		return fmt.Errorf("unknown -serve mode %q", mode)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func naiveProducer(w *broker.Writer) http.Handler {
	var seq atomic.Int64
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			PatientID, FirstName, LastName, Sex, IsPregnant string
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		e := profile.Event{EventID: strconv.FormatInt(seq.Add(1), 10), PatientID: req.PatientID,
			FirstName: req.FirstName,
			LastName:  req.LastName, Sex: req.Sex, IsPregnant: req.IsPregnant == "True", UpdatedAt: time.Now()}
		v, _ := json.Marshal(e)
		if err := w.Write(r.Context(), message.Message{Key: []byte(e.PatientID), Value: v}); err != nil {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(rw).Encode(map[string]string{"EventId": e.EventID, "PatientId": e.PatientID})
	})
}

// naiveConsumer is the consumer everyone writes first: fetch, put, commit, one at a time. It
// runs until it has handled n messages or d has passed, and returns its rate.
func naiveConsumer(ctx context.Context, brokers []string, group, topic string, t *store.Table, n int,
	d time.Duration) (float64, error) {
	r := broker.NewReader(broker.ReaderConfig{Cluster: broker.Cluster{Brokers: brokers}, Group: group, Topic: topic,
		SessionTimeout: 6 * time.Second})
	defer closeWithin(r.Close)
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	var start time.Time
	var done int
	for done < n {
		m, err := r.Fetch(ctx)
		if err != nil {
			return 0, fmt.Errorf("naive consumer: fetch: %w", err)
		}
		if start.IsZero() {
			start = time.Now() // after the group join, which is not what is measured
		}
		e, err := profile.Decode(m.Value)
		if err != nil {
			return 0, fmt.Errorf("naive consumer: %w", err)
		}
		if _, err := t.Put(ctx, e); err != nil {
			return 0, fmt.Errorf("naive consumer: %w", err)
		}
		if err := r.Commit(ctx, m); err != nil {
			return 0, fmt.Errorf("naive consumer: commit: %w", err)
		}
		done++
		if time.Since(start) > d {
			break
		}
	}
	return float64(done) / time.Since(start).Seconds(), nil
}
