package console

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/ankitamadan/patient-profile/internal/audit"
	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/problem"
	"github.com/ankitamadan/patient-profile/internal/replay"
)

// deadLetterPage is how many dead letters the list shows: the newest, over every partition.
const deadLetterPage = 100

type deadLettersPage struct {
	Topic       broker.Topic
	Total       int64
	DeadLetters []shownMessage
	PageSize    int
}

// handleDeadLetters lists the newest dead letters of every partition of the dead-letter topic,
// with why each was parked and where it came from, for choosing which to replay.
func (c *Console) handleDeadLetters() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := c.topic(r.Context(), c.cfg.DLQTopic)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		pg := deadLettersPage{Topic: t, Total: t.Messages(), PageSize: deadLetterPage}
		for _, p := range t.Partitions {
			from := max(p.First, p.End-deadLetterPage)
			err := c.deps.Kafka.ReadPartition(r.Context(), t.Name, p.ID, from, p.End, func(m message.Message) error {
				pg.DeadLetters = append(pg.DeadLetters, showMessage(m, c.cfg.DLQTopic))
				return nil
			})
			if err != nil {
				c.fail(w, r, unavailable("the broker", err))
				return
			}
		}
		slices.SortStableFunc(pg.DeadLetters, func(a, b shownMessage) int { return b.Time.Compare(a.Time) })
		pg.DeadLetters = pg.DeadLetters[:min(len(pg.DeadLetters), deadLetterPage)]
		at := []string{"none"}
		if len(pg.DeadLetters) > 0 {
			at = at[:0]
		}
		for _, d := range pg.DeadLetters {
			at = append(at, strconv.Itoa(d.Partition)+"/"+strconv.FormatInt(d.Offset, 10))
		}
		audit.Log(r.Context(), c.logger, who(r.Context()), "deadletters",
			slog.String("messages", t.Name+" "+strings.Join(at, ",")))
		c.render(w, r, http.StatusOK, "deadletters", view{Title: "Dead letters", Nav: "deadletters", Data: pg})
	})
}

type replayPage struct {
	// Chosen are the dead letters, as partition:offset of the dead-letter topic.
	Chosen  []string
	DryRun  bool
	Lines   []string
	Summary replay.Summary
	Err     string
}

// handleReplay replays the chosen dead letters through replay.Run, the code cmd/replay-dlq runs:
// first as a dry run that publishes nothing and says what would be replayed, and only with
// confirm=yes for real. It reads only the chosen dead letters.
func (c *Console) handleReplay() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.access.checkWrite(r); err != nil {
			c.fail(w, r, err)
			return
		}
		chosen, err := chosenDeadLetters(r.PostForm["dl"])
		if err != nil {
			c.fail(w, r, err)
			return
		}
		pg := replayPage{DryRun: r.PostFormValue("confirm") != "yes"}
		for _, at := range chosen {
			pg.Chosen = append(pg.Chosen, fmt.Sprintf("%d:%d", at.Partition, at.Offset))
		}
		var out bytes.Buffer
		read := func(ctx context.Context, fn func(message.Message) error) error {
			for _, at := range chosen {
				msgs, err := c.deps.Kafka.ReadRange(ctx, c.cfg.DLQTopic, at.Partition, at.Offset, at.Offset+1)
				if err != nil {
					return err
				}
				for _, m := range msgs {
					if err := fn(m); err != nil {
						return err
					}
				}
			}
			return nil
		}
		rc := replay.Config{Topic: c.cfg.Topic, Filter: replay.All, DryRun: pg.DryRun}
		pg.Summary, err = replay.Run(r.Context(), rc, read, c.deps.Replay, &out)
		if err != nil {
			pg.Err = err.Error()
		}
		pg.Lines = strings.Split(strings.TrimSpace(out.String()), "\n")
		audit.Log(r.Context(), c.logger, who(r.Context()), "replay", slog.Bool("dry_run", pg.DryRun),
			slog.String("messages", c.cfg.DLQTopic+" "+strings.Join(pg.Chosen, ",")))
		title := "Replay"
		if pg.DryRun {
			title = "Replay: dry run"
		}
		c.render(w, r, http.StatusOK, "replay", view{Title: title, Nav: "deadletters", Data: pg})
	})
}

// chosenDeadLetters reads the form's choices, each "partition:offset" of the dead-letter topic.
func chosenDeadLetters(values []string) ([]message.Coordinates, error) {
	if len(values) == 0 {
		return nil, problem.InvalidField("choose at least one dead letter", "dl", "no dead letter was chosen")
	}
	if len(values) > deadLetterPage {
		return nil, problem.InvalidField("too many dead letters at once", "dl",
			fmt.Sprintf("choose at most %d", deadLetterPage))
	}
	var out []message.Coordinates
	for _, v := range values {
		ps, os, ok := strings.Cut(v, ":")
		p, perr := strconv.Atoi(ps)
		o, oerr := strconv.ParseInt(os, 10, 64)
		if !ok || perr != nil || oerr != nil || p < 0 || o < 0 {
			return nil, problem.InvalidField("a chosen dead letter is not partition:offset", "dl",
				"must be partition:offset, two whole numbers")
		}
		out = append(out, message.Coordinates{Partition: p, Offset: o})
	}
	return out, nil
}
