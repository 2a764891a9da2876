package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ankitamadan/patient-profile/internal/audit"
	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/problem"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// pageSize is how many messages a page of Messages shows: within broker.MaxRange.
const pageSize = 50

// shownMessage is one message as Messages, the timeline and the dead letters show it.
type shownMessage struct {
	message.Coordinates
	Time    time.Time
	Key     shown
	Patient string // the key, when it is a valid PatientId, for the link to the timeline
	Headers []header
	Value   shown
	// Dead is the dead letter this message is, on the dead-letter topic.
	Dead *deadletter.DeadLetter
}

func showMessage(m message.Message, dlqTopic string) shownMessage {
	s := shownMessage{Coordinates: m.At(), Time: m.Time, Key: show(m.Key), Headers: showHeaders(m.Headers),
		Value: show(m.Value)}
	if s.Key.Kind == "json" {
		s.Key.Kind, s.Key.Text = "text", string(m.Key)
	}
	if profile.ValidPatientID(string(m.Key)) {
		s.Patient = string(m.Key)
	}
	if m.Topic == dlqTopic {
		if d, err := deadletter.Parse(m); err == nil {
			s.Dead = &d
		}
	}
	return s
}

// topic returns one of the console's two topics, or a problem: an unknown topic is a 404.
func (c *Console) topic(ctx context.Context, name string) (broker.Topic, error) {
	if name != c.cfg.Topic && name != c.cfg.DLQTopic {
		return broker.Topic{}, problem.Errorf(problem.NotFound, "the console shows the topics %s and %s only",
			c.cfg.Topic, c.cfg.DLQTopic)
	}
	ts, err := c.deps.Kafka.Topics(ctx, name)
	switch {
	case errors.Is(err, broker.ErrUnknownTopic):
		return broker.Topic{}, problem.Errorf(problem.NotFound, "the broker has no topic %s", name)
	case err != nil:
		return broker.Topic{}, unavailable("the broker", err)
	}
	return ts[0], nil
}

// partition returns the partition the path names, or a problem: a partition the topic lacks is a
// 404.
func (c *Console) partition(r *http.Request) (broker.Topic, broker.Partition, error) {
	t, err := c.topic(r.Context(), chi.URLParam(r, "topic"))
	if err != nil {
		return t, broker.Partition{}, err
	}
	id, err := strconv.Atoi(chi.URLParam(r, "partition"))
	p, ok := t.Partition(id)
	if err != nil || !ok {
		return t, p, problem.Errorf(problem.NotFound, "topic %s has partitions 0 to %d", t.Name, len(t.Partitions)-1)
	}
	return t, p, nil
}

// unavailable is a dependency that did not answer. The cause goes to the log, not to the page.
func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %w", problem.Errorf(problem.BadGateway, "%s did not answer; retry in a moment", what), err)
}

type topicPage struct {
	Topic broker.Topic
	DLQ   bool
}

func (c *Console) handleTopic() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := c.topic(r.Context(), chi.URLParam(r, "topic"))
		if err != nil {
			c.fail(w, r, err)
			return
		}
		c.render(w, r, http.StatusOK, "topic", view{Title: t.Name, Nav: "messages",
			Data: topicPage{Topic: t, DLQ: t.Name == c.cfg.DLQTopic}})
	})
}

// handleFind sends a key to the page of the partition murmur2 puts it on.
func (c *Console) handleFind() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("topic")
		if name == "" {
			name = c.cfg.Topic
		}
		key := r.URL.Query().Get("key")
		if key == "" {
			c.fail(w, r, problem.InvalidField("give a key to find", "key", "must not be empty"))
			return
		}
		t, err := c.topic(r.Context(), name)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		p := broker.PartitionOf([]byte(key), len(t.Partitions))
		to := fmt.Sprintf("/topics/%s/partitions/%d?key=%s", url.PathEscape(t.Name), p, url.QueryEscape(key))
		http.Redirect(w, r, to, http.StatusSeeOther) //nolint:gosec // G710: a path on this site, its parts escaped
	})
}

type messagesPage struct {
	Topic     broker.Topic
	Partition broker.Partition
	DLQ       bool
	// From and To are the offsets read, [From, To).
	From, To int64
	Messages []shownMessage
	// Key filters the page, when set; Matching counts its messages on the page.
	Key      string
	Matching int
	// Older and Newer are the links' before values; 0 when there is no such page.
	Older, Newer int64
	PageSize     int
}

