package config_test

import (
	"fmt"
	"os"
	"path/filepath"
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
	assert.Equal(t, 5*time.Minute, c.MaxClockSkew)
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
		{
			name: "tokens from the list and the file",
			env: map[string]string{"API_TOKENS": "aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb,",
				"API_TOKENS_FILE": writeFile(t, "# ops\ncccccccccccccccc\n\n  dddddddddddddddd  \n")},
			want: func(t *testing.T, c config.Producer) {
				assert.Equal(t, []string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc", "dddddddddddddddd"}, c.APITokens)
			},
		},
		{name: "no tokens by default", want: func(t *testing.T, c config.Producer) {
			assert.Empty(t, c.APITokens)
			assert.Equal(t, 1024, c.MaxInFlightPublishes)
			assert.Equal(t, "/patient-profile/producer", c.EventSource)
			assert.False(t, c.ExportTraces())
		}},
		{name: "traces exported when an OTLP endpoint is set", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			want: func(t *testing.T, c config.Producer) { assert.True(t, c.ExportTraces()) }},
		{name: "or only the traces endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"},
			want: func(t *testing.T, c config.Producer) { assert.True(t, c.ExportTraces()) }},
		{name: "empty event source", env: map[string]string{"EVENT_SOURCE": " "}, wantErr: "EVENT_SOURCE"},
		{name: "token too short", env: map[string]string{"API_TOKENS": "short"}, wantErr: "API_TOKENS: token 1 must be at least 16"},
		{name: "token file missing", env: map[string]string{"API_TOKENS_FILE": "/nonexistent/tokens"}, wantErr: "API_TOKENS_FILE"},
		{name: "in-flight bound not positive", env: map[string]string{"MAX_IN_FLIGHT_PUBLISHES": "0"}, wantErr: "MAX_IN_FLIGHT_PUBLISHES=0"},
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
		{
			name: "MSK IAM over TLS",
			env:  map[string]string{"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM"},
			want: func(t *testing.T, c config.Producer) { assert.Equal(t, "AWS_MSK_IAM", c.SASLMechanism) },
		},
		{name: "MSK IAM without TLS", env: map[string]string{"KAFKA_SASL_MECHANISM": "AWS_MSK_IAM"}, wantErr: "AWS_MSK_IAM needs KAFKA_TLS=true"},
		{name: "MSK IAM with a password", env: map[string]string{"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM", "KAFKA_SASL_PASSWORD": "p"}, wantErr: "takes no KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD"},
		{name: "MSK IAM misspelt", env: map[string]string{"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM "}, wantErr: "AWS_MSK_IAM"},
		{name: "CA file without TLS", env: map[string]string{"KAFKA_TLS_CA_FILE": "/ca.pem"}, wantErr: "KAFKA_TLS"},
		{
			name: "brokers reached through a port-forward",
			env:  map[string]string{"KAFKA_ADDRESS_MAP": "kafka-0:9092=127.0.0.1:19092, kafka-1:9092=127.0.0.1:19093"},
			want: func(t *testing.T, c config.Producer) {
				assert.Equal(t, map[string]string{"kafka-0:9092": "127.0.0.1:19092", "kafka-1:9092": "127.0.0.1:19093"},
					c.Redirect())
			},
		},
		{name: "an address map entry without its pair", env: map[string]string{"KAFKA_ADDRESS_MAP": "kafka-0:9092"},
			wantErr: `KAFKA_ADDRESS_MAP entry "kafka-0:9092" must be ADVERTISED=DIAL`},
		{name: "an address map entry without a port", env: map[string]string{"KAFKA_ADDRESS_MAP": "kafka-0=127.0.0.1:1"},
			wantErr: "KAFKA_ADDRESS_MAP"},
		{name: "TLS not a boolean", env: map[string]string{"KAFKA_TLS": "maybe"}, wantErr: "KAFKA_TLS"},
		{name: "publish timeout not under the shutdown bound", env: map[string]string{"PUBLISH_TIMEOUT": "10s", "SHUTDOWN_TIMEOUT": "10s"}, wantErr: "PUBLISH_TIMEOUT=10s must be less than SHUTDOWN_TIMEOUT"},
		{name: "keys by default", want: func(t *testing.T, c config.Producer) {
			assert.Equal(t, "patient-profile-idempotency", c.KeyTable)
			assert.Equal(t, 24*time.Hour, c.KeyTTL)
			assert.Equal(t, 10*time.Second, c.KeyLease)
			assert.Equal(t, time.Second, c.KeyTimeout)
			assert.False(t, c.KeyRequired)
			assert.Empty(t, c.Idempotency.Host)
		}},
		{name: "keys on a local endpoint, required", env: map[string]string{"DDB_HOST": "http://localhost:4566",
			"IDEMPOTENCY_TABLE": "keys", "IDEMPOTENCY_REQUIRED": "true", "IDEMPOTENCY_TTL": "1h"},
			want: func(t *testing.T, c config.Producer) {
				assert.Equal(t, "http://localhost:4566", c.Idempotency.Host)
				assert.Equal(t, "keys", c.KeyTable)
				assert.True(t, c.KeyRequired)
				assert.Equal(t, time.Hour, c.KeyTTL)
			}},
		{name: "keys off", env: map[string]string{"IDEMPOTENCY_TABLE": ""},
			want: func(t *testing.T, c config.Producer) { assert.Empty(t, c.KeyTable) }},
		{name: "keys required but off", env: map[string]string{"IDEMPOTENCY_TABLE": "", "IDEMPOTENCY_REQUIRED": "true"},
			wantErr: "IDEMPOTENCY_REQUIRED=true needs IDEMPOTENCY_TABLE"},
		{name: "a key TTL of zero", env: map[string]string{"IDEMPOTENCY_TTL": "0s"}, wantErr: "IDEMPOTENCY_TTL=0s must be positive"},
		{name: "a lease a request can outlast", env: map[string]string{"IDEMPOTENCY_LEASE": "6s"},
			wantErr: "PUBLISH_TIMEOUT plus twice IDEMPOTENCY_TIMEOUT=7s must be less than IDEMPOTENCY_LEASE"},
		{name: "key calls that do not fit the shutdown", env: map[string]string{"IDEMPOTENCY_TIMEOUT": "3s", "IDEMPOTENCY_LEASE": "1m"},
			wantErr: "PUBLISH_TIMEOUT plus twice IDEMPOTENCY_TIMEOUT=11s must be less than SHUTDOWN_TIMEOUT"},
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
	for _, key := range []string{"COMMIT_INTERVAL", "KAFKA_SESSION_TIMEOUT", "DDB_TIMEOUT", "RETRY_MAX_BACKOFF", "TOMBSTONE_TTL", "MAX_CLOCK_SKEW"} {
		t.Run(key, func(t *testing.T) {
			t.Setenv(key, "-1s")
			_, err := config.LoadConsumer()
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "config: "+key), "got %q", err)
		})
	}
}

