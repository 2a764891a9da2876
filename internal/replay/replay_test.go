package replay

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/message"
)

const (
	topic = "events"
	dlq   = "events.dlq"
)

// parked is a dead letter as the consumer writes it (deadletter.New) at dlqPartition/dlqOffset of
// the dead-letter topic, of a message at srcPartition/srcOffset of the event topic.
func parked(dlqPartition int, dlqOffset int64, key, value string, srcPartition int, srcOffset int64, reason string,
	extra ...message.Header) message.Message {
	src := message.Message{Topic: topic, Partition: srcPartition, Offset: srcOffset, Key: []byte(key),
		Headers: append([]message.Header{{Key: "traceparent", Value: []byte("00-abc-01")}}, extra...)}
	if value != "" {
		src.Value = []byte(value)
	}
	m := deadletter.New(src, errors.New(reason))
	m.Topic, m.Partition, m.Offset = dlq, dlqPartition, dlqOffset
	return m
}

func header(key, value string) message.Header { return message.Header{Key: key, Value: []byte(value)} }

func readFrom(msgs ...message.Message) ReadFunc {
	return func(_ context.Context, fn func(message.Message) error) error {
		for _, m := range msgs {
			if err := fn(m); err != nil {
				return err
			}
		}
		return nil
	}
}

// fakeTopic records what is published to it, or fails.
type fakeTopic struct {
	got []message.Message
	err error
}

func (f *fakeTopic) Write(_ context.Context, msgs ...message.Message) error {
	if f.err != nil {
		return f.err
	}
	f.got = append(f.got, msgs...)
	return nil
}

func headers(m message.Message) map[string]string {
	out := map[string]string{}
	for _, h := range m.Headers {
		out[h.Key] = string(h.Value)
	}
	return out
}

const (
	poison = `{"PatientId":"42","IsPregnant":"yes","UpdatedAt":"2026-01-02T05:00:00Z","FirstName":"Secret"}`
	valid  = `{"EventId":"e1","PatientId":"42","FirstName":"Secret","UpdatedAt":"2026-01-02T05:00:00Z"}`
	fixed  = `{"EventId":"e1","PatientId":"42","FirstName":"Secret","IsPregnant":true,"UpdatedAt":"2026-01-02T05:00:00Z"}`
)

func TestFilter(t *testing.T) {
	d := deadletter.DeadLetter{Source: message.Coordinates{Topic: topic, Partition: 3, Offset: 17}, Key: []byte("42"), Error: "put profile 42: rejected by the store: ValidationException"}
	tests := []struct {
		name   string
		filter func(*Filter)
		want   bool
	}{
		{"everything", func(*Filter) {}, true},
		{"its partition", func(f *Filter) { f.Partition = 3 }, true},
		{"another partition", func(f *Filter) { f.Partition = 2 }, false},
		{"partition 0 is a partition, not any", func(f *Filter) { f.Partition = 0 }, false},
		{"a range around it", func(f *Filter) { f.Partition, f.From, f.To = 3, 10, 20 }, true},
		{"a range ending at it", func(f *Filter) { f.Partition, f.From, f.To = 3, 10, 17 }, true},
		{"a range starting at it", func(f *Filter) { f.Partition, f.From, f.To = 3, 17, 17 }, true},
		{"a range after it", func(f *Filter) { f.Partition, f.From = 3, 18 }, false},
		{"a range before it", func(f *Filter) { f.Partition, f.To = 3, 16 }, false},
		{"its patient", func(f *Filter) { f.Patient = "42" }, true},
		{"another patient", func(f *Filter) { f.Patient = "4" }, false},
		{"error substring", func(f *Filter) { f.Error = regexp.MustCompile(regexp.QuoteMeta("rejected by the store")) }, true},
		{"error regexp", func(f *Filter) { f.Error = regexp.MustCompile(`^put profile \d+: .*Validation`) }, true},
		{"other error", func(f *Filter) { f.Error = regexp.MustCompile("decode event") }, false},
		{"all of them", func(f *Filter) {
			f.Partition, f.From, f.To, f.Patient, f.Error = 3, 0, 100, "42", regexp.MustCompile("store")
		}, true},
		{"all but one", func(f *Filter) {
			f.Partition, f.From, f.To, f.Patient, f.Error = 3, 0, 100, "43", regexp.MustCompile("store")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := All
			tt.filter(&f)
			require.NoError(t, f.Check())
			assert.Equal(t, tt.want, f.Match(d))
		})
	}
}

