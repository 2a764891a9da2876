package store

import (
	"context"
	"fmt"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With fewer idle connections than calls in flight, every call beyond them opens a connection
// and closes it when done: connection churn at exactly the load that needs connections most.
func TestNewClientKeepsAConnectionPerCallInFlight(t *testing.T) {
	tests := []struct {
		conns, want int
	}{
		{1, awshttp.DefaultHTTPTransportMaxIdleConnsPerHost},
		{64, 64},
		{500, 500},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.conns), func(t *testing.T) {
			client, err := NewClient(context.Background(), "http://127.0.0.1:1", "", tt.conns)
			require.NoError(t, err)
			hc, ok := client.Options().HTTPClient.(*awshttp.BuildableClient)
			require.True(t, ok, "got HTTP client %T", client.Options().HTTPClient)
			tr := hc.GetTransport()
			assert.Equal(t, tt.want, tr.MaxIdleConnsPerHost)
			assert.GreaterOrEqual(t, tr.MaxIdleConns, tt.want)
			assert.False(t, tr.DisableKeepAlives)
			assert.NotZero(t, tr.IdleConnTimeout)
			assert.NotZero(t, hc.GetDialer().Timeout)
		})
	}
}
