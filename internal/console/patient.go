package console

import (
	"context"
	"log/slog"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/ankitamadan/patient-profile/internal/audit"
	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/problem"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// Outcome is what happened, or will happen, to one event of a timeline.
type Outcome struct {
	// Class is short, for the page's styling: applied, older, newer, pending, dead, tombstone.
	Class string
	Text  string
}

// entry is one event of a patient's timeline.
type entry struct {
	Message shownMessage
	// Kind is "update", "deletion", "Kafka tombstone" or "not an event".
	Kind    string
	Event   profile.Event
	Decoded bool
	Outcome Outcome
}

type patientPage struct {
	PatientID string
	Topic     broker.Topic
	Partition broker.Partition
	// From and To are the offsets read, [From, To); Read how many messages that was.
	From, To int64
	Read     int
	Entries  []entry
	// Committed is the group's committed offset on the partition, -1 if none.
	Committed int64
	Row       profile.Event
	HasRow    bool
	// DeadLetters are the patient's, newest first, from the newest Limit of their dead-letter
	// partition (DLQPartition, offsets DLQFrom to DLQTo).
	DeadLetters        []shownMessage
	DLQPartition       int
	DLQFrom, DLQTo     int64
	Limit              int
	DLQErr, GroupErr   string
	RowOrderKey, Error string
}

// handlePatient is a patient's timeline: the newest TimelineMessages messages of the partition
// the patient's key is on, the patient's among them with the outcome the ordering rule gives each
// against the stored row (profile.Compare, the rule itself, not a copy), the patient's dead
// letters, and the row.
func (c *Console) handlePatient() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		if !profile.ValidPatientID(id) {
			c.fail(w, r, problem.InvalidField("the patient id is invalid", "PatientId", profile.PatientIDRule))
			return
		}
		pg, err := c.timeline(r.Context(), id)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		audit.Log(r.Context(), c.logger, who(r.Context()), "patient", slog.String("patient_id", id),
			slog.String("messages", offsets(pg.Topic.Name, pg.Partition.ID, pg.From, pg.To)))
		c.render(w, r, http.StatusOK, "patient", view{Title: "Patient " + id, Nav: "patients", Data: pg})
	})
}

func (c *Console) timeline(ctx context.Context, id string) (patientPage, error) {
	pg := patientPage{PatientID: id, Limit: c.cfg.TimelineMessages, Committed: -1}
	ts, err := c.deps.Kafka.Topics(ctx, c.cfg.Topic, c.cfg.DLQTopic)
	if err != nil {
		return pg, unavailable("the broker", err)
	}
	pg.Topic = ts[0]
	pg.Partition = ts[0].Partitions[broker.PartitionOf([]byte(id), len(ts[0].Partitions))]
	pg.From, pg.To = max(pg.Partition.First, pg.Partition.End-int64(pg.Limit)), pg.Partition.End
	var mine []message.Message
	err = c.deps.Kafka.ReadPartition(ctx, pg.Topic.Name, pg.Partition.ID, pg.From, pg.To,
		func(m message.Message) error {
			pg.Read++
			if string(m.Key) == id {
				mine = append(mine, m)
			}
			return nil
		})
	if err != nil {
		return pg, unavailable("the broker", err)
	}
	pg.Row, pg.HasRow, err = c.deps.Table.Get(ctx, id)
	if err != nil {
		return pg, unavailable("the table", err)
	}
	if pg.HasRow {
		pg.RowOrderKey = pg.Row.OrderKey()
	}
	if g, err := c.deps.Kafka.DescribeGroup(ctx, c.cfg.Group, c.cfg.Topic); err != nil {
		pg.GroupErr = err.Error()
	} else if i := slices.IndexFunc(g.Partitions, func(p broker.GroupPartition) bool {
		return p.ID == pg.Partition.ID
	}); i >= 0 {
		pg.Committed = g.Partitions[i].Committed
	}
	dead := c.deadLettersOf(ctx, ts[1], id, &pg)
	for _, m := range slices.Backward(mine) {
		pg.Entries = append(pg.Entries, c.judge(m, pg, dead))
	}
	return pg, nil
}