func TestLoadDevStack(t *testing.T) {
	t.Setenv("TOPIC_NAME", "mine")
	t.Setenv("DYNALITE_DATA", "/tmp/ddb")
	c, err := config.LoadDevStack()
	require.NoError(t, err)
	assert.Equal(t, "mine", c.Topic, "the stack creates the topic the services are told to use")
	assert.Equal(t, "patient.profile.updated.dlq", c.DLQTopic)
	assert.Equal(t, "patient-profile", c.Table)
	assert.Equal(t, 9092, c.KafkaPort)
	assert.Equal(t, 4566, c.DynamoDBPort)
	assert.Equal(t, "/tmp/ddb", c.DynaliteData)
	assert.Equal(t, 3000, c.ProducerPort)
	assert.Equal(t, 3001, c.ConsumerPort)
	assert.Equal(t, "patient-profile-idempotency", c.KeyTable, "the table the producer looks for by default")

	t.Setenv("PRODUCER_PORT", "70000")
	_, err = config.LoadDevStack()
	assert.ErrorContains(t, err, "PRODUCER_PORT=70000")

	t.Setenv("KAFKA_PORT", "0")
	_, err = config.LoadDevStack()
	assert.ErrorContains(t, err, "KAFKA_PORT=0")
}

func TestShutdownBudget(t *testing.T) {
	for _, total := range []time.Duration{10 * time.Second, 3 * time.Second, time.Minute} {
		t.Run(total.String(), func(t *testing.T) {
			t.Setenv("SHUTDOWN_TIMEOUT", total.String())
			t.Setenv("DDB_TIMEOUT", (total / 2).String())
			c, err := config.LoadConsumer()
			require.NoError(t, err)
			drain, closing := c.ShutdownBudget()
			assert.Equal(t, total, drain+closing, "the parts add up to the whole bound")
			assert.Greater(t, drain-c.Timeout, closing/2, "a write in flight leaves time for the final commit")
		})
	}
}

