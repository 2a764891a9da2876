package bench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// The one place that turns a run's numbers into what people read: the table's rows, with
// their ratios to the same run's baselines, targets and whether each was met, and the chart.

// Row is one line of the table.
type Row struct {
	Measure, Result, Ratio, Target string
	// Met is "yes", "no", or "" where there is no target.
	Met string
}

// Bar is one pair in the chart: a consumer rate and the store ceiling it is measured against.
type Bar struct {
	Label         string
	Rate, Ceiling float64
	NaiveRate     float64
}

// Rows is the table, in the order the run measures: the consumer per endpoint, the producers,
// end to end, memory.
func (res Result) Rows() []Row {
	var rows []Row
	for _, c := range res.Consumer {
		rows = append(rows, c.rows()...)
	}
	if res.Producer.Conns > 0 { // not measured with FreshnessOnly
		rows = append(rows, res.Producer.rows()...)
	}
	for _, e := range res.EndToEnd {
		rows = append(rows, e.row())
	}
	for _, f := range res.Freshness {
		rows = append(rows, f.rows()...)
	}
	if res.Drain != nil {
		rows = append(rows, res.Drain.row())
	}
	if res.Console != nil {
		rows = append(rows, res.Console.rows()...)
	}
	return rows
}

// Missed reports whether a target was missed.
func (res Result) Missed() bool {
	return slices.ContainsFunc(res.Rows(), func(r Row) bool { return r.Met == "no" })
}

// WriteTable writes the table in markdown, under a line that says when (at), where, and at
// what sizes it ran.
func (res Result) WriteTable(w io.Writer, at time.Time) error {
	s := res.Setup
	table := fmt.Sprintf("`make bench` on %s, %s; %d events per consumer workload, store delay %s, MAX_IN_FLIGHT %d, "+
		"%d HTTP connections for %s.\n\n",
		at.UTC().Format("2006-01-02 15:04 MST"), res.Machine, s.Events, s.Delay, s.InFlight, s.Conns, s.Duration)
	table += "| measure | result | ratio (same run) | target | met |\n|---|---|---|---|---|\n"
	for _, r := range res.Rows() {
		table += fmt.Sprintf("| %s | %s | %s | %s | %s |\n", r.Measure, r.Result, r.Ratio, r.Target, r.Met)
	}
	_, err := io.WriteString(w, table)
	return err
}

// Bars are the chart's: each consumer workload against its store ceiling and naive consumer.
func (res Result) Bars() []Bar {
	var bars []Bar
	for _, c := range res.Consumer {
		for _, wl := range c.Workloads {
			bars = append(bars, Bar{Label: fmt.Sprintf("%s, %s", wl.what(), c.Endpoint),
				Rate: wl.Rate, Ceiling: c.Ceiling(), NaiveRate: c.Naive})
		}
	}
	return bars
}

// WriteChart draws the chart of Bars as a PNG.
func (res Result) WriteChart(w io.Writer) error {
	title := fmt.Sprintf("consumer vs store ceiling (%d events per workload, MAX_IN_FLIGHT %d)",
		res.Setup.Events, res.Setup.InFlight)
	return drawChart(w, title, res.Bars())
}

func (c ConsumerResult) rows() []Row {
	ceiling := c.Ceiling()
	rows := []Row{
		{
			Measure: fmt.Sprintf("store ceiling, %s: %d goroutines, conditional PutItem", c.Endpoint, c.Goroutines),
			Result: fmt.Sprintf("%s writes/s (%s before the consumer, %s after)",
				num(ceiling), num(c.CeilingBefore), num(c.CeilingAfter)),
			Ratio: "1.00x (baseline)",
		},
		{
			Measure: fmt.Sprintf("naive consumer (fetch, put, commit), distinct patients, %s", c.Endpoint),
			Result:  fmt.Sprintf("%s events/s", num(c.Naive)),
			Ratio:   ratio(c.Naive, ceiling, "store ceiling"),
		},
	}
	for _, wl := range c.Workloads {
		// Bursts of one patient's events coalesce, so the consumer should beat the store there.
		target, want := "≥ 0.9x store ceiling", 0.9
		if wl.Burst > 1 {
			target, want = "≥ 3x store ceiling", 3.0
		}
		rows = append(rows, Row{
			Measure: fmt.Sprintf("consumer, %s, %s", wl.what(), c.Endpoint),
			Result:  fmt.Sprintf("%s events/s", num(wl.Rate)),
			Ratio:   ratio(wl.Rate, ceiling, "store ceiling") + "; " + ratio(wl.Rate, c.Naive, "naive consumer"),
			Target:  target, Met: met(wl.Rate/ceiling >= want),
		})
	}
	return rows
}

func (wl Workload) what() string {
	if wl.Burst > 1 {
		return fmt.Sprintf("bursts of %d per patient", wl.Burst)
	}
	return "distinct patients"
}

