package bench

import (
	"bytes"
	"image/png"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The report from fixed numbers: no stack, no binaries.

func us(n int64) time.Duration { return time.Duration(n) * time.Microsecond }

// docsRun holds unrounded numbers that give testdata/table.md (docs/bench.md's table then).
func docsRun() Result {
	return Result{
		Machine: "AMD EPYC, 2 CPUs, go1.26.8, linux/amd64, load average 2.39 1.81 1.40",
		Setup:   Setup{Events: 20000, Delay: 5 * time.Millisecond, InFlight: 64, Conns: 64, Duration: 5 * time.Second},
		Consumer: []ConsumerResult{
			{Endpoint: "loopback", Goroutines: 64, CeilingBefore: 6317, CeilingAfter: 7559, Naive: 2170.4,
				Workloads: []Workload{{Burst: 1, Rate: 6573}, {Burst: 10, Rate: 66009}}},
			{Endpoint: "store +5ms", Goroutines: 64, CeilingBefore: 4915.6, CeilingAfter: 4798.6, Naive: 162.165,
				Workloads: []Workload{{Burst: 1, Rate: 4230.3}, {Burst: 10, Rate: 36299}}},
		},
		Producer: ProducerResult{
			Conns:        64,
			HTTPCeiling:  Load{Rate: 38369, P99: us(7350)},
			Naive:        Load{Rate: 34771, P99: us(4610)},
			Producer:     Load{Rate: 22170.8, P99: us(6850)},
			OpenLoopRate: 11085.4, OpenLoop: Load{P50: us(2280), P99: us(6000)},
		},
		EndToEnd: []EndToEndResult{
			{At: "half the producer's max", Rate: 11085.4, Samples: 1007, P50: us(6606000), P99: us(8372820)},
			{At: "half the consumer's rate on distinct patients", Rate: 3286.4, Samples: 1026, P50: us(5080), P99: us(27890)},
		},
		Drain: &DrainResult{Events: 1000000, Burst: 10, PeakRSS: 53 << 20},
	}
}

// testdata/table.md is docs/bench.md as `make bench` wrote it before measuring and formatting
// were separated: the same numbers must still read the same, row for row.
func TestWriteTable(t *testing.T) {
	want, err := os.ReadFile("testdata/table.md")
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, docsRun().WriteTable(&b, time.Date(2026, 11, 27, 4, 26, 59, 0, time.UTC)))
	assert.Equal(t, string(want), b.String())
}

func TestRowsLeaveOutWhatWasNotMeasured(t *testing.T) {
	all := docsRun()
	producerOnly := all
	producerOnly.Consumer, producerOnly.EndToEnd, producerOnly.Drain = nil, nil, nil
	noDrain := all
	noDrain.Drain = nil
	freshnessOnly := Result{Freshness: []FreshnessResult{{Rate: 100}, {Rate: 1000}}}

	tests := []struct {
		name  string
		res   Result
		first string
		n     int
	}{
		{"everything", all, "store ceiling, loopback: 64 goroutines, conditional PutItem", 15},
		{"producer only", producerOnly, "HTTP ceiling: the same route, a publisher that does nothing (64 connections)", 4},
		{"no drain", noDrain, "store ceiling, loopback: 64 goroutines, conditional PutItem", 14},
		{"freshness only", freshnessOnly, "freshness at 100 req/s, open loop: an event's age when applied, " +
			"from the consumer's histogram (0 events)", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := tt.res.Rows()
			require.Len(t, rows, tt.n)
			assert.Equal(t, tt.first, rows[0].Measure)
		})
	}
}

