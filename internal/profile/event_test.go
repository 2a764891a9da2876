package profile_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    profile.Event
		wantErr string
	}{
		{
			name:  "contract example",
			value: `{"EventId":"e1","PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":false,"Sex":"Female","UpdatedAt":"2026-01-02T05:00:00.5Z"}`,
			want: profile.Event{EventID: "e1", PatientID: "1", FirstName: "John", LastName: "Doe", Sex: "Female",
				UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 500_000_000, time.UTC)},
		},
		{
			name:  "absent EventId counts as empty, offsets move to UTC",
			value: `{"PatientId":"7","IsPregnant":true,"UpdatedAt":"2026-01-02T15:00:00.25+10:00"}`,
			want:  profile.Event{PatientID: "7", IsPregnant: true, UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 250_000_000, time.UTC)},
		},
		{
			name:  "the deletion form: DeletedAt is the stamp, and nothing about the patient but the id",
			value: `{"EventId":"d1","PatientId":"1","DeletedAt":"2026-01-02T15:00:01+10:00"}`,
			want:  profile.Event{EventID: "d1", PatientID: "1", UpdatedAt: time.Date(2026, 1, 2, 5, 0, 1, 0, time.UTC), Deleted: true},
		},
		{name: "a deletion with a name", value: `{"PatientId":"1","DeletedAt":"2026-01-02T05:00:00Z","FirstName":"John"}`, wantErr: "FirstName: a deletion (DeletedAt) carries no FirstName"},
		{name: "a deletion with pregnancy status", value: `{"PatientId":"1","DeletedAt":"2026-01-02T05:00:00Z","IsPregnant":false}`, wantErr: "IsPregnant: a deletion"},
		{name: "an update and a deletion at once", value: `{"PatientId":"1","DeletedAt":"2026-01-02T05:00:00Z","UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: "UpdatedAt: a deletion"},
		{name: "a deletion without a stamp", value: `{"PatientId":"1","DeletedAt":""}`, wantErr: "DeletedAt: empty"},
		{name: "a deletion with a bad stamp", value: `{"PatientId":"1","DeletedAt":"yesterday"}`, wantErr: "DeletedAt: not an RFC 3339"},
		{name: "a deletion's name in another case", value: `{"PatientId":"1","deletedAt":"2026-01-02T05:00:00Z"}`, wantErr: `names are case-sensitive, the contract's is "DeletedAt"`},
		{name: "not JSON", value: `hello`, wantErr: "decode event"},
		{name: "empty", value: ``, wantErr: "decode event"},
		{name: "missing PatientId", value: `{"UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: "PatientId: missing or empty"},
		{name: "empty PatientId", value: `{"PatientId":"","UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: "PatientId: missing or empty"},
		{name: "numeric PatientId", value: `{"PatientId":1,"UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: "PatientId: must be a string"},
		{name: "string IsPregnant", value: `{"PatientId":"1","IsPregnant":"true","UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: "IsPregnant: must be a bool"},
		{name: "missing UpdatedAt", value: `{"PatientId":"1"}`, wantErr: "UpdatedAt: missing or empty"},
		{name: "UpdatedAt without offset", value: `{"PatientId":"1","UpdatedAt":"2026-01-02T05:00:00"}`, wantErr: "UpdatedAt: not an RFC 3339"},
		{name: "UpdatedAt as number", value: `{"PatientId":"1","UpdatedAt":1767330000}`, wantErr: "UpdatedAt: must be a string"},
		{name: "UpdatedAt year out of range in UTC", value: `{"PatientId":"1","UpdatedAt":"0001-01-01T00:30:00+01:00"}`, wantErr: "outside 0001-9999"},
		{name: "array", value: `[1,2]`, wantErr: "decode event"},
		{name: "trailing data", value: `{"PatientId":"1","UpdatedAt":"2026-01-02T05:00:00Z"} {}`, wantErr: "trailing data"},
		{name: "null", value: `null`, wantErr: "must be a JSON object, got null"},
		{
			name:  "escaped names are the names they spell, unknown fields are ignored",
			value: `{"Patient\u0049d":"7","UpdatedAt":"2026-01-02T05:00:00Z","Diagnosis":{"PatientId":"x","a":[1,"]}"]},"ce_id":null}`,
			want:  profile.Event{PatientID: "7", UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)},
		},
		{
			name:  "escapes and invalid UTF-8 in values decode as encoding/json does",
			value: "{\"PatientId\":\"7\",\"FirstName\":\"J\\u00f6 \\\"Jo\\\"\",\"LastName\":\"\xff\",\"UpdatedAt\":\"2026-01-02T05:00:00Z\"}",
			want:  profile.Event{PatientID: "7", FirstName: "J\u00f6 \"Jo\"", LastName: "\ufffd", UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)},
		},
		// The contract's names are exact. encoding/json would read these as PatientId and
		// FirstName; a consumer in another language would not.
		{name: "lower-case names", value: `{"patientid":"1","firstname":"John","UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: `field "patientid": names are case-sensitive, the contract's is "PatientId"`},
		{name: "a case variant beside the exact name", value: `{"PatientId":"1","PATIENTID":"2","UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: `field "PATIENTID": names are case-sensitive`},
		{name: "a case variant of an optional field", value: `{"PatientId":"1","isPregnant":true,"UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: `field "isPregnant": names are case-sensitive, the contract's is "IsPregnant"`},
		{name: "Unicode folding: long s for s", value: `{"PatientId":"1","ſex":"Female","UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: `names are case-sensitive, the contract's is "Sex"`},
		// Which of two values wins depends on the parser.
		{name: "PatientId twice", value: `{"PatientId":"a","UpdatedAt":"2026-01-02T05:00:00Z","PatientId":"b"}`, wantErr: `field "PatientId" appears more than once`},
		{name: "UpdatedAt twice, once escaped", value: `{"PatientId":"a","UpdatedAt":"2026-01-02T05:00:00Z","Updated\u0041t":"9999-01-01T00:00:00Z"}`, wantErr: `field "UpdatedAt" appears more than once`},
		{name: "twice with null first", value: `{"PatientId":"a","IsPregnant":null,"IsPregnant":true,"UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: `field "IsPregnant" appears more than once`},
		{name: "an unknown field twice", value: `{"PatientId":"a","x":1,"UpdatedAt":"2026-01-02T05:00:00Z","x":2}`, wantErr: `field "x" appears more than once`},
		{name: "numeric FirstName", value: `{"PatientId":"1","FirstName":12,"UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: "FirstName: must be a string, got number"},
		{name: "object EventId", value: `{"PatientId":"1","EventId":{},"UpdatedAt":"2026-01-02T05:00:00Z"}`, wantErr: "EventId: must be a string, got object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := profile.Decode([]byte(tt.value))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := profile.Event{
		EventID: "e1", PatientID: "1", FirstName: "John", LastName: "Doe", IsPregnant: true, Sex: "Female",
		UpdatedAt: time.Date(2026, 1, 2, 15, 0, 0, 500, time.FixedZone("AEST", 10*3600)),
	}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.JSONEq(t, `{"EventId":"e1","PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":true,"Sex":"Female","UpdatedAt":"2026-01-02T05:00:00.0000005Z"}`, string(b))

	out, err := profile.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, 0, profile.Compare(in, out), "round trip changed the version")
	assert.Equal(t, in.UpdatedAt.UTC(), out.UpdatedAt)
}

// The consumer decodes every message and computes its OrderKey once per write.
func BenchmarkDecode(b *testing.B) {
	value := []byte(`{"EventId":"01a218b6-28d2-7d95-817e-6bb4b42f8fb7","PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":false,"Sex":"Female","UpdatedAt":"2026-01-02T15:00:00.5+10:00"}`)
	b.ReportAllocs()
	for b.Loop() {
		e, err := profile.Decode(value)
		if err != nil {
			b.Fatal(err)
		}
		_ = e.OrderKey()
	}
}