func TestLoadReplay(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    config.Replay
		wantErr string
	}{
		{
			name: "defaults",
			want: config.Replay{Kafka: config.Kafka{Brokers: []string{"localhost:9092"}, Topic: "patient.profile.updated"},
				DLQTopic: "patient.profile.updated.dlq"},
		},
		{
			name: "the consumer's variables",
			env: map[string]string{"KAFKA_BROKERS": "b1:9092, b2:9092", "TOPIC_NAME": "t", "DLQ_TOPIC": "t.dlq",
				"KAFKA_TLS": "true", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
			want: config.Replay{Kafka: config.Kafka{Brokers: []string{"b1:9092", "b2:9092"}, Topic: "t",
				KafkaSecurity: config.KafkaSecurity{TLS: true, SASLMechanism: "PLAIN", SASLUsername: "u", SASLPassword: "p"}},
				DLQTopic: "t.dlq"},
		},
		{name: "empty dead-letter topic", env: map[string]string{"DLQ_TOPIC": " "}, wantErr: "DLQ_TOPIC must not be empty"},
		{name: "dead-letter topic is the event topic", env: map[string]string{"DLQ_TOPIC": "patient.profile.updated"}, wantErr: "must differ from TOPIC_NAME"},
		{name: "SASL without a password", env: map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u"}, wantErr: "KAFKA_SASL_PASSWORD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := config.LoadReplay()
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c)
		})
	}
}