// deadLettersOf reads the patient's dead letters from the newest Limit of the dead-letter
// partition their key is on (the consumer parks a message under its own key, with murmur2), and
// returns them by the coordinates of their source.
func (c *Console) deadLettersOf(ctx context.Context, dlq broker.Topic, id string,
	pg *patientPage) map[message.Coordinates]deadletter.DeadLetter {
	p := dlq.Partitions[broker.PartitionOf([]byte(id), len(dlq.Partitions))]
	pg.DLQPartition = p.ID
	pg.DLQFrom, pg.DLQTo = max(p.First, p.End-int64(pg.Limit)), p.End
	bySource := map[message.Coordinates]deadletter.DeadLetter{}
	err := c.deps.Kafka.ReadPartition(ctx, dlq.Name, p.ID, pg.DLQFrom, pg.DLQTo, func(m message.Message) error {
		if string(m.Key) != id {
			return nil
		}
		s := showMessage(m, c.cfg.DLQTopic)
		pg.DeadLetters = append(pg.DeadLetters, s)
		if s.Dead != nil {
			bySource[s.Dead.Source] = *s.Dead
		}
		return nil
	})
	if err != nil {
		pg.DLQErr = err.Error()
	}
	slices.Reverse(pg.DeadLetters)
	return bySource
}

// judge gives one message of the patient its outcome: the ordering rule's verdict against the
// stored row, unless it was dead-lettered, is not yet consumed, or is no event at all.
func (c *Console) judge(m message.Message, pg patientPage, dead map[message.Coordinates]deadletter.DeadLetter) entry {
	en := entry{Message: showMessage(m, c.cfg.DLQTopic)}
	consumed := pg.Committed > m.Offset
	if m.Value == nil {
		en.Kind = "Kafka tombstone"
		en.Outcome = Outcome{"tombstone", "A null value: the consumer commits it as it is; it changes no row " +
			"(the erasure before it did)."}
		return en
	}
	e, err := profile.Decode(m.Value)
	if err != nil {
		en.Kind = "not an event"
		en.Outcome = Outcome{"dead", "Not the event contract: " + err.Error()}
		if d, ok := dead[m.At()]; ok {
			en.Outcome.Text = "Dead-lettered: " + d.Error
		}
		return en
	}
	en.Event, en.Decoded = e, true
	en.Kind = "update"
	if e.Deleted {
		en.Kind = "deletion"
	}
	if d, ok := dead[m.At()]; ok {
		en.Outcome = Outcome{"dead", "Dead-lettered: " + d.Error}
		return en
	}
	if e.PatientID != pg.PatientID {
		en.Outcome = Outcome{"dead", "Keyed wrong: the key is not the event's PatientId, so the consumer " +
			"dead-letters it."}
		return en
	}
	if !pg.HasRow {
		if consumed {
			en.Outcome = Outcome{"dead", "Consumed, but the table has no row for this patient: look for its dead " +
				"letter below (older than the dead letters read), or a row deleted by hand."}
		} else {
			en.Outcome = Outcome{"pending", "Not consumed yet: the group's committed offset is below it."}
		}
		return en
	}
	switch cmp := profile.Compare(e, pg.Row); {
	case cmp == 0:
		en.Outcome = Outcome{"applied", "Applied: this event is the row."}
	case cmp < 0:
		en.Outcome = Outcome{"older", "Older than the row by the ordering rule (UpdatedAt, then EventId): a no-op, " +
			"whether it came before the row's event (superseded) or after it (stale, or a duplicate)."}
	case !consumed:
		en.Outcome = Outcome{"pending", "Newer than the row, not consumed yet: the row moves to it once the " +
			"consumer gets there."}
	default:
		en.Outcome = Outcome{"newer", "Newer than the row, yet consumed and not dead-lettered among those read: " +
			"its dead letter may be older than the ones read, or the row was written since."}
	}
	return en
}
