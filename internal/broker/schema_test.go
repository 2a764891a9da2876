package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

const eventSchema = "../../schema/patient.profile.updated.json"

func compileEventSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile(eventSchema)
	require.NoError(t, err)
	return s
}

func validateValue(s *jsonschema.Schema, value []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// publishedEvents are what TestPublishedEventsMatchTheSchema and TestPublishedEventsAreCloudEvents
// publish: the shapes the producer makes, empty fields and nanoseconds included.
var publishedEvents = []profile.Event{
	{EventID: "0193c1f0-0000-7000-8000-000000000001", PatientID: "1", FirstName: "John", LastName: "Doe", Sex: "female",
		UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 500_000_000, time.UTC)},
	{EventID: "0193c1f0-0000-7000-8000-000000000002", PatientID: "a.B-9", IsPregnant: true,
		UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 123_456_789, time.UTC)},
	{EventID: "0193c1f0-0000-7000-8000-000000000003", PatientID: "whole-second", Sex: "unknown", FirstName: "Ñoño",
		UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 0, time.FixedZone("+10", 10*3600))},
}

// publishAndReadBack publishes events through the real Publisher to a kfake broker and reads
// the messages back, as any consumer would.
func publishAndReadBack(t *testing.T, events []profile.Event) []message.Message {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: runs without -short")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"))
	require.NoError(t, err)
	defer c.Close()
	pub := NewPublisher(Cluster{Brokers: c.ListenAddrs()}, "events", "/patient-profile/test")
	defer pub.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, e := range events {
		require.NoError(t, pub.Publish(ctx, e))
	}
	msgs, err := ReadAll(ctx, Cluster{Brokers: c.ListenAddrs()}, "events")
	require.NoError(t, err)
	return msgs
}

// TestPublishedEventsMatchTheSchema validates what the real Publisher puts on the topic against
// the JSON Schema that documents it.
func TestPublishedEventsMatchTheSchema(t *testing.T) {
	schema := compileEventSchema(t)
	for i, m := range publishAndReadBack(t, publishedEvents) {
		assert.NoError(t, validateValue(schema, m.Value), "%s", m.Value)
		got, err := profile.Decode(m.Value)
		require.NoError(t, err)
		assert.Equal(t, 0, profile.Compare(publishedEvents[i], got))
		assert.Equal(t, publishedEvents[i].PatientID, string(m.Key))
	}
}

// Every event carries the CloudEvents 1.0 attributes as Kafka binary-mode headers.
func TestPublishedEventsAreCloudEvents(t *testing.T) {
	for i, m := range publishAndReadBack(t, publishedEvents) {
		e := publishedEvents[i]
		headers := map[string]string{}
		for _, h := range m.Headers {
			_, dup := headers[h.Key]
			assert.False(t, dup, "header %s twice", h.Key)
			headers[h.Key] = string(h.Value)
		}
		assert.Equal(t, map[string]string{
			"ce_specversion": "1.0",
			"ce_id":          e.EventID,
			"ce_source":      "/patient-profile/test",
			"ce_type":        "patient.profile.updated",
			"ce_time":        e.UpdatedAt.UTC().Format(time.RFC3339Nano),
			"ce_subject":     e.PatientID,
			"content-type":   "application/json",
		}, headers)
		ceTime, err := time.Parse(time.RFC3339Nano, headers["ce_time"])
		require.NoError(t, err)
		assert.True(t, ceTime.Equal(e.UpdatedAt))
	}
}

