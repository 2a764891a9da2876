package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// An erasure holds whatever order its patient's events arrive in, with two consumers racing in
// one group: an update u1, the deletion d2, a stale update u0 and d2 delivered again, in each of
// the 24 orders, one patient per order, published around the producer as another producer (or
// kcat) could. Every row ends as d2's tombstone and keeps no profile data; a newer update then
// registers the patient again, and a Kafka tombstone (a null value) is committed as it is,
// never dead-lettered, and changes nothing.
func TestErasureHoldsInEveryOrder(t *testing.T) {
	logs := logtest.New(t)
	s := startStack(t, logs)
	a, b := devenvtest.FreePort(t), devenvtest.FreePort(t)
	start(t, "consumer", s.ConsumerEnv(a), a, logs)
	start(t, "consumer", s.ConsumerEnv(b), b, logs)
	// Both hold partitions before anything is published, so both work at once.
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := broker.Assignments(ctx, s.Cluster(), s.Group, s.Topic)
		return err == nil && len(got) == 2 && len(got[0]) > 0 && len(got[1]) > 0
	}, 30*time.Second, 100*time.Millisecond, "the two consumers never shared the partitions")

	const (
		u0 = `{"EventId":"u0","PatientId":"%s","FirstName":"Stale","LastName":"Zero","IsPregnant":true,"Sex":"female","UpdatedAt":"2026-01-02T15:00:00.5+10:00"}`
		u1 = `{"EventId":"u1","PatientId":"%s","FirstName":"Before","LastName":"One","Sex":"male","UpdatedAt":"2026-01-02T05:00:01Z"}`
		d2 = `{"EventId":"d2","PatientId":"%s","DeletedAt":"2026-01-02T00:00:01.250000-05:00"}`
		u3 = `{"EventId":"u3","PatientId":"%s","FirstName":"Again","LastName":"Three","UpdatedAt":"2026-01-02T05:00:02Z"}`
	)
	deletedAt := time.Date(2026, 1, 2, 5, 0, 1, 250_000_000, time.UTC)
	var patients []string
	var msgs []message.Message
	for i, order := range permutations([]string{u1, d2, u0, d2}) {
		patient := "erase-" + strconv.Itoa(i)
		patients = append(patients, patient)
		for _, v := range order {
			msgs = append(msgs, message.Message{Key: []byte(patient), Value: []byte(fmt.Sprintf(v, patient))})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := broker.NewWriter(s.Cluster(), s.Topic)
	defer w.Close(context.Background())
	// One write: each partition gets its patients' messages in the order listed.
	require.NoError(t, w.Write(ctx, msgs...))
	waitNoLag(t, s, 30*time.Second)

	tombstone := func(patient string) profile.Event {
		return profile.Event{EventID: "d2", PatientID: patient, UpdatedAt: deletedAt, Deleted: true}
	}
	raw := rawItems(t, s)
	for i, patient := range patients {
		got, ok, err := s.Store.Get(ctx, patient)
		require.NoError(t, err)
		require.True(t, ok, "%s: no row", patient)
		assert.Equal(t, tombstone(patient), got, "%s (order %d)", patient, i)
		assert.Equal(t, []string{"Deleted", "DeletedAt", "EventId", store.AttrExpiresAt, "OrderKey", "PatientId"}, raw(patient),
			"%s: a tombstone item holds the key, the order and the deletion, and no profile data", patient)
	}

	// The first patient registers again; the second gets the Kafka tombstone a producer
	// publishes after a deletion.
	again, nulled := patients[0], patients[1]
	require.NoError(t, w.Write(ctx,
		message.Message{Key: []byte(again), Value: []byte(fmt.Sprintf(u3, again))},
		message.Message{Key: []byte(nulled)},
	))
	waitNoLag(t, s, 30*time.Second)

	got, ok, err := s.Store.Get(ctx, again)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, profile.Event{EventID: "u3", PatientID: again, FirstName: "Again", LastName: "Three",
		UpdatedAt: time.Date(2026, 1, 2, 5, 0, 2, 0, time.UTC)}, got, "a newer update replaces the tombstone")
	assert.NotContains(t, raw(again), "Deleted")

	got, ok, err = s.Store.Get(ctx, nulled)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, tombstone(nulled), got, "a Kafka tombstone changes nothing")

	dead, err := broker.ReadAll(ctx, s.Cluster(), s.DLQTopic)
	require.NoError(t, err)
	var deadValues []string
	for _, m := range dead {
		deadValues = append(deadValues, fmt.Sprintf("key %q value %q", m.Key, m.Value))
	}
	assert.Empty(t, deadValues, "nothing here is poison")
	// The consumers count what they commit before committing it, so with no lag both counts are
	// final: the null value was committed as a Kafka tombstone, by whichever consumer held it.
	assert.Equal(t, 1, outcomes(t, a, "kafka_tombstone")+outcomes(t, b, "kafka_tombstone"))
	for _, port := range []int{a, b} {
		assert.Positive(t, outcomes(t, port, "applied"), "both consumers took part")
	}
}

// permutations returns every order of vs (n! of them, repeats included).
func permutations(vs []string) [][]string {
	if len(vs) <= 1 {
		return [][]string{slices.Clone(vs)}
	}
	var out [][]string
	for i := range vs {
		rest := slices.Concat(vs[:i], vs[i+1:])
		for _, p := range permutations(rest) {
			out = append(out, append([]string{vs[i]}, p...))
		}
	}
	return out
}

// rawItems returns a function that lists, sorted, the attribute names of a patient's item as
// DynamoDB holds it: the store reads a tombstone back without any other attribute, so only the
// raw item shows what an erasure left behind.
func rawItems(t *testing.T, s *devenv.Stack) func(patient string) []string {
	client, err := store.NewClient(context.Background(), s.Dynalite.Endpoint(), "", 1)
	require.NoError(t, err)
	return func(patient string) []string {
		out, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{
			TableName:      aws.String(s.Table),
			Key:            map[string]types.AttributeValue{"PatientId": &types.AttributeValueMemberS{Value: patient}},
			ConsistentRead: aws.Bool(true),
		})
		require.NoError(t, err)
		var names []string
		for name := range out.Item {
			names = append(names, name)
		}
		slices.Sort(names)
		return names
	}
}

// outcomes is how many messages the consumer serving port brought to outcome.
func outcomes(t *testing.T, port int, outcome string) int {
	prefix := `patient_profile_consumer_events_total{outcome="` + outcome + `"} `
	for line := range strings.Lines(metrics(t, port)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			n, err := strconv.Atoi(v)
			require.NoError(t, err)
			return n
		}
	}
	return 0
}
