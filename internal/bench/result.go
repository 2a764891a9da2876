package bench

import "time"

// What a run measured, as numbers, each with the baselines it is measured against. report.go
// turns them into the table and the chart.

// Result is a run's measurements.
type Result struct {
	// Machine says where it ran: the CPU, the Go version, the load average at the start.
	Machine string
	Setup   Setup
	// Consumer has one entry per store endpoint, loopback first; none with ProducerOnly.
	Consumer []ConsumerResult
	Producer ProducerResult
	// EndToEnd are the producer and the consumer together, at two rates; none with ProducerOnly.
	EndToEnd []EndToEndResult
	// Freshness is the replica's freshness at fixed rates, from the consumer's own histogram;
	// none with ProducerOnly.
	Freshness []FreshnessResult
	// Drain is the memory drain; nil when it was skipped.
	Drain *DrainResult
	// Console is the console's pages on a topic of Messages messages; nil when it was skipped.
	Console *ConsoleResult
}

// Setup is the sizes a run used (from Config).
type Setup struct {
	Events   int
	Delay    time.Duration
	InFlight int
	Conns    int
	Duration time.Duration
}

// ConsumerResult is the consumer on one store endpoint, and its baselines on the same endpoint.
type ConsumerResult struct {
	// Endpoint names the store: "loopback", or "store +5ms" through the delaying proxy.
	Endpoint string
	// Goroutines is the store ceiling's concurrency: the consumer's MAX_IN_FLIGHT.
	Goroutines int
	// CeilingBefore and CeilingAfter are the store ceiling, in writes/s, measured before and
	// after the consumer's workloads.
	CeilingBefore, CeilingAfter float64
	// Naive is the naive consumer's rate on distinct patients, in events/s.
	Naive float64
	// Workloads are the consumer's rates, one per burst size.
	Workloads []Workload
}

// Ceiling is the baseline: the mean of the ceilings before and after, because the table grows,
// and the machine's other load drifts, during the run.
func (c ConsumerResult) Ceiling() float64 { return (c.CeilingBefore + c.CeilingAfter) / 2 }

// Workload is one consumer drain.
type Workload struct {
	// Burst is how many events each patient has, back to back: 1 is distinct patients.
	Burst int
	// Rate is in events/s, from the group's first commit to its last.
	Rate float64
}

// ProducerResult is the producer and its baselines, under the same HTTP load.
type ProducerResult struct {
	// Conns is the closed loops' connections.
	Conns int
	// HTTPCeiling (the real route, a publisher that does nothing), Naive (the naive producer) and
	// Producer are each loaded by the same closed loop.
	HTTPCeiling, Naive, Producer Load
	// OpenLoop is the producer alone, open loop, at OpenLoopRate (half its closed-loop rate).
	OpenLoopRate float64
	OpenLoop     Load
	// Keyed is the producer under the same closed loop with a new Idempotency-Key on every
	// request. KeyCeiling is its baseline: the key table's own rate, in keys/s, for what a keyed
	// request asks of it (a claim and a completion of a new key) from Conns goroutines. Zero when
	// not measured.
	Keyed      Load
	KeyCeiling float64
}

// Load is what an HTTP load measured.
type Load struct {
	// Rate is the answered requests per second.
	Rate     float64
	P50, P99 time.Duration
	// Errors counts the requests that failed.
	Errors int64
}

func loadOf(r loadResult) Load { return Load(r) }

// EndToEndResult is the latency from a POST's 201 to the row holding that event, with the
// producer and the consumer running together under an open loop.
type EndToEndResult struct {
	// At says what Rate is: "half the producer's max", for example.
	At string
	// Rate is the open loop's, in requests/s.
	Rate float64
	// Samples is how many 201s were followed to their row.
	Samples  int
	P50, P99 time.Duration
}

// FreshnessResult is the producer and the consumer together under an open loop at a fixed rate,
// as a service sees it: how old each event was when the consumer applied it, read from the
// consumer's patient_profile_consumer_event_age_seconds histogram (nothing polled), and what the
// two processes used meanwhile, which the Helm chart's requests and limits are taken from.
type FreshnessResult struct {
	// Rate is the open loop's, in requests/s.
	Rate float64
	// Events is how many applied events the histogram counted over the run.
	Events int
	// P50 and P99 are interpolated within the histogram's buckets, as histogram_quantile does.
	P50, P99 time.Duration
	// ProducerCPU and ConsumerCPU are the cores each used, on average, from the first request to
	// the last event applied; ProducerRSS and ConsumerRSS their peak resident memory (VmHWM).
	ProducerCPU, ConsumerCPU float64
	ProducerRSS, ConsumerRSS int64
}

// DrainResult is the consumer's memory while it drains a large backlog.
type DrainResult struct {
	// Events in bursts of Burst per patient.
	Events, Burst int
	// PeakRSS is the consumer's VmHWM at the end, in bytes.
	PeakRSS int64
}

// ConsoleResult is the console's server time per page, from its Server-Timing, and the same reads
// made directly (the baselines), on a topic of Messages messages.
type ConsoleResult struct {
	Messages int64
	// TimelineBound is how many of the partition's newest messages the timeline reads.
	TimelineBound int
	// Overview is the whole page, Poll the shared poll it waited for.
	Overview, Poll, Page, Timeline Quantiles
	// The baselines: the broker and table reads each page makes, made directly.
	BaseOverview, BasePage, BaseTimeline Quantiles
}

// Quantiles of a set of durations.
type Quantiles struct {
	P50, P99 time.Duration
}