// The schema and the consumer's decoder agree on what is an event: a value one refuses, the
// other refuses too.
// schemaCases are message values and whether the contract accepts them: what the consumer decodes
// and what the schema validates must agree on each.
var schemaCases = []struct {
	name  string
	value string
	valid bool
}{
	{"the README event", `{"EventId":"b","PatientId":"42","FirstName":"Jane","IsPregnant":true,"Sex":"Female","UpdatedAt":"2026-01-02T05:00:01Z"}`, true},
	{"an offset and a fraction", `{"PatientId":"42","UpdatedAt":"2026-01-02T15:00:00.5+10:00"}`, true},
	{"nulls", `{"PatientId":"42","UpdatedAt":"2026-01-02T15:00:00Z","FirstName":null,"IsPregnant":null,"EventId":null}`, true},
	{"an unknown field", `{"PatientId":"42","UpdatedAt":"2026-01-02T15:00:00Z","Extra":1}`, true},
	{"no PatientId", `{"UpdatedAt":"2026-01-02T05:00:00Z"}`, false},
	{"empty PatientId", `{"PatientId":"","UpdatedAt":"2026-01-02T05:00:00Z"}`, false},
	{"numeric PatientId", `{"PatientId":42,"UpdatedAt":"2026-01-02T05:00:00Z"}`, false},
	{"no UpdatedAt", `{"PatientId":"42"}`, false},
	{"UpdatedAt not a time", `{"PatientId":"42","UpdatedAt":"yesterday"}`, false},
	{"UpdatedAt without an offset", `{"PatientId":"42","UpdatedAt":"2026-01-02T05:00:00"}`, false},
	{"IsPregnant a string", `{"PatientId":"42","IsPregnant":"yes","UpdatedAt":"2026-01-02T05:00:00Z"}`, false},
	{"not an object", `[]`, false},
	{"a deletion", `{"EventId":"d","PatientId":"42","DeletedAt":"2026-01-02T15:00:00.5+10:00"}`, true},
	{"a deletion with a name", `{"PatientId":"42","DeletedAt":"2026-01-02T05:00:00Z","FirstName":"Jane"}`, false},
	{"a deletion and an update at once", `{"PatientId":"42","DeletedAt":"2026-01-02T05:00:00Z","UpdatedAt":"2026-01-02T05:00:00Z"}`, false},
	{"a deletion without a stamp", `{"PatientId":"42","DeletedAt":"yesterday"}`, false},
	{"a deletion with a null name", `{"PatientId":"42","DeletedAt":"2026-01-02T05:00:00Z","FirstName":null}`, false},
	{"an update with a null DeletedAt", `{"PatientId":"42","UpdatedAt":"2026-01-02T05:00:00Z","DeletedAt":null}`, false},
	// Names that equal a contract name only when case is ignored, beside it or alone.
	{"a lower-case PatientId beside it", `{"EventId":"e1","PatientId":"edge1","patientid":"x","UpdatedAt":"2026-01-02T05:00:00Z"}`, false},
	{"an upper-case UpdatedAt", `{"PatientId":"42","UPDATEDAT":"2026-01-02T05:00:00Z","UpdatedAt":"2026-01-02T05:00:00Z"}`, false},
	{"a long s in Sex", `{"PatientId":"42","ſex":"female","UpdatedAt":"2026-01-02T05:00:00Z"}`, false},
	{"a deletion's name in another case", `{"PatientId":"42","deletedat":"2026-01-02T05:00:00Z","UpdatedAt":"2026-01-02T05:00:00Z"}`, false},
	{"a name that only contains one", `{"PatientId":"42","PatientIdentifier":"x","UpdatedAt":"2026-01-02T05:00:00Z"}`, true},
	// The year range, 0001-9999 as written and in UTC.
	{"year 0000", `{"PatientId":"42","UpdatedAt":"0000-01-01T00:00:00Z"}`, false},
	{"year 0001 in UTC only with an offset", `{"PatientId":"42","UpdatedAt":"0000-12-31T23:00:00-05:00"}`, false},
	{"the first day with a positive offset", `{"PatientId":"42","UpdatedAt":"0001-01-01T00:30:00+01:00"}`, false},
	{"the first day with a positive offset, in range in UTC", `{"PatientId":"42","UpdatedAt":"0001-01-01T05:00:00+01:00"}`, false},
	{"the first day with a negative offset", `{"PatientId":"42","UpdatedAt":"0001-01-01T00:00:00-05:00"}`, true},
	{"the first instant", `{"PatientId":"42","UpdatedAt":"0001-01-01T00:00:00Z"}`, true},
	{"the first day with +00:00", `{"PatientId":"42","UpdatedAt":"0001-01-01T00:00:00+00:00"}`, true},
	{"the last day with a negative offset", `{"PatientId":"42","DeletedAt":"9999-12-31T23:30:00-01:00"}`, false},
	{"the last day with -00:00", `{"PatientId":"42","DeletedAt":"9999-12-31T23:30:00-00:00"}`, true},
	{"the last day with a positive offset", `{"PatientId":"42","UpdatedAt":"9999-12-31T23:59:59.999999999+14:00"}`, true},
	{"a five-digit year", `{"PatientId":"42","UpdatedAt":"10000-01-01T00:00:00Z"}`, false},
	{"February 30", `{"PatientId":"42","UpdatedAt":"2026-02-30T00:00:00Z"}`, false},
	// The shape of RFC 3339, which time.Parse alone does not hold to.
	{"an offset of 24 hours", `{"PatientId":"42","UpdatedAt":"2026-01-02T05:00:00+24:00"}`, false},
	{"an offset of 60 minutes", `{"PatientId":"42","UpdatedAt":"2026-01-02T05:00:00+23:60"}`, false},
	{"a one-digit hour", `{"PatientId":"42","UpdatedAt":"2026-01-02T5:00:00Z"}`, false},
	{"a comma before the fraction", `{"PatientId":"42","UpdatedAt":"2026-01-02T05:00:00,5Z"}`, false},
	{"ten fraction digits", `{"PatientId":"42","UpdatedAt":"2026-01-02T05:00:00.1234567890Z"}`, false},
	{"nine fraction digits", `{"PatientId":"42","UpdatedAt":"2026-01-02T05:00:00.123456789Z"}`, true},
	{"a leap second", `{"PatientId":"42","UpdatedAt":"2016-12-31T23:59:60Z"}`, false},
	{"a lower-case z", `{"PatientId":"42","UpdatedAt":"2026-01-02T05:00:00z"}`, false},
	{"the largest offset", `{"PatientId":"42","UpdatedAt":"2026-01-02T05:00:00-23:59"}`, true},
}

