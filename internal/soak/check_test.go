package soak

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"

	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// The verdict and its line: `make soak` prints it, and people and scripts read it.
func TestResult(t *testing.T) {
	converged := Result{
		Patients: 3, Converged: 3, Erased: 1, PoisonSent: 2, PoisonDeadLettered: 2,
		Kills: 3, ConcurrentKills: 1, KillsInFlight: 2, CrashLoops: 3,
		Events: 30, Duplicates: 3, Deletions: 4, KafkaTombstones: 2, Elapsed: 41234 * time.Millisecond,
	}
	tests := []struct {
		name   string
		change func(*Result)
		want   string
	}{
		{"converged", func(*Result) {}, "converged 3/3 patients (1 left erased), 0 lost, 0 stale, 0 wrong, " +
			"0 leaky tombstones, 2/2 poison dead-lettered (0 unexpected), 4 kills (3 of a lone consumer, " +
			"1 of concurrent ones; 2 mid-stream), 3 crash loops, 30 events (3 duplicates, 4 deletions) " +
			"and 2 Kafka tombstones in 41.2s"},
		{"lost", func(r *Result) { r.Converged, r.Lost = 2, 1 }, "DIVERGED 2/3 patients (1 left erased), 1 lost, "},
		{"stale", func(r *Result) { r.Converged, r.Stale = 2, 1 }, "DIVERGED 2/3 patients (1 left erased), 0 lost, 1 stale"},
		{"wrong", func(r *Result) { r.Converged, r.Wrong = 2, 1 }, "DIVERGED 2/3 patients (1 left erased), 0 lost, 0 stale, 1 wrong"},
		{"a row for a patient never sent", func(r *Result) { r.Wrong = 1 }, "DIVERGED 3/3 patients"},
		{"leaky tombstone", func(r *Result) { r.LeakyTombstones = 1 }, "DIVERGED 3/3 patients"},
		{"poison not dead-lettered", func(r *Result) { r.PoisonDeadLettered = 1 }, "DIVERGED 3/3 patients"},
		{"unexpected dead letter", func(r *Result) { r.UnexpectedDeadLetters = 1 }, "DIVERGED 3/3 patients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := converged
			tt.change(&r)
			assert.Equal(t, tt.name == "converged", r.OK())
			assert.True(t, strings.HasPrefix(r.String(), tt.want), "got %q, want it to start with %q", r, tt.want)
		})
	}
}

func TestCheckRows(t *testing.T) {
	at := time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)
	newest := profile.Event{PatientID: "p1", UpdatedAt: at, EventID: "b", FirstName: "F1-2"}
	erased := profile.Event{PatientID: "p2", UpdatedAt: at, EventID: "c", Deleted: true}
	older := newest
	older.UpdatedAt, older.FirstName = at.Add(-time.Millisecond), "F1-1"
	other := newest
	other.FirstName = "someone else"
	st := &stream{newest: map[string]profile.Event{"p1": newest, "p2": erased}}

	tests := []struct {
		name    string
		rows    map[string]profile.Event
		want    Result
		problem string
	}{
		{"converged", map[string]profile.Event{"p1": newest, "p2": erased}, Result{Converged: 2, Erased: 1}, ""},
		{"lost", map[string]profile.Event{"p1": newest}, Result{Converged: 1, Lost: 1, Erased: 1}, "p2: no row"},
		{"stale", map[string]profile.Event{"p1": older, "p2": erased}, Result{Converged: 1, Stale: 1, Erased: 1},
			"p1: row at 2026-01-02T04:59:59.999Z/\"b\", newest is 2026-01-02T05:00:00Z/\"b\""},
		{"same version, other content", map[string]profile.Event{"p1": other, "p2": erased},
			Result{Converged: 1, Wrong: 1, Erased: 1}, "p1: row {"},
		{"a patient never sent", map[string]profile.Event{"p1": newest, "p2": erased, "poison-3": newest},
			Result{Converged: 2, Wrong: 1, Erased: 1}, "poison-3: a row for a patient never sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Result
			st.checkRows(tt.rows, &got)
			problems := got.Problems
			got.Problems = nil
			assert.Equal(t, tt.want, got)
			if tt.problem == "" {
				assert.Empty(t, problems)
			} else {
				assert.Len(t, problems, 1)
				assert.Contains(t, strings.Join(problems, "\n"), tt.problem)
			}
		})
	}
}