func (p ProducerResult) rows() []Row {
	producer, naive, ceiling := p.Producer.Rate, p.Naive.Rate, p.HTTPCeiling.Rate
	rows := []Row{
		{
			Measure: fmt.Sprintf("HTTP ceiling: the same route, a publisher that does nothing (%d connections)",
				p.Conns),
			Result: rateAndP99(p.HTTPCeiling), Ratio: "1.00x (baseline)",
		},
		{
			Measure: "naive producer: one shared Writer, BatchTimeout 1 ms, no validation, metrics or logs",
			Result:  rateAndP99(p.Naive), Ratio: ratio(naive, ceiling, "HTTP ceiling"),
		},
		{
			Measure: "producer", Result: rateAndP99(p.Producer),
			Ratio:  ratio(producer, naive, "naive producer") + "; " + ratio(producer, ceiling, "HTTP ceiling"),
			Target: "≥ 0.8x naive producer", Met: met(producer >= 0.8*naive),
		},
		{
			Measure: fmt.Sprintf("producer at half its max rate, open loop (%s req/s)", num(p.OpenLoopRate)),
			Result:  fmt.Sprintf("p50 %s, p99 %s", ms(p.OpenLoop.P50), ms(p.OpenLoop.P99)),
			Target:  "p99 ≤ 10 ms", Met: met(p.OpenLoop.Errors == 0 && p.OpenLoop.P99 <= 10*time.Millisecond),
		},
	}
	if p.Keyed.Rate == 0 {
		return rows
	}
	keyed := p.Keyed.Rate
	return append(rows,
		Row{
			Measure: fmt.Sprintf("key table ceiling: %d goroutines, a claim and a completion per new key "+
				"(the two conditional writes of a keyed request)", p.Conns),
			Result: fmt.Sprintf("%s keys/s", num(p.KeyCeiling)), Ratio: "1.00x (baseline)",
		},
		Row{
			Measure: "producer, a new Idempotency-Key on every request",
			Result:  rateAndP99(p.Keyed),
			Ratio: ratio(keyed, producer, "producer without keys") + "; " +
				ratio(keyed, p.KeyCeiling, "key table ceiling"),
			Target: "≥ 0.5x producer without keys", Met: met(keyed >= 0.5*producer),
		},
	)
}

func (e EndToEndResult) row() Row {
	return Row{
		Measure: fmt.Sprintf("end to end, open loop at %s (%s req/s): the POST's 201 to the row readable (%d samples)",
			e.At, num(e.Rate), e.Samples),
		Result: fmt.Sprintf("p50 %s, p99 %s", ms(e.P50), ms(e.P99)),
		Target: "p99 ≤ 50 ms", Met: met(e.Samples > 0 && e.P99 <= 50*time.Millisecond),
	}
}

func (f FreshnessResult) rows() []Row {
	return []Row{
		{
			Measure: fmt.Sprintf("freshness at %s req/s, open loop: an event's age when applied, from the consumer's "+
				"histogram (%d events)", num(f.Rate), f.Events),
			Result: fmt.Sprintf("p50 %s, p99 %s", ms(f.P50), ms(f.P99)),
			Target: "p99 ≤ 50 ms", Met: met(f.Events > 0 && f.P99 <= 50*time.Millisecond),
		},
		{
			Measure: fmt.Sprintf("resources at %s req/s: CPU (cores, on average) and peak RSS", num(f.Rate)),
			Result: fmt.Sprintf("producer %.2f cores, %s; consumer %.2f cores, %s",
				f.ProducerCPU, mb(f.ProducerRSS), f.ConsumerCPU, mb(f.ConsumerRSS)),
		},
	}
}

func (d DrainResult) row() Row {
	return Row{
		Measure: fmt.Sprintf("consumer peak RSS (VmHWM), draining %s events in bursts of %d",
			num(float64(d.Events)), d.Burst),
		Result: mb(d.PeakRSS),
		Target: "≤ 150 MB", Met: met(d.PeakRSS <= 150<<20),
	}
}

func mb(bytes int64) string { return fmt.Sprintf("%.0f MB", float64(bytes)/(1<<20)) }

func rateAndP99(l Load) string { return fmt.Sprintf("%s req/s, p99 %s", num(l.Rate), ms(l.P99)) }

// num rounds v to a whole number with thousands separators.
func num(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func ratio(v, base float64, name string) string {
	if base == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx %s", v/base, name)
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// consoleTarget is the most server time a console page may take: the bound on the
// overview, held for every page.
const consoleTarget = 100 * time.Millisecond

func (c ConsoleResult) rows() []Row {
	row := func(measure string, q, base Quantiles) Row {
		return Row{
			Measure: measure,
			Result:  fmt.Sprintf("p50 %s, p99 %s server time", ms(q.P50), ms(q.P99)),
			Ratio:   ratio(q.P50.Seconds(), base.P50.Seconds(), "the same reads made directly"),
			Target:  "p99 ≤ " + ms(consoleTarget), Met: met(q.P99 <= consoleTarget),
		}
	}
	n := num(float64(c.Messages))
	return []Row{
		row(fmt.Sprintf("console overview, %s messages on the topic (offsets and group state; the shared poll p50 %s)",
			n, ms(c.Poll.P50)), c.Overview, c.BaseOverview),
		row(fmt.Sprintf("console messages page, 50 of %s messages", n), c.Page, c.BasePage),
		row(fmt.Sprintf("console patient timeline, the newest %s messages of its partition",
			num(float64(c.TimelineBound))), c.Timeline, c.BaseTimeline),
	}
}
