package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ankitamadan/patient-profile/internal/tracing"
)

// handle brings one message to a final outcome: applied, stale (or duplicate), or
// dead-lettered. Transient failures are retried in place, so the partition's later messages wait
// behind this one and a patient's order is kept. It returns an error only if ctx is cancelled
// first, in which case the message has no final outcome and must not be committed.
func (c *Consumer) handle(ctx context.Context, m kafka.Message) error {
	// The message may carry its producer's trace context (traceparent); if it does, this
	// handling continues that trace, and the store write below it. Log lines made with ctx
	// carry the trace id.
	ctx, span := tracing.Tracer().Start(tracing.Extract(ctx, m.Headers), m.Topic+" process",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", m.Topic),
			attribute.Int("messaging.destination.partition.id", m.Partition),
			attribute.Int64("messaging.kafka.offset", m.Offset),
		))
	defer span.End()
	e, err := decodeMessage(m, time.Now(), c.cfg.MaxClockSkew)
	if err != nil {
		span.SetAttributes(attribute.String("outcome", "dead_lettered"))
		return c.deadLetter(ctx, m, err)
	}
	span.SetAttributes(attribute.String("messaging.message.id", e.EventID))
	var applied bool
	err = c.retry(ctx, m, "put", c.cfg.Permanent, func(ctx context.Context) error {
		var err error
		applied, err = c.store.Put(ctx, e)
		return err
	})
	switch {
	case errors.Is(err, errShutdown):
		span.SetStatus(codes.Error, "abandoned at shutdown")
		return err
	case err != nil:
		return c.deadLetter(ctx, m, err)
	case applied:
		c.applied.Add(1)
		span.SetAttributes(attribute.String("outcome", "applied"))
	default:
		c.stale.Add(1)
		span.SetAttributes(attribute.String("outcome", "stale"))
	}
	c.logger.DebugContext(ctx, "handled", slog.String("topic", m.Topic), slog.Int("partition", m.Partition), slog.Int64("offset", m.Offset),
		slog.String("patient_id", e.PatientID), slog.String("event_id", e.EventID), slog.Bool("applied", applied))
	return nil
}

// deadLetter parks m with the reason. The publish is retried until it succeeds: if it failed and
// the offset were committed anyway, the event would be lost.
func (c *Consumer) deadLetter(ctx context.Context, m kafka.Message, reason error) error {
	if err := c.retry(ctx, m, "dead-letter", never, func(ctx context.Context) error { return c.dlq.Send(ctx, m, reason) }); err != nil {
		return err
	}
	c.deadLettered.Add(1)
	why := deadLetterReason(reason)
	c.deadLetters[why].Add(1)
	c.logger.WarnContext(ctx, "dead-lettered", slog.String("topic", m.Topic), slog.Int("partition", m.Partition), slog.Int64("offset", m.Offset),
		slog.String("reason", why), slog.String("error", reason.Error()))
	return nil
}

// never is the permanence filter of a dead-letter publish: giving up on one would lose the
// event.
func never(error) bool { return false }

// retry calls fn until it succeeds, fails permanently, or ctx is cancelled. Each attempt gets
// AttemptTimeout and is not cut short by ctx, so a write in flight at shutdown completes rather
// than leaving its outcome unknown.
func (c *Consumer) retry(ctx context.Context, m kafka.Message, op string, permanent func(error) bool, fn func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.AttemptTimeout)
		err := fn(actx)
		cancel()
		if err == nil || permanent(err) {
			return err
		}
		if attempt == 0 {
			// Cleared however this ends: success, a permanent failure, or shutdown.
			defer c.health.setFailing(m.Partition, nil)
		}
		c.health.setFailing(m.Partition, fmt.Errorf("%s: %w", op, err))
		c.retries.Add(1)
		wait := backoff(attempt, c.cfg.MaxBackoff)
		c.logAttempt(ctx, attempt+1, op+" failed; retrying", slog.String("topic", m.Topic), slog.Int("partition", m.Partition),
			slog.Int64("offset", m.Offset), slog.Duration("wait", wait), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s/%d/%d: %w", op, m.Topic, m.Partition, m.Offset, errShutdown)
		case <-time.After(wait):
		}
	}
}

// backoff is capped exponential backoff with equal jitter: between half and all of
// min(max, 100ms * 2^attempt). The jitter keeps consumers that failed together from retrying
// together; the floor keeps it from spinning.
func backoff(attempt int, max time.Duration) time.Duration {
	d := max
	if attempt < 30 {
		d = min(max, 100*time.Millisecond<<attempt)
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