func TestConsumerRows(t *testing.T) {
	tests := []struct {
		name          string
		c             ConsumerResult
		distinct      Row
		bursts        Row
		ceilingResult string
	}{
		{
			name: "both targets met, exactly at the bound",
			c: ConsumerResult{Endpoint: "loopback", Goroutines: 8, CeilingBefore: 900, CeilingAfter: 1100, Naive: 250,
				Workloads: []Workload{{Burst: 1, Rate: 900}, {Burst: 10, Rate: 3000}}},
			distinct: Row{Measure: "consumer, distinct patients, loopback", Result: "900 events/s",
				Ratio: "0.90x store ceiling; 3.60x naive consumer", Target: "≥ 0.9x store ceiling", Met: "yes"},
			bursts: Row{Measure: "consumer, bursts of 10 per patient, loopback", Result: "3,000 events/s",
				Ratio: "3.00x store ceiling; 12.00x naive consumer", Target: "≥ 3x store ceiling", Met: "yes"},
			ceilingResult: "1,000 writes/s (900 before the consumer, 1,100 after)",
		},
		{
			name: "both missed, just below",
			c: ConsumerResult{Endpoint: "store +5ms", Goroutines: 8, CeilingBefore: 1000, CeilingAfter: 1000, Naive: 100,
				Workloads: []Workload{{Burst: 1, Rate: 899}, {Burst: 4, Rate: 2999}}},
			distinct: Row{Measure: "consumer, distinct patients, store +5ms", Result: "899 events/s",
				Ratio: "0.90x store ceiling; 8.99x naive consumer", Target: "≥ 0.9x store ceiling", Met: "no"},
			bursts: Row{Measure: "consumer, bursts of 4 per patient, store +5ms", Result: "2,999 events/s",
				Ratio: "3.00x store ceiling; 29.99x naive consumer", Target: "≥ 3x store ceiling", Met: "no"},
			ceilingResult: "1,000 writes/s (1,000 before the consumer, 1,000 after)",
		},
		{
			name: "no baseline measured: no ratio",
			c:    ConsumerResult{Endpoint: "loopback", Workloads: []Workload{{Burst: 1, Rate: 0}, {Burst: 10, Rate: 0}}},
			distinct: Row{Measure: "consumer, distinct patients, loopback", Result: "0 events/s",
				Ratio: "n/a; n/a", Target: "≥ 0.9x store ceiling", Met: "no"},
			bursts: Row{Measure: "consumer, bursts of 10 per patient, loopback", Result: "0 events/s",
				Ratio: "n/a; n/a", Target: "≥ 3x store ceiling", Met: "no"},
			ceilingResult: "0 writes/s (0 before the consumer, 0 after)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := tt.c.rows()
			require.Len(t, rows, 4)
			assert.Equal(t, "1.00x (baseline)", rows[0].Ratio)
			assert.Equal(t, tt.ceilingResult, rows[0].Result)
			assert.Empty(t, rows[1].Target, "the naive consumer is a baseline, with no target")
			assert.Equal(t, tt.distinct, rows[2])
			assert.Equal(t, tt.bursts, rows[3])
		})
	}
}

func TestProducerRows(t *testing.T) {
	base := ProducerResult{
		Conns: 4, HTTPCeiling: Load{Rate: 10000}, Naive: Load{Rate: 7500}, Producer: Load{Rate: 6000},
		OpenLoopRate: 3000, OpenLoop: Load{P50: time.Millisecond, P99: 10 * time.Millisecond},
	}
	tests := []struct {
		name     string
		change   func(*ProducerResult)
		ratio    string
		met      string
		openLoop string
	}{
		{"at the bound", func(*ProducerResult) {}, "0.80x naive producer; 0.60x HTTP ceiling", "yes", "yes"},
		{"below 0.8x naive", func(p *ProducerResult) { p.Naive.Rate = 7501 },
			"0.80x naive producer; 0.60x HTTP ceiling", "no", "yes"},
		{"open loop p99 over 10 ms", func(p *ProducerResult) { p.OpenLoop.P99 += time.Microsecond },
			"0.80x naive producer; 0.60x HTTP ceiling", "yes", "no"},
		{"open loop with errors", func(p *ProducerResult) { p.OpenLoop.Errors = 1 },
			"0.80x naive producer; 0.60x HTTP ceiling", "yes", "no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			tt.change(&p)
			rows := p.rows()
			require.Len(t, rows, 4)
			assert.Equal(t, "HTTP ceiling: the same route, a publisher that does nothing (4 connections)", rows[0].Measure)
			assert.Equal(t, "producer", rows[2].Measure)
			assert.Equal(t, tt.ratio, rows[2].Ratio)
			assert.Equal(t, "≥ 0.8x naive producer", rows[2].Target)
			assert.Equal(t, tt.met, rows[2].Met, "producer")
			assert.Equal(t, "producer at half its max rate, open loop (3,000 req/s)", rows[3].Measure)
			assert.Equal(t, "p99 ≤ 10 ms", rows[3].Target)
			assert.Equal(t, tt.openLoop, rows[3].Met, "open loop")
		})
	}
}

// The keyed producer's rows come after the others, and only when it was measured.
func TestKeyedProducerRows(t *testing.T) {
	base := ProducerResult{
		Conns: 4, HTTPCeiling: Load{Rate: 10000}, Naive: Load{Rate: 7500}, Producer: Load{Rate: 6000},
		OpenLoopRate: 3000, OpenLoop: Load{P50: time.Millisecond, P99: 10 * time.Millisecond},
		Keyed: Load{Rate: 3000, P99: us(20500)}, KeyCeiling: 3750,
	}
	tests := []struct {
		name    string
		change  func(*ProducerResult)
		ceiling string
		ratio   string
		met     string
	}{
		{"at the bound", func(*ProducerResult) {}, "3,750 keys/s",
			"0.50x producer without keys; 0.80x key table ceiling", "yes"},
		{"below it", func(p *ProducerResult) { p.Keyed.Rate = 2999 }, "3,750 keys/s",
			"0.50x producer without keys; 0.80x key table ceiling", "no"},
		{"no ceiling", func(p *ProducerResult) { p.KeyCeiling = 0 }, "0 keys/s", "0.50x producer without keys; n/a", "yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			tt.change(&p)
			rows := p.rows()
			require.Len(t, rows, 6)
			assert.Equal(t, "key table ceiling: 4 goroutines, a claim and a completion per new key "+
				"(the two conditional writes of a keyed request)", rows[4].Measure)
			assert.Equal(t, tt.ceiling, rows[4].Result)
			assert.Equal(t, "producer, a new Idempotency-Key on every request", rows[5].Measure)
			assert.Equal(t, tt.ratio, rows[5].Ratio)
			assert.Equal(t, "≥ 0.5x producer without keys", rows[5].Target)
			assert.Equal(t, tt.met, rows[5].Met)
		})
	}
	unmeasured := base
	unmeasured.Keyed = Load{}
	assert.Len(t, unmeasured.rows(), 4)
}

