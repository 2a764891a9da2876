package soak

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The load's retries tell a producer that keeps a retry at its first stamp from one that stamps
// it afresh, which could overwrite an update acknowledged in between.
func TestRetriesWithTheKeyAreNeverNewer(t *testing.T) {
	tests := []struct {
		name         string
		keepsStamp   bool
		keyStoreDown bool
		want         ProducerResult
	}{
		{"503, and the retry repeats the first event", true, false,
			ProducerResult{Sent: 1, Unavailable: 1, Retried: 1, RetriedAcknowledged: 1}},
		{"503, and the retry is stamped anew", false, false,
			ProducerResult{Sent: 1, Unavailable: 1, Retried: 1, RetriedAcknowledged: 1, RetriedNewer: 1}},
		{"503 from the key table: nothing published, nothing to repeat", false, true,
			ProducerResult{Sent: 1, Unavailable: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			stamps := map[string]time.Time{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				key := r.Header.Get("Idempotency-Key")
				first, seen := stamps[key]
				if !seen {
					stamps[key] = time.Now()
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(http.StatusServiceUnavailable)
					if tt.keyStoreDown {
						_, _ = fmt.Fprint(w, `{"type":"tag:patient-profile,2025:problem/key-store-unavailable"}`)
					}
					return
				}
				stamp := first
				if !tt.keepsStamp {
					stamp = time.Now()
				}
				w.WriteHeader(http.StatusCreated)
				_, _ = fmt.Fprintf(w, `{"EventId":"e-%s","UpdatedAt":%q}`, key, stamp.Format(time.RFC3339Nano))
			}))
			defer srv.Close()

			var l load
			l.send(context.Background(), srv.Client(), srv.URL, "net-1", 1)
			got := l.res
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want.RetriedNewer == 0, got.OK())
		})
	}
}
