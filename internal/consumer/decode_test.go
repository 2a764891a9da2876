package consumer

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

func TestDecodeMessage(t *testing.T) {
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	value := func(patient, updatedAt string) string {
		return fmt.Sprintf(`{"EventId":"e1","PatientId":%q,"UpdatedAt":%q}`, patient, updatedAt)
	}
	tests := []struct {
		name       string
		key, value string
		want       profile.Event
		wantReason string
		wantErr    string
	}{
		{name: "key is the PatientId", key: "1", value: value("1", "2026-11-27T03:00:00Z"),
			want: profile.Event{EventID: "e1", PatientID: "1", UpdatedAt: now}},
		{name: "ahead of the clock by exactly the bound", key: "1", value: value("1", "2026-11-27T03:05:00Z"),
			want: profile.Event{EventID: "e1", PatientID: "1", UpdatedAt: now.Add(5 * time.Minute)}},
		{name: "ahead by the bound in another offset", key: "1", value: value("1", "2026-11-27T13:05:00+10:00"),
			want: profile.Event{EventID: "e1", PatientID: "1", UpdatedAt: now.Add(5 * time.Minute)}},
		{name: "long past", key: "1", value: value("1", "0001-01-01T00:00:00Z"),
			want: profile.Event{EventID: "e1", PatientID: "1", UpdatedAt: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "a nanosecond beyond the bound", key: "1", value: value("1", "2026-11-27T03:05:00.000000001Z"),
			wantReason: ReasonFuture, wantErr: "UpdatedAt 2026-11-27T03:05:00.000000001Z is ahead of the consumer's clock (2026-11-27T03:00:00Z) by more than MAX_CLOCK_SKEW=5m0s"},
		{name: "the end of time", key: "1", value: value("1", "9999-12-31T23:59:59Z"),
			wantReason: ReasonFuture, wantErr: `UpdatedAt 9999-12-31T23:59:59Z is ahead of the consumer's clock`},
		{name: "another patient's key", key: "2", value: value("1", "2026-11-27T03:00:00Z"),
			wantReason: ReasonKeyMismatch, wantErr: `message key "2" is not the event's PatientId "1"`},
		{name: "no key", key: "", value: value("1", "2026-11-27T03:00:00Z"),
			wantReason: ReasonKeyMismatch, wantErr: `message key "" is not the event's PatientId "1"`},
		{name: "a key that differs by case", key: "abc", value: value("ABC", "2026-11-27T03:00:00Z"),
			wantReason: ReasonKeyMismatch, wantErr: `message key "abc" is not the event's PatientId "ABC"`},
		{name: "names by case", key: "1", value: `{"patientid":"1","UpdatedAt":"2026-11-27T03:00:00Z"}`,
			wantReason: ReasonContract, wantErr: `field "patientid": names are case-sensitive`},
		{name: "a name twice", key: "1", value: `{"PatientId":"1","PatientId":"2","UpdatedAt":"2026-11-27T03:00:00Z"}`,
			wantReason: ReasonContract, wantErr: `field "PatientId" appears more than once`},
		{name: "not JSON", key: "1", value: `{`, wantReason: ReasonContract, wantErr: "decode event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := message.Message{Key: []byte(tt.key), Value: []byte(tt.value)}
			if tt.key == "" {
				m.Key = nil
			}
			got, err := decodeMessage(m, now, 5*time.Minute)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, tt.wantReason, deadLetterReason(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDeadLetterReasonOfAStoreRejection(t *testing.T) {
	assert.Equal(t, ReasonStoreRejected, deadLetterReason(fmt.Errorf("put profile 1: %w", errRejected)))
}

func TestConsumerCountsDeadLettersByReason(t *testing.T) {
	future := event("1", 0)
	future.UpdatedAt = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	mismatch := eventMsg(t, 0, 1, event("2", 1))
	mismatch.Key = []byte("3")
	r := &fakeReader{msgs: []message.Message{
		eventMsg(t, 0, 0, future),
		mismatch,
		msg(t, 0, 2, `{"PatientId":"1","UPDATEDAT":"2026-01-02T05:00:00Z"}`),
		eventMsg(t, 0, 3, event("1", 1)),
	}}
	s, d := newFakeStore(0), &fakeDeadLetters{}
	c := New(discard, r, s, d, testConfig)

	require.NoError(t, runUntil(t, c, func() bool { return r.committed()[0] == 4 }))
	assert.Equal(t, map[string]int64{ReasonFuture: 1, ReasonKeyMismatch: 1, ReasonContract: 1, ReasonStoreRejected: 0}, c.DeadLetters())
	assert.Equal(t, Stats{Applied: 1, DeadLettered: 3}, withoutCommits(c.Stats()))
	// The far-future event was never written, so the next real update is applied.
	assert.Equal(t, []profile.Event{event("1", 1)}, s.putsOf("1"))
	// Poison is handled concurrently with the patients' events: the reasons come in any order.
	reasons := d.reasons()
	require.Len(t, reasons, 3)
	assert.Contains(t, reasons[0], "ahead of the consumer's clock")
	assert.Contains(t, reasons[1], `message key "3" is not the event's PatientId "2"`)
	assert.Contains(t, reasons[2], `field "UPDATEDAT": names are case-sensitive`)
}
