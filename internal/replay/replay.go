// Package replay publishes dead letters back to the event topic, once a person has fixed what
// parked them: the consumer applies them again under the ordering rule, so replaying an event
// that was already applied, or replaying twice, changes nothing.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// publisher writes to the event topic. When some messages of a batch failed and it knows which,
// its error is a message.WriteErrors.
type publisher interface {
	Write(ctx context.Context, msgs ...message.Message) error
}

// ReadFunc calls fn with every message of the dead-letter topic, as broker.ReadTopic does.
type ReadFunc func(ctx context.Context, fn func(message.Message) error) error

// Config says what to replay.
type Config struct {
	// Topic is the event topic. Only dead letters that came from it are replayed, back to it.
	Topic  string
	Filter Filter
	// DryRun lists what would be replayed, and why each was parked, and publishes nothing.
	DryRun bool
	// Edit, if not nil, replaces the value of the one dead letter Filter chooses, which must be
	// exactly one. It must be a valid event for the dead letter's patient. It can stand in for a
	// value the dead-letter topic dropped.
	Edit []byte
}

// Summary counts what a run did.
type Summary struct {
	// Read is how many messages of the dead-letter topic were read, and Chosen how many of those
	// the filter chose.
	Read, Chosen int
	// Replayed were published to the event topic (in a dry run: would have been).
	Replayed int
	// Skipped, and why: a second copy of an event already chosen in this run, a dead letter
	// without its value, or one from another topic.
	Duplicate, ValueDropped, OtherTopic int
	// Failed were chosen but their publish failed.
	Failed int
	// Unreadable were not dead letters: they lack the source headers.
	Unreadable int
	DryRun     bool
}

func (s Summary) String() string {
	verb := "replayed"
	if s.DryRun {
		verb = "would replay"
	}
	return fmt.Sprintf("read %d, chosen %d: %s %d, skipped %d (duplicate %d, value dropped %d, other topic %d), "+
		"failed %d, not dead letters %d",
		s.Read, s.Chosen, verb, s.Replayed, s.Duplicate+s.ValueDropped+s.OtherTopic, s.Duplicate, s.ValueDropped,
		s.OtherTopic, s.Failed, s.Unreadable)
}

// ErrEdit marks an -edit that cannot be applied: the replacement is not a valid event for the
// patient, or the filter does not choose exactly one dead letter. Nothing was published.
var ErrEdit = errors.New("cannot edit")

// batchSize is how many events are published in one call: big enough to share round trips, small
// enough that the output keeps up with the work.
const batchSize = 100

// Run reads the whole dead-letter topic through read and publishes each chosen dead letter's key,
// value and headers to the event topic through pub, marked as replayed. It writes one line per
// chosen dead letter to out, with the patient, the coordinates and the error, never the value
// (it holds patient data), and returns the counts. A failed publish stops it: replaying again is
// harmless, so the remedy is to run it again.
func Run(ctx context.Context, cfg Config, read ReadFunc, pub publisher, out io.Writer) (Summary, error) {
	if err := cfg.Filter.Check(); err != nil {
		return Summary{}, fmt.Errorf("filter: %w", err)
	}
	r := &run{cfg: cfg, pub: pub, out: out, seen: map[string]message.Coordinates{}, sum: Summary{DryRun: cfg.DryRun}}
	if cfg.Edit != nil {
		e, err := profile.Decode(cfg.Edit)
		if err != nil {
			return Summary{}, fmt.Errorf("%w: the replacement value is not a valid event: %w", ErrEdit, err)
		}
		r.editFor = e.PatientID
	}
	err := read(ctx, func(m message.Message) error {
		if err := r.judge(m); err != nil {
			return err
		}
		if cfg.Edit == nil && r.replays >= batchSize {
			return r.flush(ctx)
		}
		return nil
	})
	if err != nil {
		return r.sum, err
	}
	if cfg.Edit != nil && r.replays == 0 {
		return r.sum, fmt.Errorf("%w: the filter chooses no dead letter that can be replayed", ErrEdit)
	}
	return r.sum, r.flush(ctx)
}

type run struct {
	cfg Config
	pub publisher
	out io.Writer
	// seen maps the origin of each dead letter chosen so far to where it was found.
	seen    map[string]message.Coordinates
	editFor string
	// queue holds the verdicts not yet printed, in the order read, so that the output reads in
	// topic order although publishing is batched; replays counts those to publish.
	queue   []verdict
	replays int
	sum     Summary
}

