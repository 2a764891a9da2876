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
