package deadletter

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/message"
)

const (
	topic = "events"
	dlq   = "events.dlq"
	value = `{"EventId":"e1","PatientId":"42","UpdatedAt":"2026-01-02T05:00:00Z"}`
)

func header(key, value string) message.Header { return message.Header{Key: key, Value: []byte(value)} }

// parked is the dead letter New makes of a message at srcPartition/srcOffset of the event topic,
// found at dlqPartition/dlqOffset of the dead-letter topic.
func parked(dlqPartition int, dlqOffset int64, v string, srcPartition int, srcOffset int64, reason string,
	extra ...message.Header) message.Message {
	src := message.Message{Topic: topic, Partition: srcPartition, Offset: srcOffset, Key: []byte("42"),
		Headers: append([]message.Header{header("traceparent", "00-abc-01")}, extra...)}
	if v != "" {
		src.Value = []byte(v)
	}
	m := New(src, errors.New(reason))
	m.Topic, m.Partition, m.Offset = dlq, dlqPartition, dlqOffset
	return m
}

func at(t string, p int, o int64) message.Coordinates {
	return message.Coordinates{Topic: t, Partition: p, Offset: o}
}

func TestParse(t *testing.T) {
	own := []message.Header{header("traceparent", "00-abc-01")}
	tests := []struct {
		name    string
		msg     message.Message
		want    DeadLetter
		wantErr string
	}{
		{
			name: "a dead letter",
			msg:  parked(2, 9, value, 4, 17, "put profile 42: rejected by the store"),
			want: DeadLetter{
				At: at(dlq, 2, 9), Source: at(topic, 4, 17), Key: []byte("42"), Value: []byte(value),
				Error: "put profile 42: rejected by the store", Headers: own,
			},
		},
		{
			name: "its value dropped",
			msg:  WithoutValue(parked(0, 1, string(make([]byte, 2097152)), 3, 5, "too large")),
			want: DeadLetter{
				Source: at(topic, 3, 5), Key: []byte("42"), Error: "too large", DroppedSize: 2097152, Headers: own,
			},
		},
		{
			name: "replayed before and parked again: the first source is kept, the old replay headers are not",
			msg: parked(1, 3, value, 0, 99, "decode event", header(HeaderReplayedFrom, dlq+"/1/0"),
				header(HeaderReplaySource, topic+"/4/17"), header(HeaderEdited, "true")),
			want: DeadLetter{
				At: at(dlq, 1, 3), Source: at(topic, 0, 99), Key: []byte("42"), Value: []byte(value),
				Error: "decode event", FirstSource: topic + "/4/17", Headers: own,
			},
		},
		{
			name:    "no source topic",
			msg:     message.Message{Key: []byte("42"), Value: []byte(value)},
			wantErr: "no dlq-source-topic header",
		},
		{
			name: "a bad partition",
			msg: message.Message{Headers: []message.Header{
				header(HeaderTopic, topic), header(HeaderPartition, "x"), header(HeaderOffset, "1"),
			}},
			wantErr: "dlq-source-partition",
		},
		{
			name: "a negative offset",
			msg: message.Message{Headers: []message.Header{
				header(HeaderTopic, topic), header(HeaderPartition, "1"), header(HeaderOffset, "-1"),
			}},
			wantErr: "dlq-source-offset",
		},
		{
			name:    "a bad dropped size",
			msg:     parked(0, 0, "", 1, 1, "x", header(HeaderValueDropped, "big")),
			wantErr: "dlq-value-dropped",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.msg)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// A replay publishes the original again, as it was, marked with where it comes from; a second
// failure and a second replay keep the first source, so that a run replays each event once.
func TestReplayKeepsTheFirstSource(t *testing.T) {
	first, err := Parse(parked(2, 9, value, 4, 17, "rejected"))
	require.NoError(t, err)
	replayed := first.Replay(nil)
	assert.Equal(t, []byte("42"), replayed.Key)
	assert.Equal(t, []byte(value), replayed.Value)
	assert.Equal(t, []message.Header{
		header("traceparent", "00-abc-01"),
		header(HeaderReplayedFrom, dlq+"/2/9"),
		header(HeaderReplaySource, topic+"/4/17"),
	}, replayed.Headers)

	// It fails again, at 0/30 of the event topic, and is parked again at 1/5.
	replayed.Topic, replayed.Partition, replayed.Offset = topic, 0, 30
	again := New(replayed, errors.New("rejected again"))
	again.Topic, again.Partition, again.Offset = dlq, 1, 5
	second, err := Parse(again)
	require.NoError(t, err)
	assert.Equal(t, first.Origin(), second.Origin(), "the same event")
	assert.Equal(t, at(topic, 0, 30), second.Source)

	edited := second.Replay([]byte(`{}`))
	assert.Equal(t, []byte(`{}`), edited.Value)
	v, ok := edited.Header(HeaderEdited)
	assert.True(t, ok)
	assert.Equal(t, "true", string(v))
	v, _ = edited.Header(HeaderReplaySource)
	assert.Equal(t, topic+"/4/17", string(v))
}