func TestSchemaAgreesWithDecode(t *testing.T) {
	schema := compileEventSchema(t)
	for _, tt := range schemaCases {
		t.Run(tt.name, func(t *testing.T) {
			schemaErr := validateValue(schema, []byte(tt.value))
			_, decodeErr := profile.Decode([]byte(tt.value))
			assert.Equal(t, tt.valid, schemaErr == nil, "schema: %v", schemaErr)
			assert.Equal(t, tt.valid, decodeErr == nil, "decode: %v", decodeErr)
		})
	}
}

// A deletion goes out in the deletion form, typed patient.profile.deleted, and is followed on
// the same partition by a Kafka tombstone (the key, a null value) for a compacted topic.
func TestPublishedDeletionIsFollowedByATombstone(t *testing.T) {
	schema := compileEventSchema(t)
	deletion := profile.Event{EventID: "0193c1f0-0000-7000-8000-00000000000d", PatientID: "1", Deleted: true,
		UpdatedAt: time.Date(2026, 1, 2, 5, 0, 1, 0, time.UTC)}
	// An update of another patient after it, whose place must then be third.
	other := publishedEvents[1]
	msgs := publishAndReadBack(t, []profile.Event{deletion, other})

	assert.NoError(t, validateValue(schema, msgs[0].Value), "%s", msgs[0].Value)
	assert.JSONEq(t, `{"EventId":"0193c1f0-0000-7000-8000-00000000000d","PatientId":"1","DeletedAt":"2026-01-02T05:00:01Z"}`, string(msgs[0].Value))
	got, err := profile.Decode(msgs[0].Value)
	require.NoError(t, err)
	assert.Equal(t, deletion, got)
	headers := map[string]string{}
	for _, h := range msgs[0].Headers {
		headers[h.Key] = string(h.Value)
	}
	assert.Equal(t, "patient.profile.deleted", headers["ce_type"])
	assert.Equal(t, "2026-01-02T05:00:01Z", headers["ce_time"])

	assert.Equal(t, "1", string(msgs[1].Key), "the tombstone has the patient's key")
	assert.Nil(t, msgs[1].Value, "a Kafka tombstone's value is null")
	assert.Equal(t, msgs[0].Offset+1, msgs[1].Offset, "right after the deletion")
	require.Len(t, msgs, 3)
	assert.Equal(t, other.PatientID, string(msgs[2].Key))
}

// A second validator, written apart from the Go one above, reads the same schema: Ajv (Node), in
// strict mode, which refuses what the 2020-12 draft allows but does not mean (a required name
// that no properties define, for one). It must compile the schema and agree on every case.
func TestSecondValidatorAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node: without -short")
	}
	node, err := exec.LookPath("node")
	require.NoError(t, err, "the second validator runs on Node, which the dev stack needs too")
	values := make([]string, len(schemaCases))
	for i, c := range schemaCases {
		values[i] = c.value
	}
	cases := filepath.Join(t.TempDir(), "cases.json")
	b, err := json.Marshal(values)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cases, b, 0o600))

	cmd := exec.Command(node, "../../schema/check.js", "../../schema/patient.profile.updated.json", cases)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "Ajv: %s (run `make deps` if it is not installed)", stderr.String())
	var valid []bool
	require.NoError(t, json.Unmarshal(out, &valid), "%s", out)
	require.Len(t, valid, len(schemaCases))
	for i, c := range schemaCases {
		assert.Equal(t, c.valid, valid[i], "Ajv on %s: %s", c.name, c.value)
	}
}