// verdict is what a run does with one message: replay it, or skip it and say why.
type verdict struct {
	d      deadletter.DeadLetter
	replay bool
	// line is the whole line for a message that is not a dead letter.
	line string
	note string
}

// judge decides what to do with one message of the dead-letter topic.
func (r *run) judge(m message.Message) error {
	r.sum.Read++
	d, err := deadletter.Parse(m)
	if err != nil {
		r.sum.Unreadable++
		note := "not a dead letter: " + err.Error()
		line := fmt.Sprintf("skipped      dlq=%s patient=%q note=%q", d.At, d.Patient(), note)
		r.queue = append(r.queue, verdict{line: line})
		return nil
	}
	if !r.cfg.Filter.Match(d) {
		return nil
	}
	r.sum.Chosen++
	skip := func(note string) { r.queue = append(r.queue, verdict{d: d, note: note}) }
	if d.Source.Topic != r.cfg.Topic {
		r.sum.OtherTopic++
		skip("from topic " + d.Source.Topic + ", not " + r.cfg.Topic)
		return nil
	}
	if first, ok := r.seen[d.Origin()]; ok {
		r.sum.Duplicate++
		skip("duplicate of " + first.String())
		return nil
	}
	r.seen[d.Origin()] = d.At
	if d.ValueDropped() && r.cfg.Edit == nil {
		r.sum.ValueDropped++
		skip(fmt.Sprintf("value dropped (%d bytes): not in the dead-letter topic; "+
			"read it at the source and replay it with -edit", d.DroppedSize))
		return nil
	}
	if r.cfg.Edit != nil {
		if r.replays > 0 {
			var chosen deadletter.DeadLetter
			for _, v := range r.queue {
				if v.replay {
					chosen = v.d
				}
			}
			return fmt.Errorf("%w: the filter chooses more than one dead letter (%s and %s); "+
				"narrow it to one with -partition and -offset",
				ErrEdit, chosen.Source, d.Source)
		}
		if d.Patient() != r.editFor {
			return fmt.Errorf("%w: the replacement is for patient %q, the dead letter at %s is for %q",
				ErrEdit, r.editFor, d.At, d.Patient())
		}
	}
	r.queue = append(r.queue, verdict{d: d, replay: true})
	r.replays++
	return nil
}

// flush publishes the queued replays (unless this is a dry run) and prints every queued verdict.
func (r *run) flush(ctx context.Context) error {
	queue := r.queue
	r.queue, r.replays = nil, 0
	var msgs []message.Message
	for _, v := range queue {
		if v.replay && !r.cfg.DryRun {
			msgs = append(msgs, v.d.Replay(r.cfg.Edit))
		}
	}
	var err error
	each := make(message.WriteErrors, len(msgs))
	if len(msgs) > 0 {
		err = r.pub.Write(ctx, msgs...)
		if !errors.As(err, &each) || len(each) != len(msgs) {
			each = make(message.WriteErrors, len(msgs))
			for i := range each {
				each[i] = err
			}
		}
	}
	edited := ""
	if r.cfg.Edit != nil {
		edited = "value replaced"
	}
	failed, i := 0, 0
	for _, v := range queue {
		switch {
		case v.line != "":
			fmt.Fprintln(r.out, v.line)
		case !v.replay:
			r.line("skipped", v.d, v.note)
		case r.cfg.DryRun:
			r.sum.Replayed++
			r.line("would-replay", v.d, edited)
		case each[i] != nil:
			failed++
			r.line("failed", v.d, each[i].Error())
			i++
		default:
			r.sum.Replayed++
			r.line("replayed", v.d, edited)
			i++
		}
	}
	r.sum.Failed += failed
	if failed > 0 {
		return fmt.Errorf("publish to %s: %d of %d failed: %w", r.cfg.Topic, failed, len(msgs), err)
	}
	return nil
}

func (r *run) line(verb string, d deadletter.DeadLetter, note string) {
	fmt.Fprintf(r.out, "%-12s patient=%q source=%s dlq=%s error=%q", verb, d.Patient(), d.Source, d.At, d.Error)
	if note != "" {
		fmt.Fprintf(r.out, " note=%q", note)
	}
	fmt.Fprintln(r.out)
}
