package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/message"
)

// consoleSamples is how many times each console page is asked for.
const consoleSamples = 30

// consoleTimeline is the console's CONSOLE_TIMELINE_MESSAGES here: its default.
const consoleTimeline = 1000

// console measures the console binary's pages on topic, which holds messages messages and the
// group's committed offsets (the drain's): the server time each page's Server-Timing reports,
// against the same reads made directly in this process, in the same run.
func (r *runner) console(ctx context.Context, topic, group string, messages int64) (*ConsoleResult, error) {
	port, err := devenv.FreePort()
	if err != nil {
		return nil, err
	}
	s := r.stack
	p, err := devenv.Start("console", r.cfg.BinDir+"/console", []string{
		"CONSOLE_PORT=" + strconv.Itoa(port), "KAFKA_BROKERS=" + s.Brokers[0], "TOPIC_NAME=" + topic,
		"DLQ_TOPIC=" + s.DLQTopic, "CONSUMER_GROUP=" + group, "DDB_HOST=" + s.Dynalite.Endpoint(),
		"DDB_NAME=" + s.Table,
		"CONSOLE_REFRESH=100ms", "LOG_LEVEL=warn",
		// No producer or consumer runs: their checks are refused at once, as for a service that is down.
		"CONSOLE_PRODUCER_URL=http://127.0.0.1:1", "CONSOLE_CONSUMER_URL=http://127.0.0.1:1",
	}, r.cfg.Logs)
	if err != nil {
		return nil, err
	}
	defer func() { _ = p.Stop(devenv.StopGrace) }()
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = devenv.WaitHealthy(hctx, p, port)
	cancel()
	if err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	patient := event(topic, 0, 0).PatientID
	partition := broker.PartitionOf([]byte(patient), devenv.Partitions)
	res := &ConsoleResult{Messages: messages, TimelineBound: consoleTimeline}
	ts, err := broker.Topics(ctx, s.Cluster(), topic)
	if err != nil {
		return nil, err
	}
	end := ts[0].Partitions[partition].End

	var overview, poll, page, timeline, baseOverview, basePage, baseTimeline []time.Duration
	for i := range consoleSamples {
		// Past the refresh interval, so that each overview waits for a poll of its own.
		time.Sleep(150 * time.Millisecond)
		timings, err := serverTiming(ctx, base+"/")
		if err != nil {
			return nil, err
		}
		overview, poll = append(overview, timings["app"]), append(poll, timings["poll"])
		offset := (end - 1) * int64(i) / consoleSamples
		if timings, err = serverTiming(ctx, fmt.Sprintf("%s/topics/%s/partitions/%d?offset=%d", base, topic, partition,
			offset)); err != nil {
			return nil, err
		}
		page = append(page, timings["app"])
		if timings, err = serverTiming(ctx, base+"/patients/"+patient); err != nil {
			return nil, err
		}
		timeline = append(timeline, timings["app"])

		// The reads alone, as the pages make them.
		start := time.Now()
		if _, err := broker.Topics(ctx, s.Cluster(), topic, s.DLQTopic); err != nil {
			return nil, err
		}
		if _, err := broker.DescribeGroup(ctx, s.Cluster(), group, topic); err != nil {
			return nil, err
		}
		baseOverview = append(baseOverview, time.Since(start))
		start = time.Now()
		if _, err := broker.Topics(ctx, s.Cluster(), topic); err != nil {
			return nil, err
		}
		if _, err := broker.ReadRange(ctx, s.Cluster(), topic, partition, max(0, offset-49), offset+1); err != nil {
			return nil, err
		}
		basePage = append(basePage, time.Since(start))
		start = time.Now()
		if err := r.timelineReads(ctx, topic, group, patient, partition, end); err != nil {
			return nil, err
		}
		baseTimeline = append(baseTimeline, time.Since(start))
	}
	res.Overview, res.Poll, res.Page, res.Timeline = quantiles(overview), quantiles(poll), quantiles(page),
		quantiles(timeline)
	res.BaseOverview, res.BasePage, res.BaseTimeline = quantiles(baseOverview), quantiles(basePage),
		quantiles(baseTimeline)
	return res, nil
}

// timelineReads are the reads a timeline makes: the topics' offsets, the newest consoleTimeline
// messages of the patient's partition and of their dead-letter partition, the row and the group.
func (r *runner) timelineReads(ctx context.Context, topic, group, patient string, partition int, end int64) error {
	s := r.stack
	ts, err := broker.Topics(ctx, s.Cluster(), topic, s.DLQTopic)
	if err != nil {
		return err
	}
	none := func(message.Message) error { return nil }
	if err := broker.ReadPartition(ctx, s.Cluster(), topic, partition, max(0, end-consoleTimeline), end,
		none); err != nil {
		return err
	}
	dlq := ts[1].Partitions[broker.PartitionOf([]byte(patient), len(ts[1].Partitions))]
	if err := broker.ReadPartition(ctx, s.Cluster(), s.DLQTopic, dlq.ID, max(dlq.First, dlq.End-consoleTimeline),
		dlq.End, none); err != nil {
		return err
	}
	if _, _, err := s.Store.Get(ctx, patient); err != nil {
		return err
	}
	_, err = broker.DescribeGroup(ctx, s.Cluster(), group, topic)
	return err
}

func quantiles(ds []time.Duration) Quantiles {
	slices.Sort(ds)
	return Quantiles{P50: ds[len(ds)/2], P99: ds[min(len(ds)-1, len(ds)*99/100)]}
}

// serverTiming asks for url and returns the durations its Server-Timing header reports, by name.
func serverTiming(ctx context.Context, url string) (map[string]time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("console request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("console %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("console %s: status %d", url, resp.StatusCode)
	}
	out := map[string]time.Duration{}
	for _, h := range resp.Header.Values("Server-Timing") {
		for metric := range strings.SplitSeq(h, ",") {
			name, rest, _ := strings.Cut(strings.TrimSpace(metric), ";dur=")
			if ms, err := strconv.ParseFloat(rest, 64); err == nil {
				out[name] = time.Duration(ms * float64(time.Millisecond))
			}
		}
	}
	if _, ok := out["app"]; !ok {
		return nil, fmt.Errorf("console %s: no Server-Timing", url)
	}
	return out, nil
}
