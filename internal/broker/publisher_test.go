package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

// Concurrent requests share the Writer's batches and the recycled value buffers; each must still
// get its own answer, and its event must land once, whole, on its patient's partition, in each
// patient's order of publishing.
func TestPublisherGroupsConcurrentRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs without -short")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "events"))
	require.NoError(t, err)
	defer c.Close()
	pub := NewPublisher(Cluster{Brokers: c.ListenAddrs()}, "events", "/patient-profile/test")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const patients, each = 50, 20
	t0 := time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for p := range patients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := profile.Event{EventID: fmt.Sprintf("%d-%d", p, i), PatientID: fmt.Sprint(p), FirstName: "Zoë <&>", UpdatedAt: t0.Add(time.Duration(i))}
				assert.NoError(t, pub.Publish(ctx, e))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, pub.Close(context.Background()))

	next := map[string]int{}
	partitionOf := map[string]int{}
	msgs, err := ReadAll(ctx, Cluster{Brokers: c.ListenAddrs()}, "events")
	require.NoError(t, err)
	for _, m := range msgs {
		e, err := profile.Decode(m.Value)
		require.NoError(t, err)
		assert.Equal(t, e.PatientID, string(m.Key))
		assert.Equal(t, fmt.Sprintf("%s-%d", e.PatientID, next[e.PatientID]), e.EventID,
			"patient %s out of order or duplicated", e.PatientID)
		assert.Equal(t, "Zoë <&>", e.FirstName)
		next[e.PatientID]++
		if p, ok := partitionOf[e.PatientID]; ok {
			assert.Equal(t, p, m.Partition, "patient %s on two partitions", e.PatientID)
		}
		partitionOf[e.PatientID] = m.Partition
	}
	assert.Len(t, next, patients)
	for p, n := range next {
		assert.Equal(t, each, n, "patient %s", p)
	}
}

func TestPublisherAnswersWithinItsContextWhenTheBrokerIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs without -short")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"))
	require.NoError(t, err)
	pub := NewPublisher(Cluster{Brokers: c.ListenAddrs()}, "events", "/patient-profile/test")
	require.NoError(t, pub.Publish(context.Background(), profile.Event{EventID: "1", PatientID: "1"}))
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = pub.Publish(ctx, profile.Event{EventID: "2", PatientID: "1"})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
}
