package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/tracing"
)

// handle brings a batch of one patient's events to a final outcome. Only the newest by the
// ordering rule needs a write: once it is applied, or judged stale, the stored profile is at
// least as new as every other event of the batch, which are superseded. If the store rejects
// the newest for good, it is dead-lettered and the next newest is tried, so the row still ends
// at the newest event that can be applied. Transient failures are retried in place, so this
// patient's later events wait behind the batch and their order is kept, while other patients
// go on. It returns an error only if ctx is cancelled first, in which case what is not final
// must not be committed.
func (c *Consumer) handle(ctx context.Context, batch []*item) error {
	events := batch[:0:0]
	for _, it := range batch {
		if it.err != nil {
			if err := c.deadLetter(ctx, it.m, it.err); err != nil {
				return err
			}
			c.final(it)
			continue
		}
		events = append(events, it)
	}
	// Newest first; among equals (duplicates), the first fetched.
	slices.SortStableFunc(events, func(a, b *item) int { return profile.Compare(b.e, a.e) })
	for i, it := range events {
		done, err := c.apply(ctx, it, len(events)-i-1)
		if err != nil {
			return err
		}
		if !done {
			continue // dead-lettered: the next newest is tried
		}
		for _, older := range events[i+1:] {
			c.superseded.Add(1)
			c.observeAge(OutcomeSuperseded, older.e)
			c.final(older)
		}
		return nil
	}
	return nil
}

// apply writes it, the newest of its batch, continuing the trace its producer started (the
// message's traceparent, if any), so that the store write is a descendant of the POST and log
// lines made with ctx carry the trace id. It reports whether the row is now at least as new as
// it (applied or stale), and false if it was dead-lettered instead.
func (c *Consumer) apply(ctx context.Context, it *item, superseding int) (bool, error) {
	m := it.m
	ctx, span := tracing.Tracer().Start(tracing.Extract(ctx, m.Headers), m.Topic+" process",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", m.Topic),
			attribute.Int("messaging.destination.partition.id", m.Partition),
			attribute.Int64("messaging.kafka.offset", m.Offset),
			attribute.String("messaging.message.id", it.e.EventID),
			attribute.Int("superseding", superseding),
		))
	defer span.End()
	var applied bool
	err := c.retry(ctx, m, "put", c.cfg.Permanent, func(ctx context.Context) error {
		var err error
		applied, err = c.store.Put(ctx, it.e)
		return err
	})
	switch {
	case err != nil && c.cfg.Permanent(err):
		span.SetAttributes(attribute.String("outcome", "dead_lettered"))
		if err := c.deadLetter(ctx, m, err); err != nil {
			return false, err
		}
		c.observeAge(OutcomeDeadLettered, it.e)
		c.final(it)
		return false, nil
	case err != nil:
		span.SetStatus(codes.Error, "abandoned at shutdown")
		return false, err
	case applied:
		c.applied.Add(1)
		span.SetAttributes(attribute.String("outcome", "applied"))
		c.observeAge(OutcomeApplied, it.e)
	default:
		c.stale.Add(1)
		span.SetAttributes(attribute.String("outcome", "stale"))
		c.observeAge(OutcomeStale, it.e)
	}
	c.final(it)
	if c.logger.Enabled(ctx, slog.LevelDebug) { // the attributes cost allocations on every event
		c.logger.DebugContext(ctx, "handled", slog.String("topic", it.m.Topic), slog.Int("partition", it.m.Partition),
			slog.Int64("offset", it.m.Offset), slog.String("patient_id", it.e.PatientID),
			slog.String("event_id", it.e.EventID), slog.Bool("applied", applied), slog.Int("superseded", superseding))
	}
	return true, nil
}

// observeAge tells Config.ObserveAge how old e is now that its outcome is final.
func (c *Consumer) observeAge(outcome string, e profile.Event) {
	if c.cfg.ObserveAge == nil {
		return
	}
	// A producer's clock may run ahead of this one's (up to MaxClockSkew), which makes the age
	// negative: the event is as fresh as an event can be.
	c.cfg.ObserveAge(outcome, max(time.Since(e.UpdatedAt), 0))
}

// deadLetter parks m with the reason. The publish is retried until it succeeds: if it failed and
// the offset were committed anyway, the event would be lost.
func (c *Consumer) deadLetter(ctx context.Context, m message.Message, reason error) error {
	send := func(ctx context.Context) error { return c.dlq.Send(ctx, m, reason) }
	if err := c.retry(ctx, m, "dead-letter", never, send); err != nil {
		return err
	}
	c.deadLettered.Add(1)
	why := deadLetterReason(reason)
	c.deadLetters[why].Add(1)
	c.logger.WarnContext(ctx, "dead-lettered", slog.String("topic", m.Topic), slog.Int("partition", m.Partition),
		slog.Int64("offset", m.Offset), slog.String("reason", why), slog.String("error", reason.Error()))
	return nil
}

// never is the dead-letter publish's notion of a permanent error: giving up on it would lose the
// event.
func never(error) bool { return false }

// retry calls fn until it succeeds, fails permanently, or ctx is cancelled. Each attempt gets
// AttemptTimeout and is not cut short by ctx, so a write in flight at shutdown completes rather
// than leaving its outcome unknown.
func (c *Consumer) retry(ctx context.Context, m message.Message, op string, permanent func(error) bool,
	fn func(context.Context) error) error {
	failed := false
	defer func() {
		// Cleared however this ends: success, a permanent failure, or shutdown.
		if failed {
			c.health.setFailing(m, nil)
		}
	}()
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.AttemptTimeout)
		err := fn(actx)
		cancel()
		if err == nil || permanent(err) {
			return err
		}
		failed = true
		c.health.setFailing(m, fmt.Errorf("%s: %w", op, err))
		c.retries.Add(1)
		wait := backoff(attempt, c.cfg.MaxBackoff)
		c.logAttempt(ctx, attempt+1, op+" failed; retrying", slog.String("topic", m.Topic),
			slog.Int("partition", m.Partition), slog.Int64("offset", m.Offset), slog.Duration("wait", wait),
			slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s/%d/%d: %w", op, m.Topic, m.Partition, m.Offset, errShutdown)
		case <-time.After(wait):
		}
	}
}

// backoff is capped exponential backoff with equal jitter: between half and all of
// min(ceiling, 100ms * 2^attempt). The jitter keeps consumers that failed together from retrying
// together; the floor keeps it from spinning.
func backoff(attempt int, ceiling time.Duration) time.Duration {
	d := ceiling
	if attempt < 30 {
		d = min(ceiling, 100*time.Millisecond<<attempt)
	}
	return d/2 + rand.N(d/2+1)
}

// logAttempt logs a failed attempt that will be retried. An outage retries for as long as it
// lasts, so it warns on attempts 1, 2, 4, 8, ... and logs the rest at debug: the log shows the
// outage without flooding.
func (c *Consumer) logAttempt(ctx context.Context, attempt int, msg string, attrs ...slog.Attr) {
	level := slog.LevelDebug
	if attempt&(attempt-1) == 0 {
		level = slog.LevelWarn
	}
	c.logger.LogAttrs(ctx, level, msg, append(attrs, slog.Int("attempt", attempt))...)
}