// handleMessages is one page of one partition, newest first: at most pageSize messages below
// before (the end of the partition by default), or the page that holds offset. Only that page is
// read.
func (c *Console) handleMessages() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, p, err := c.partition(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		before, notes, err := pageEnd(r.URL.Query(), p)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		from := max(p.First, before-pageSize)
		msgs, err := c.deps.Kafka.ReadRange(r.Context(), t.Name, p.ID, from, before)
		if err != nil {
			c.fail(w, r, unavailable("the broker", err))
			return
		}
		pg := messagesPage{Topic: t, Partition: p, DLQ: t.Name == c.cfg.DLQTopic, From: from, To: before,
			Key: r.URL.Query().Get("key"), PageSize: pageSize}
		if pg.Key != "" {
			notes = append(notes, fmt.Sprintf("murmur2 puts key %q on partition %d of %d.", pg.Key,
				broker.PartitionOf([]byte(pg.Key), len(t.Partitions)), len(t.Partitions)))
		}
		for _, m := range slices.Backward(msgs) {
			if pg.Key != "" && string(m.Key) != pg.Key {
				continue
			}
			pg.Messages = append(pg.Messages, showMessage(m, c.cfg.DLQTopic))
		}
		pg.Matching = len(pg.Messages)
		if from > p.First {
			pg.Older = from
		}
		if before < p.End {
			pg.Newer = min(p.End, before+pageSize)
		}
		audit.Log(r.Context(), c.logger, who(r.Context()), "messages",
			slog.String("messages", offsets(t.Name, p.ID, from, before)))
		c.render(w, r, http.StatusOK, "messages", view{Title: fmt.Sprintf("%s / partition %d", t.Name, p.ID),
			Nav: "messages", Notes: notes, Data: pg})
	})
}

// offsets names the messages [from, to) of a partition for an audit line: topic/partition/first-last.
func offsets(topic string, partition int, from, to int64) string {
	if to <= from {
		return fmt.Sprintf("%s/%d/none", topic, partition)
	}
	return fmt.Sprintf("%s/%d/%d-%d", topic, partition, from, to-1)
}

// pageEnd reads where a page ends from the query: before (exclusive) or offset (the page that
// holds it), clamped to the partition with a note saying so.
func pageEnd(q url.Values, p broker.Partition) (int64, []string, error) {
	var notes []string
	switch {
	case q.Get("offset") != "":
		o, err := strconv.ParseInt(q.Get("offset"), 10, 64)
		if err != nil {
			return 0, nil, problem.InvalidField("the offset is not a number", "offset", "must be a whole number")
		}
		switch {
		case p.End == p.First:
			notes = append(notes, fmt.Sprintf("The partition is empty: offset %d is not there.", o))
			o = p.End - 1
		case o < p.First:
			notes = append(notes, fmt.Sprintf("Offset %d is before the partition's first, %d: showing from there.", o,
				p.First))
			o = p.First
		case o >= p.End:
			notes = append(notes, fmt.Sprintf("Offset %d is past the partition's last, %d: showing the newest.", o,
				p.End-1))
			o = p.End - 1
		}
		// The page that ends at the offset asked for, so it is the newest one shown.
		return o + 1, notes, nil
	case q.Get("before") != "":
		b, err := strconv.ParseInt(q.Get("before"), 10, 64)
		if err != nil {
			return 0, nil, problem.InvalidField("before is not a number", "before", "must be a whole number")
		}
		if b < p.First || b > p.End {
			notes = append(notes, fmt.Sprintf("Offset %d is outside the partition (%d to %d): showing the newest.",
				b, p.First, p.End))
			b = p.End
		}
		return b, notes, nil
	}
	return p.End, nil, nil
}

type messagePage struct {
	Topic   broker.Topic
	Message shownMessage
}

// handleMessage is one message, whole.
func (c *Console) handleMessage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, p, err := c.partition(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		o, err := strconv.ParseInt(chi.URLParam(r, "offset"), 10, 64)
		if err != nil || o < p.First || o >= p.End {
			c.fail(w, r, problem.Errorf(problem.NotFound, "partition %d of %s holds offsets %d to %d", p.ID, t.Name,
				p.First, p.End-1))
			return
		}
		msgs, err := c.deps.Kafka.ReadRange(r.Context(), t.Name, p.ID, o, o+1)
		if err != nil {
			c.fail(w, r, unavailable("the broker", err))
			return
		}
		if len(msgs) == 0 {
			c.fail(w, r, problem.Errorf(problem.NotFound, "offset %d holds no message (compacted away)", o))
			return
		}
		audit.Log(r.Context(), c.logger, who(r.Context()), "message",
			slog.String("messages", msgs[0].At().String()))
		c.render(w, r, http.StatusOK, "message", view{Title: msgs[0].At().String(), Nav: "messages",
			Data: messagePage{Topic: t, Message: showMessage(msgs[0], c.cfg.DLQTopic)}})
	})
}