func TestFilterCheck(t *testing.T) {
	tests := []struct {
		name    string
		filter  Filter
		wantErr string
	}{
		{"offsets without a partition", Filter{Partition: -1, From: 3, To: -1}, "needs a partition"},
		{"an empty range", Filter{Partition: 1, From: 5, To: 4}, "empty"},
		{"a negative partition", Filter{Partition: -2, From: -1, To: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorContains(t, tt.filter.Check(), tt.wantErr)
		})
	}
}

func TestRun(t *testing.T) {
	var (
		a          = parked(0, 0, "42", poison, 4, 17, "decode event: IsPregnant: must be a bool, got string")
		b          = parked(1, 0, "7", `{"PatientId":"7","UpdatedAt":"2026-01-02T05:00:00Z","LastName":"Private"}`, 1, 3, "put profile 7: rejected by the store: ValidationException")
		aAgain     = parked(0, 1, "42", poison, 4, 17, "decode event: IsPregnant: must be a bool, got string")
		dropped    = parked(1, 1, "9", "", 2, 8, "publish: message too large", header(deadletter.HeaderValueDropped, "2097152"))
		foreign    = parked(1, 2, "7", valid, 0, 1, "x")
		junk       = message.Message{Topic: dlq, Partition: 2, Offset: 0, Key: []byte("5"), Value: []byte(valid)}
		replayedB  = parked(1, 3, "7", `{"PatientId":"7","UpdatedAt":"2026-01-02T05:00:00Z"}`, 1, 40, "again", header(deadletter.HeaderReplayedFrom, dlq+"/1/0"), header(deadletter.HeaderReplaySource, topic+"/1/3"))
		b2         = parked(1, 4, "7", `{"PatientId":"7","UpdatedAt":"2026-01-03T05:00:00Z"}`, 1, 12, "put profile 7: rejected by the store: ValidationException")
		downstream = errors.New("broker down")
	)
	foreign.Headers[2].Value = []byte("other.topic") // after traceparent and dlq-error
	all := []message.Message{a, b, aAgain, dropped, foreign, junk, replayedB, b2}

	type published struct{ key, value, from, source, edited string }
	tests := []struct {
		name       string
		filter     func(*Filter)
		dryRun     bool
		edit       string
		pubErr     error
		msgs       []message.Message
		want       []published
		wantSum    Summary
		wantLines  []string
		wantErr    error
		wantErrMsg string
	}{
		{
			name: "everything that can be replayed, each event once",
			msgs: all,
			want: []published{
				{"42", poison, dlq + "/0/0", topic + "/4/17", ""},
				{"7", string(b.Value), dlq + "/1/0", topic + "/1/3", ""},
				{"7", string(b2.Value), dlq + "/1/4", topic + "/1/12", ""},
			},
			wantSum: Summary{Read: 8, Chosen: 7, Replayed: 3, Duplicate: 2, ValueDropped: 1, OtherTopic: 1, Unreadable: 1},
			wantLines: []string{
				`replayed     patient="42" source=events/4/17 dlq=events.dlq/0/0 error="decode event: IsPregnant: must be a bool, got string"`,
				`replayed     patient="7" source=events/1/3 dlq=events.dlq/1/0 error="put profile 7: rejected by the store: ValidationException"`,
				`skipped      patient="42" source=events/4/17 dlq=events.dlq/0/1 error="decode event: IsPregnant: must be a bool, got string" note="duplicate of events.dlq/0/0"`,
				`skipped      patient="9" source=events/2/8 dlq=events.dlq/1/1 error="publish: message too large" note="value dropped (2097152 bytes)`,
				`skipped      patient="7" source=other.topic/0/1 dlq=events.dlq/1/2 error="x" note="from topic other.topic, not events"`,
				`skipped      dlq=events.dlq/2/0 patient="5" note="not a dead letter: no dlq-source-topic header"`,
				`skipped      patient="7" source=events/1/40 dlq=events.dlq/1/3 error="again" note="duplicate of events.dlq/1/0"`,
				`replayed     patient="7" source=events/1/12 dlq=events.dlq/1/4 error="put profile 7: rejected by the store: ValidationException"`,
			},
		},
		{
			name:      "a dry run publishes nothing",
			msgs:      all,
			dryRun:    true,
			wantSum:   Summary{Read: 8, Chosen: 7, Replayed: 3, Duplicate: 2, ValueDropped: 1, OtherTopic: 1, Unreadable: 1, DryRun: true},
			wantLines: []string{`would-replay patient="42" source=events/4/17 dlq=events.dlq/0/0 error="decode event: IsPregnant: must be a bool, got string"`},
		},
		{
			name:    "by patient",
			msgs:    all,
			filter:  func(f *Filter) { f.Patient = "7" },
			want:    []published{{"7", string(b.Value), dlq + "/1/0", topic + "/1/3", ""}, {"7", string(b2.Value), dlq + "/1/4", topic + "/1/12", ""}},
			wantSum: Summary{Read: 8, Chosen: 4, Replayed: 2, Duplicate: 1, OtherTopic: 1, Unreadable: 1},
		},
		{
			name:    "a replay parked again keeps the first source",
			msgs:    all,
			filter:  func(f *Filter) { f.Error = regexp.MustCompile("^again$") },
			want:    []published{{"7", string(replayedB.Value), dlq + "/1/3", topic + "/1/3", ""}},
			wantSum: Summary{Read: 8, Chosen: 1, Replayed: 1, Unreadable: 1},
		},
		{
			name:    "by source partition and offsets",
			msgs:    all,
			filter:  func(f *Filter) { f.Partition, f.From, f.To = 1, 0, 10 },
			want:    []published{{"7", string(b.Value), dlq + "/1/0", topic + "/1/3", ""}},
			wantSum: Summary{Read: 8, Chosen: 1, Replayed: 1, Unreadable: 1},
		},
		{
			name:    "by error",
			msgs:    all,
			filter:  func(f *Filter) { f.Error = regexp.MustCompile("IsPregnant") },
			want:    []published{{"42", poison, dlq + "/0/0", topic + "/4/17", ""}},
			wantSum: Summary{Read: 8, Chosen: 2, Replayed: 1, Duplicate: 1, Unreadable: 1},
		},
		{
			name:    "an edit replaces the value of the one chosen",
			msgs:    all,
			filter:  func(f *Filter) { f.Patient = "42" },
			edit:    fixed,
			want:    []published{{"42", fixed, dlq + "/0/0", topic + "/4/17", "true"}},
			wantSum: Summary{Read: 8, Chosen: 2, Replayed: 1, Duplicate: 1, Unreadable: 1},
			wantLines: []string{
				`replayed     patient="42" source=events/4/17 dlq=events.dlq/0/0 error="decode event: IsPregnant: must be a bool, got string" note="value replaced"`,
			},
		},
		{
			name:    "an edit supplies a dropped value",
			msgs:    all,
			filter:  func(f *Filter) { f.Patient = "9" },
			edit:    `{"PatientId":"9","UpdatedAt":"2026-01-02T05:00:00Z"}`,
			want:    []published{{"9", `{"PatientId":"9","UpdatedAt":"2026-01-02T05:00:00Z"}`, dlq + "/1/1", topic + "/2/8", "true"}},
			wantSum: Summary{Read: 8, Chosen: 1, Replayed: 1, Unreadable: 1},
		},
		{
			name:       "an edit that chooses two publishes nothing",
			msgs:       all,
			filter:     func(f *Filter) { f.Patient = "7" },
			edit:       `{"PatientId":"7","UpdatedAt":"2026-01-02T05:00:00Z"}`,
			wantErr:    ErrEdit,
			wantErrMsg: "more than one dead letter (events/1/3 and events/1/12)",
		},
		{
			name:       "an edit for another patient publishes nothing",
			msgs:       all,
			filter:     func(f *Filter) { f.Patient = "42" },
			edit:       `{"PatientId":"7","UpdatedAt":"2026-01-02T05:00:00Z"}`,
			wantErr:    ErrEdit,
			wantErrMsg: `for patient "7", the dead letter at events.dlq/0/0 is for "42"`,
		},
		{
			name:       "an edit that is not a valid event publishes nothing",
			msgs:       all,
			filter:     func(f *Filter) { f.Patient = "42" },
			edit:       poison,
			wantErr:    ErrEdit,
			wantErrMsg: "IsPregnant",
		},
		{
			name:       "an edit that chooses none",
			msgs:       all,
			filter:     func(f *Filter) { f.Patient = "nobody" },
			edit:       fixed,
			wantErr:    ErrEdit,
			wantErrMsg: "no dead letter",
		},
		{
			name:       "a failed publish is an error",
			msgs:       []message.Message{a, b},
			pubErr:     downstream,
			wantErr:    downstream,
			wantSum:    Summary{Read: 2, Chosen: 2, Failed: 2},
			wantLines:  []string{`failed       patient="42" source=events/4/17`},
			wantErrMsg: "2 of 2 failed",
		},
		{
			name:    "an empty dead-letter topic",
			wantSum: Summary{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Topic: topic, Filter: All, DryRun: tt.dryRun}
			if tt.filter != nil {
				tt.filter(&cfg.Filter)
			}
			if tt.edit != "" {
				cfg.Edit = []byte(tt.edit)
			}
			pub := &fakeTopic{err: tt.pubErr}
			var out strings.Builder

			sum, err := Run(context.Background(), cfg, readFrom(tt.msgs...), pub, &out)

			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.ErrorContains(t, err, tt.wantErrMsg)
			} else {
				require.NoError(t, err)
			}
			var got []published
			for _, m := range pub.got {
				h := headers(m)
				assert.Equal(t, "00-abc-01", h["traceparent"], "the original's own headers are carried over")
				for k := range h {
					assert.NotContains(t, []string{deadletter.HeaderError, deadletter.HeaderTopic, deadletter.HeaderPartition, deadletter.HeaderOffset, deadletter.HeaderValueDropped}, k,
						"a replayed event must not look like a dead letter")
				}
				got = append(got, published{string(m.Key), string(m.Value), h[deadletter.HeaderReplayedFrom], h[deadletter.HeaderReplaySource], h[deadletter.HeaderEdited]})
			}
			assert.Equal(t, tt.want, got)
			if tt.wantErr == nil || tt.wantSum != (Summary{}) {
				assert.Equal(t, tt.wantSum, sum)
			}
			for _, line := range tt.wantLines {
				assert.Contains(t, out.String(), line)
			}
			for _, secret := range []string{"Secret", "Private", "yes"} {
				assert.NotContains(t, out.String(), secret, "the output must never show a value")
			}
		})
	}
}