func TestCheckDeadLetters(t *testing.T) {
	const topic = "patient.profile.updated"
	st := &stream{poison: map[string][]byte{"not json 0": []byte("poison-0"), "[1]": nil}}
	parked := func(key, value string, from string, reason error) message.Message {
		var k []byte
		if key != "" {
			k = []byte(key)
		}
		m := message.Message{Topic: from, Partition: 2, Offset: 7, Key: k, Value: []byte(value)}
		return deadletter.New(m, reason)
	}
	bad := errors.New("invalid event")
	both := []message.Message{parked("poison-0", "not json 0", topic, bad), parked("", "[1]", topic, bad)}

	tests := []struct {
		name       string
		dead       []message.Message
		parked     int
		unexpected int
		problem    string
	}{
		{"every poison parked", both, 2, 0, ""},
		{"parked twice, as at least once allows", append(both, both[0]), 2, 0, ""},
		{"a poison never parked", both[:1], 1, 0, `poison never dead-lettered: "[1]"`},
		{"a valid event parked", append(both, parked("p1", `{"PatientId":"p1"}`, topic, bad)), 2, 1,
			"dead letter that is not poison"},
		{"a Kafka tombstone parked", append(both, message.Message{Key: []byte("p1")}), 2, 1,
			`a Kafka tombstone (key "p1") was dead-lettered`},
		{"another key", []message.Message{parked("poison-9", "not json 0", topic, bad), both[1]}, 2, 1,
			`key "poison-9", sent "poison-0"`},
		{"no reason", []message.Message{parked("poison-0", "not json 0", topic, errors.New("")), both[1]}, 2, 1,
			"no error header"},
		{"another source topic", []message.Message{parked("poison-0", "not json 0", "elsewhere", bad), both[1]}, 2, 1,
			`source topic "elsewhere"`},
		{"no dead-letter headers", []message.Message{{Key: []byte("poison-0"), Value: []byte("not json 0")}, both[1]},
			2, 1, "no dlq-source-topic header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Result
			st.checkDeadLetters(tt.dead, topic, &got)
			assert.Equal(t, tt.parked, got.PoisonDeadLettered, "poison dead-lettered")
			assert.Equal(t, tt.unexpected, got.UnexpectedDeadLetters, "unexpected dead letters")
			if tt.problem == "" {
				assert.Empty(t, got.Problems)
			} else {
				assert.Contains(t, strings.Join(got.Problems, "\n"), tt.problem)
			}
		})
	}
}

func TestTombstoneExtras(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	b := func(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }
	tombstone := map[string]types.AttributeValue{
		"PatientId": s("p1"), "OrderKey": s("k"), "EventId": s("e"), "Deleted": b(true),
		"DeletedAt": s("2026-01-02T05:00:00Z"), store.AttrExpiresAt: &types.AttributeValueMemberN{Value: "1"},
	}
	with := func(item map[string]types.AttributeValue, extra ...string) map[string]types.AttributeValue {
		out := map[string]types.AttributeValue{}
		for k, v := range item {
			out[k] = v
		}
		for _, k := range extra {
			out[k] = s("x")
		}
		return out
	}
	tests := []struct {
		name string
		item map[string]types.AttributeValue
		want []string
	}{
		{"a clean tombstone", tombstone, nil},
		{"a tombstone that kept profile data", with(tombstone, "Sex", "FirstName"), []string{"FirstName", "Sex"}},
		{"a profile is not a tombstone", map[string]types.AttributeValue{"PatientId": s("p1"), "FirstName": s("F")}, nil},
		{"Deleted false is not a tombstone", with(map[string]types.AttributeValue{"Deleted": b(false)}, "FirstName"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tombstoneExtras(tt.item))
		})
	}
}

// A run that loses everything must still print a readable verdict: the first few differences.
func TestProblemsAreCapped(t *testing.T) {
	st := &stream{newest: map[string]profile.Event{}}
	for i := range maxProblems + 5 {
		st.newest[fmt.Sprintf("p%d", i)] = profile.Event{}
	}
	var got Result
	st.checkRows(map[string]profile.Event{}, &got)
	assert.Equal(t, maxProblems+5, got.Lost)
	assert.Len(t, got.Problems, maxProblems)
}
