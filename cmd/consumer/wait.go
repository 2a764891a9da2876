package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/ankitamadan/patient-profile/internal/store"
)

const pingTimeout = 5 * time.Second

type pinger interface {
	Ping(ctx context.Context) error
}

// waitUntilReady returns once every dependency answers: the topics exist and the table can be
// reached. It refuses a table with the wrong key, where every write would fail validation and
// every event would be dead-lettered. It says what it is waiting for on attempts 1, 2, 4, 8, ...
// (as /readyz does each time it is asked), so a misconfigured consumer is loud at once and then
// quiet; the checks themselves back off up to maxWait.
func waitUntilReady(ctx context.Context, logger *slog.Logger, maxWait time.Duration, deps ...pinger) error {
	start := time.Now()
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var problems []string
		for _, d := range deps {
			// A hung dependency is reported as such rather than waited on in silence.
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err := d.Ping(pctx)
			cancel()
			if errors.Is(err, store.ErrWrongTable) {
				return err
			}
			if err != nil {
				problems = append(problems, err.Error())
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if len(problems) == 0 {
			if attempt > 1 {
				logger.Info("dependencies ready; consuming",
					slog.String("waited", time.Since(start).Round(time.Millisecond).String()))
			}
			return nil
		}
		if attempt&(attempt-1) == 0 {
			logger.Warn("not consuming yet: waiting for the topics and the table",
				slog.String("missing", strings.Join(problems, "; ")),
				slog.Int("attempt", attempt), slog.String("waited", time.Since(start).Round(time.Millisecond).String()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}