func TestRunPublishesInBatches(t *testing.T) {
	var msgs []message.Message
	for i := range 2*batchSize + 1 {
		msgs = append(msgs, parked(0, int64(i), "42", valid, 0, int64(i), "x"))
	}
	calls := 0
	pub := &countingTopic{calls: &calls}
	sum, err := Run(context.Background(), Config{Topic: topic, Filter: All}, readFrom(msgs...), pub, &strings.Builder{})
	require.NoError(t, err)
	assert.Equal(t, 2*batchSize+1, sum.Replayed)
	assert.Equal(t, 3, calls)
}

type countingTopic struct{ calls *int }

func (c *countingTopic) Write(context.Context, ...message.Message) error {
	*c.calls++
	return nil
}

func TestRunReportsEachFailedMessage(t *testing.T) {
	msgs := []message.Message{parked(0, 0, "1", valid, 0, 0, "x"), parked(0, 1, "2", valid, 0, 1, "x")}
	pub := &fakeTopic{err: message.WriteErrors{nil, errors.New("not leader")}}
	var out strings.Builder
	sum, err := Run(context.Background(), Config{Topic: topic, Filter: All}, readFrom(msgs...), pub, &out)
	assert.ErrorContains(t, err, "1 of 2 failed")
	assert.Equal(t, 1, sum.Replayed)
	assert.Equal(t, 1, sum.Failed)
	assert.Contains(t, out.String(), `replayed     patient="1"`)
	assert.Contains(t, out.String(), `failed       patient="2" source=events/0/1 dlq=events.dlq/0/1 error="x" note="not leader"`)
}

func TestRunPrintsInTopicOrder(t *testing.T) {
	msgs := []message.Message{
		parked(0, 0, "1", valid, 0, 0, "x"),
		parked(0, 1, "1", valid, 0, 0, "x"),
		{Topic: dlq, Partition: 0, Offset: 2},
		parked(0, 3, "2", valid, 0, 1, "x"),
	}
	for _, dryRun := range []bool{false, true} {
		t.Run("dry run "+strconv.FormatBool(dryRun), func(t *testing.T) {
			var out strings.Builder
			_, err := Run(context.Background(), Config{Topic: topic, Filter: All, DryRun: dryRun}, readFrom(msgs...), &fakeTopic{}, &out)
			require.NoError(t, err)
			var dlqs []string
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				for _, f := range strings.Fields(l) {
					if strings.HasPrefix(f, "dlq=") {
						dlqs = append(dlqs, f)
					}
				}
			}
			assert.Equal(t, []string{"dlq=events.dlq/0/0", "dlq=events.dlq/0/1", "dlq=events.dlq/0/2", "dlq=events.dlq/0/3"}, dlqs)
		})
	}
}