func TestEndToEndAndDrainRows(t *testing.T) {
	tests := []struct {
		name   string
		row    Row
		result string
		met    string
	}{
		{"end to end at the bound", EndToEndResult{Samples: 10, P50: us(1500), P99: 50 * time.Millisecond}.row(),
			"p50 1.50 ms, p99 50.00 ms", "yes"},
		{"end to end over it", EndToEndResult{Samples: 10, P99: 50*time.Millisecond + time.Microsecond}.row(),
			"p50 0.00 ms, p99 50.00 ms", "no"},
		{"end to end with no row ever seen", EndToEndResult{}.row(), "p50 0.00 ms, p99 0.00 ms", "no"},
		{"memory at the bound", DrainResult{Events: 100, Burst: 1, PeakRSS: 150 << 20}.row(), "150 MB", "yes"},
		{"memory over it", DrainResult{Events: 100, Burst: 1, PeakRSS: 150<<20 + 1}.row(), "150 MB", "no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.result, tt.row.Result)
			assert.Equal(t, tt.met, tt.row.Met)
		})
	}
}

func TestMissed(t *testing.T) {
	met := docsRun()
	met.Producer.Producer.Rate = 60000
	met.Consumer[1].Workloads[0].Rate = 4500
	met.EndToEnd = met.EndToEnd[1:]
	tests := []struct {
		name string
		res  Result
		want bool
	}{
		{"the docs' run missed three", docsRun(), true},
		{"every target met", met, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.res.Missed())
		})
	}
}

func TestWriteChart(t *testing.T) {
	res := docsRun()
	bars := res.Bars()
	assert.Equal(t, []Bar{
		{Label: "distinct patients, loopback", Rate: 6573, Ceiling: 6938, NaiveRate: 2170.4},
		{Label: "bursts of 10 per patient, loopback", Rate: 66009, Ceiling: 6938, NaiveRate: 2170.4},
		{Label: "distinct patients, store +5ms", Rate: 4230.3, Ceiling: 4857.1, NaiveRate: 162.165},
		{Label: "bursts of 10 per patient, store +5ms", Rate: 36299, Ceiling: 4857.1, NaiveRate: 162.165},
	}, roundCeilings(bars))

	var b bytes.Buffer
	require.NoError(t, res.WriteChart(&b))
	img, err := png.Decode(&b)
	require.NoError(t, err)
	assert.Equal(t, 60+78*len(bars)+40, img.Bounds().Dy(), "one group of bars per workload")
}

// roundCeilings rounds the averaged ceilings to what float arithmetic makes of them.
func roundCeilings(bars []Bar) []Bar {
	for i := range bars {
		bars[i].Ceiling = float64(int64(bars[i].Ceiling*10+0.5)) / 10
	}
	return bars
}

func TestFigures(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"num rounds", num(999.6), "1,000"},
		{"num zero", num(0), "0"},
		{"num groups thousands", num(1234567), "1,234,567"},
		{"num below a thousand", num(999.4), "999"},
		{"ratio", ratio(1, 3, "naive"), "0.33x naive"},
		{"ratio to nothing", ratio(1, 0, "naive"), "n/a"},
		{"ms", ms(us(1234)), "1.23 ms"},
		{"ms of seconds", ms(2 * time.Second), "2000.00 ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}

func TestFreshnessRows(t *testing.T) {
	f := FreshnessResult{Rate: 1000, Events: 10000, P50: us(4200), P99: us(23750),
		ProducerCPU: 0.184, ConsumerCPU: 0.2449, ProducerRSS: 21 << 20, ConsumerRSS: 30<<20 + 1}
	rows := f.rows()
	require.Len(t, rows, 2)
	assert.Equal(t, Row{
		Measure: "freshness at 1,000 req/s, open loop: an event's age when applied, from the consumer's histogram (10000 events)",
		Result:  "p50 4.20 ms, p99 23.75 ms", Target: "p99 ≤ 50 ms", Met: "yes",
	}, rows[0])
	assert.Equal(t, "producer 0.18 cores, 21 MB; consumer 0.24 cores, 30 MB", rows[1].Result)
	assert.Equal(t, "no", FreshnessResult{Rate: 100}.rows()[0].Met, "no event counted")
	assert.Equal(t, "no", FreshnessResult{Rate: 100, Events: 5, P99: 51 * time.Millisecond}.rows()[0].Met)
}
