package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The measuring pieces, at toy size: the full run needs the stack and minutes (make bench).

func created(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"EventId":"e-1","PatientId":"p"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLoad(t *testing.T) {
	srv := created(t)
	ctx := context.Background()

	t.Run("closed loop", func(t *testing.T) {
		res, err := closedLoop(ctx, srv.URL+"/patientprofile", "p", 4, 200*time.Millisecond, false)
		require.NoError(t, err)
		assert.Zero(t, res.Errors)
		assert.Positive(t, res.Rate)
		assert.Positive(t, res.P99)
	})

	t.Run("closed loop, a new Idempotency-Key on every request", func(t *testing.T) {
		var mu sync.Mutex
		keys := map[string]int{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			mu.Lock()
			keys[r.Header.Get("Idempotency-Key")]++
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"EventId":"e-1"}`))
		}))
		defer srv.Close()
		res, err := closedLoop(ctx, srv.URL+"/patientprofile", "p", 4, 100*time.Millisecond, true)
		require.NoError(t, err)
		assert.Zero(t, res.Errors)
		mu.Lock()
		defer mu.Unlock()
		assert.NotContains(t, keys, "", "every request has a key")
		for k, n := range keys {
			assert.Equal(t, 1, n, "key %s used twice", k)
		}
	})

	t.Run("open loop reports every 201 with its event id", func(t *testing.T) {
		var mu sync.Mutex
		var ids []string
		res, err := openLoop(ctx, srv.URL+"/patientprofile", "p", 200, 250*time.Millisecond, 2, func(w written) {
			mu.Lock()
			defer mu.Unlock()
			ids = append(ids, w.eventID)
		})
		require.NoError(t, err)
		assert.Zero(t, res.Errors)
		require.NotEmpty(t, ids)
		assert.Equal(t, "e-1", ids[0])
	})

	t.Run("an answer other than 201 is an error", func(t *testing.T) {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
		}))
		defer bad.Close()
		c, err := dialLoad(ctx, bad.URL+"/patientprofile")
		require.NoError(t, err)
		defer c.close()
		_, err = c.post("p")
		assert.ErrorContains(t, err, "400")
	})
}

func TestDelayProxy(t *testing.T) {
	srv := created(t)
	p, err := StartDelayProxy(srv.URL, 30*time.Millisecond)
	require.NoError(t, err)
	defer p.Close()

	c, err := dialLoad(context.Background(), p.Endpoint()+"/patientprofile")
	require.NoError(t, err)
	defer c.close()
	start := time.Now()
	id, err := c.post("p")
	require.NoError(t, err)
	assert.Equal(t, "e-1", id)
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)
}