// -h on each binary prints this table: every variable, with its default and a meaning.
func TestUsage(t *testing.T) {
	kafka := []string{"SERVER_PORT", "KAFKA_BROKERS", "TOPIC_NAME", "KAFKA_TLS", "KAFKA_TLS_CA_FILE", "KAFKA_SASL_MECHANISM",
		"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_ADDRESS_MAP"}
	tests := []struct {
		name string
		spec any
		want []string
	}{
		{"producer", &config.Producer{}, append(kafka, "PUBLISH_TIMEOUT", "EVENT_SOURCE", "MAX_IN_FLIGHT_PUBLISHES", "API_TOKENS", "API_TOKENS_FILE",
			"DDB_HOST", "AWS_REGION", "IDEMPOTENCY_TABLE", "IDEMPOTENCY_TTL", "IDEMPOTENCY_LEASE", "IDEMPOTENCY_TIMEOUT", "IDEMPOTENCY_REQUIRED",
			"SHUTDOWN_TIMEOUT", "LOG_LEVEL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")},
		{"consumer", &config.Consumer{}, append(kafka, "CONSUMER_GROUP", "DLQ_TOPIC", "KAFKA_SESSION_TIMEOUT", "COMMIT_INTERVAL", "MAX_IN_FLIGHT", "MAX_BUFFERED",
			"DDB_HOST", "AWS_REGION", "DDB_NAME", "DDB_TIMEOUT", "TOMBSTONE_TTL", "RETRY_MAX_BACKOFF", "MAX_CLOCK_SKEW", "SHUTDOWN_TIMEOUT", "LOG_LEVEL",
			"API_TOKENS", "API_TOKENS_FILE", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")},
		{"devstack", &config.Embedded{}, []string{"KAFKA_PORT", "DDB_PORT", "DYNALITE_DATA", "DYNALITE_BIN", "PRODUCER_PORT", "CONSUMER_PORT",
			"CONSOLE_PORT", "IDEMPOTENCY_TABLE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			require.NoError(t, config.Usage(&b, tt.spec))
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			require.NotEmpty(t, lines)
			var keys []string
			for _, line := range lines[1:] {
				fields := strings.Fields(line)
				require.GreaterOrEqual(t, len(fields), 3, "variable, default and meaning in %q", line)
				keys = append(keys, fields[0])
			}
			assert.Equal(t, tt.want, keys)
		})
	}
	var b strings.Builder
	require.NoError(t, config.Usage(&b, &config.Producer{}))
	assert.Regexp(t, `(?m)^  PUBLISH_TIMEOUT +5s +how long`, b.String())
	assert.Regexp(t, `(?m)^  KAFKA_TLS_CA_FILE +\(empty\) +PEM`, b.String())
}

// docs/configuration.md is made from Settings and -h from Usage: they must read the same tags.
func TestSettingsAgreeWithUsage(t *testing.T) {
	for _, spec := range []any{&config.Producer{}, &config.Consumer{}, &config.Replay{}, &config.DevStack{}} {
		t.Run(fmt.Sprintf("%T", spec), func(t *testing.T) {
			settings, err := config.Settings(spec)
			require.NoError(t, err)
			var want strings.Builder
			require.NoError(t, config.Usage(&want, spec))
			var got []string
			for _, s := range settings {
				def := s.Default
				if def == "" {
					def = "(empty)"
				}
				got = append(got, strings.Join(strings.Fields(s.Key+" "+def+" "+s.Desc), " "))
			}
			var lines []string
			for _, line := range strings.Split(strings.TrimSuffix(want.String(), "\n"), "\n")[1:] {
				lines = append(lines, strings.Join(strings.Fields(line), " "))
			}
			assert.Equal(t, lines, got)
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
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

func TestLoadConsole(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    func(t *testing.T, c config.Console)
		wantErr string
	}{
		{name: "defaults: loopback, port 8080, the consumer's names", want: func(t *testing.T, c config.Console) {
			assert.Equal(t, 8080, c.Port)
			assert.Equal(t, "127.0.0.1", c.Host)
			assert.Empty(t, c.Tokens)
			assert.Equal(t, "consultation", c.Group)
			assert.Equal(t, "patient.profile.updated.dlq", c.DLQTopic)
			assert.Equal(t, "patient-profile", c.Table)
			assert.Equal(t, "http://localhost:3000", c.ProducerURL)
			assert.Equal(t, 2*time.Second, c.Refresh)
		}},
		{name: "another loopback address needs no token", env: map[string]string{"CONSOLE_HOST": "::1"},
			want: func(t *testing.T, c config.Console) { assert.Equal(t, "::1", c.Host) }},
		{name: "every interface needs a token", env: map[string]string{"CONSOLE_HOST": "0.0.0.0"},
			wantErr: "CONSOLE_HOST=0.0.0.0 is not loopback: set CONSOLE_TOKEN or CONSOLE_TOKEN_FILE"},
		{name: "every interface with a token", env: map[string]string{"CONSOLE_HOST": "0.0.0.0", "CONSOLE_TOKEN": "aaaaaaaaaaaaaaaa"},
			want: func(t *testing.T, c config.Console) { assert.Equal(t, []string{"aaaaaaaaaaaaaaaa"}, c.Tokens) }},
		{name: "tokens from a file", env: map[string]string{"CONSOLE_TOKEN_FILE": writeFile(t, "# people\nbbbbbbbbbbbbbbbb\n")},
			want: func(t *testing.T, c config.Console) { assert.Equal(t, []string{"bbbbbbbbbbbbbbbb"}, c.Tokens) }},
		{name: "a short token names the console's variable", env: map[string]string{"CONSOLE_TOKEN": "short"},
			wantErr: "CONSOLE_TOKEN: token 1 must be at least 16"},
		{name: "port out of range", env: map[string]string{"CONSOLE_PORT": "0"}, wantErr: "CONSOLE_PORT=0"},
		{name: "producer URL without a scheme", env: map[string]string{"CONSOLE_PRODUCER_URL": "localhost:3000"},
			wantErr: "CONSOLE_PRODUCER_URL"},
		{name: "timeline bound", env: map[string]string{"CONSOLE_TIMELINE_MESSAGES": "5"}, wantErr: "CONSOLE_TIMELINE_MESSAGES=5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := config.LoadConsole()
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
