package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/config"
)

func TestLoadConsumerDefaults(t *testing.T) {
	c, err := config.LoadConsumer()
	require.NoError(t, err)
	assert.Equal(t, 3001, c.Port)
	assert.Equal(t, []string{"localhost:9092"}, c.Brokers)
	assert.Equal(t, "patient.profile.updated", c.Topic)
	assert.Equal(t, "consultation", c.Group)
	assert.Equal(t, "patient.profile.updated.dlq", c.DLQTopic)
	assert.Equal(t, "patient-profile", c.Table)
	assert.Empty(t, c.Host)
	assert.Equal(t, 10*time.Second, c.ShutdownTimeout)
}

func TestLoadProducer(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    func(t *testing.T, c config.Producer)
		wantErr string
	}{
		{
			name: "defaults",
			want: func(t *testing.T, c config.Producer) {
				assert.Equal(t, 3000, c.Port)
				assert.Equal(t, []string{"localhost:9092"}, c.Brokers)
				assert.Equal(t, "patient.profile.updated", c.Topic)
				assert.Equal(t, 5*time.Second, c.PublishTimeout)
			},
		},
		{
			name: "overrides",
			env:  map[string]string{"SERVER_PORT": "8080", "KAFKA_BROKERS": "b1:9092, b2:9092,", "TOPIC_NAME": "t", "PUBLISH_TIMEOUT": "250ms"},
			want: func(t *testing.T, c config.Producer) {
				assert.Equal(t, 8080, c.Port)
				assert.Equal(t, []string{"b1:9092", "b2:9092"}, c.Brokers)
				assert.Equal(t, "t", c.Topic)
				assert.Equal(t, 250*time.Millisecond, c.PublishTimeout)
			},
		},
		{name: "port not a number", env: map[string]string{"SERVER_PORT": "abc"}, wantErr: `SERVER_PORT="abc"`},
		{name: "port out of range", env: map[string]string{"SERVER_PORT": "70000"}, wantErr: "SERVER_PORT=70000"},
		{name: "no brokers", env: map[string]string{"KAFKA_BROKERS": " , "}, wantErr: "KAFKA_BROKERS"},
		{name: "bad duration", env: map[string]string{"PUBLISH_TIMEOUT": "soon"}, wantErr: "PUBLISH_TIMEOUT"},
		{name: "zero duration", env: map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, wantErr: "SHUTDOWN_TIMEOUT"},
		{
			name: "TLS and SCRAM",
			env: map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": "/ca.pem", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
				"KAFKA_SASL_USERNAME": "svc", "KAFKA_SASL_PASSWORD": "secret"},
			want: func(t *testing.T, c config.Producer) {
				assert.True(t, c.TLS)
				assert.Equal(t, "/ca.pem", c.TLSCAFile)
				assert.Equal(t, "SCRAM-SHA-512", c.SASLMechanism)
			},
		},
		{name: "unknown SASL mechanism", env: map[string]string{"KAFKA_SASL_MECHANISM": "GSSAPI"}, wantErr: "KAFKA_SASL_MECHANISM"},
		{name: "SASL without a password", env: map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u"}, wantErr: "KAFKA_SASL_PASSWORD"},
		{name: "CA file without TLS", env: map[string]string{"KAFKA_TLS_CA_FILE": "/ca.pem"}, wantErr: "KAFKA_TLS"},
		{name: "TLS not a boolean", env: map[string]string{"KAFKA_TLS": "maybe"}, wantErr: "KAFKA_TLS"},
		{name: "publish timeout not under the shutdown bound", env: map[string]string{"PUBLISH_TIMEOUT": "10s", "SHUTDOWN_TIMEOUT": "10s"}, wantErr: "PUBLISH_TIMEOUT=10s must be less than SHUTDOWN_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := config.LoadProducer()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "\n", "the error must be one line")
				return
			}
			require.NoError(t, err)
			tt.want(t, c)
		})
	}
}

func TestLoadConsumerStoreTimeoutFitsTheShutdown(t *testing.T) {
	t.Setenv("DDB_TIMEOUT", "6s")
	_, err := config.LoadConsumer()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DDB_TIMEOUT=6s must be at most half of SHUTDOWN_TIMEOUT")

	t.Setenv("SHUTDOWN_TIMEOUT", "20s")
	_, err = config.LoadConsumer()
	assert.NoError(t, err)
}

func TestLoadConsumerNamesTheVariable(t *testing.T) {
	for _, key := range []string{"COMMIT_INTERVAL", "KAFKA_SESSION_TIMEOUT", "DDB_TIMEOUT", "RETRY_MAX_BACKOFF"} {
		t.Run(key, func(t *testing.T) {
			t.Setenv(key, "-1s")
			_, err := config.LoadConsumer()
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "config: "+key), "got %q", err)
		})
	}
}

func TestLoadConsumerBounds(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		want    [2]int
	}{
		{name: "defaults", want: [2]int{64, 4096}},
		{name: "overrides", env: map[string]string{"MAX_IN_FLIGHT": "128", "MAX_BUFFERED": "10000"}, want: [2]int{128, 10000}},
		{name: "no workers", env: map[string]string{"MAX_IN_FLIGHT": "0"}, wantErr: "MAX_IN_FLIGHT=0 must be between 1 and 4096"},
		{name: "a buffer smaller than the workers", env: map[string]string{"MAX_IN_FLIGHT": "64", "MAX_BUFFERED": "10"}, wantErr: "MAX_BUFFERED=10 must be between 64"},
		{name: "not a number", env: map[string]string{"MAX_BUFFERED": "lots"}, wantErr: `MAX_BUFFERED="lots"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := config.LoadConsumer()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, [2]int{c.MaxInFlight, c.MaxBuffered})
		})
	}
}
