package profile

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// AppendJSON replaces encoding/json on the producer's path: its bytes must be encoding/json's,
// whatever the strings hold.
func TestAppendJSONIsEncodingJSON(t *testing.T) {
	strs := []string{"", "John", "Zoë 李", `quote " and \ backslash`, "<script>&</script>", "tab\tnew\nline\rcr\bbs\fff",
		"\x00\x01\x1f\x7f", "bad \xff\xfe utf-8", "truncated \xe2\x82", "line\u2028sep\u2029para", "emoji 🩺", "\u00e9\u0301"}
	times := []time.Time{
		time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 2, 15, 0, 0, 500_000_000, time.FixedZone("", 10*3600)),
		time.Date(2026, 1, 2, 5, 0, 0, 123456789, time.UTC),
	}
	for i, s := range strs {
		e := Event{EventID: s, PatientID: strs[(i+1)%len(strs)], FirstName: s, LastName: strs[(i+2)%len(strs)], Sex: s,
			IsPregnant: i%2 == 0, UpdatedAt: times[i%len(times)]}
		want, err := json.Marshal(wireEvent{EventID: e.EventID, PatientID: e.PatientID, FirstName: e.FirstName, LastName: e.LastName,
			IsPregnant: e.IsPregnant, Sex: e.Sex, UpdatedAt: e.UpdatedAt.UTC().Format(time.RFC3339Nano)})
		require.NoError(t, err)
		got, err := e.MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "strings %q", s)
		assert.Equal(t, string(want), string(e.AppendJSON([]byte("x"))[1:]))

		d := Event{EventID: e.EventID, PatientID: e.PatientID, UpdatedAt: e.UpdatedAt, Deleted: true}
		want, err = json.Marshal(wireDeletion{EventID: d.EventID, PatientID: d.PatientID, DeletedAt: d.UpdatedAt.UTC().Format(time.RFC3339Nano)})
		require.NoError(t, err)
		got, err = d.MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "deletion, strings %q", s)
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := Event{EventID: "0193c1f0-7d2a-7cc4-9d5e-0a1b2c3d4e5f", PatientID: "1", FirstName: "John", LastName: "Doe", Sex: "Female",
		UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 123456789, time.UTC)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
}
