package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// writeStamp replaces encoding/json for the 201 and the 202: its answer must be encoding/json's.
func TestWriteStampIsEncodingJSON(t *testing.T) {
	tests := []struct {
		name   string
		e      profile.Event
		status int
		stamp  string
	}{
		{"an update", profile.Event{EventID: "0193c1f0-0000-7000-8000-000000000001", PatientID: "a.B-9",
			UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 123_456_789, time.UTC)}, http.StatusCreated, "UpdatedAt"},
		{
			"a whole second",
			profile.Event{EventID: "e", PatientID: "1", UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)},
			http.StatusCreated, "UpdatedAt"},
		{
			"a deletion",
			profile.Event{EventID: "e", PatientID: "1", Deleted: true,
				UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 5, time.UTC)},
			http.StatusAccepted, "DeletedAt"},
		{
			"strings to escape",
			profile.Event{EventID: `<"&">`, PatientID: "\u2028\x01",
				UpdatedAt: time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)},
			http.StatusCreated, "UpdatedAt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := httptest.NewRecorder()
			encode(want, tt.status, map[string]string{"EventId": tt.e.EventID, "PatientId": tt.e.PatientID,
				tt.stamp: tt.e.UpdatedAt.Format(time.RFC3339Nano)})
			got := httptest.NewRecorder()
			writeStamp(got, tt.status, tt.e, tt.stamp)

			assert.Equal(t, want.Code, got.Code)
			assert.Equal(t, want.Header(), got.Header())
			var wantBody, gotBody map[string]string
			require.NoError(t, json.Unmarshal(want.Body.Bytes(), &wantBody))
			require.NoError(t, json.Unmarshal(got.Body.Bytes(), &gotBody))
			assert.Equal(t, wantBody, gotBody)
			// The same bytes too, in the struct's order (a map's keys come out sorted).
			order, err := json.Marshal(struct {
				EventID   string `json:"EventId"`
				PatientID string `json:"PatientId"`
			}{tt.e.EventID, tt.e.PatientID})
			require.NoError(t, err)
			stamp := `,"` + tt.stamp + `":"` + tt.e.UpdatedAt.Format(time.RFC3339Nano) + "\"}\n"
			assert.Equal(t, string(order[:len(order)-1])+stamp, got.Body.String())
		})
	}
}

func TestFlexibleBool(t *testing.T) {
	tests := []struct {
		raw         string
		want        bool
		wantProblem string
	}{
		{raw: "", want: false},
		{raw: `null`, want: false},
		{raw: `true`, want: true},
		{raw: `false`, want: false},
		{raw: `"False"`, want: false},
		{raw: `" TRUE\u00a0"`, want: true},
		{raw: `"\u0074rue"`, want: true},
		{raw: `"falſe"`, wantProblem: `must be true or false (a JSON boolean or the string "true"/"false")`},
		{raw: `"yes"`, wantProblem: `must be true or false (a JSON boolean or the string "true"/"false")`},
		{raw: `1`, wantProblem: `must be true or false (a JSON boolean or the string "true"/"false"), got a number`},
		{raw: `{}`, wantProblem: `must be true or false (a JSON boolean or the string "true"/"false"), got an object`},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			var raw []byte
			if tt.raw != "" {
				raw = []byte(tt.raw)
			}
			got, problem := flexibleBool(raw)
			assert.Equal(t, tt.wantProblem, problem)
			assert.Equal(t, tt.want, got)
		})
	}
}
