// Package config loads each binary's settings from the environment.
//
// envconfig reads the process environment itself, so the binaries' run functions take no getenv
// argument: tests set variables with t.Setenv or on the child process they start.
package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"log/slog"

	"github.com/kelseyhightower/envconfig"
)

// Kafka is what both binaries need to reach the topic. It is embedded, not named, so that
// envconfig does not prefix its variables with KAFKA_.
type Kafka struct {
	Brokers []string `envconfig:"KAFKA_BROKERS" default:"localhost:9092"`
	Topic   string   `envconfig:"TOPIC_NAME" default:"patient.profile.updated"`
	// TLS encrypts connections to the brokers, verified against the system's roots or, if set,
	// the PEM certificates in TLSCAFile.
	TLS       bool   `envconfig:"KAFKA_TLS" default:"false"`
	TLSCAFile string `envconfig:"KAFKA_TLS_CA_FILE"`
	// SASLMechanism is empty (no authentication), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	SASLMechanism string `envconfig:"KAFKA_SASL_MECHANISM"`
	SASLUsername  string `envconfig:"KAFKA_SASL_USERNAME"`
	SASLPassword  string `envconfig:"KAFKA_SASL_PASSWORD"`
}

// Telemetry says where traces go. The OTLP exporter reads the standard OTEL_EXPORTER_OTLP_*
// variables itself (headers, protocol details); these only decide whether there is one.
type Telemetry struct {
	OTLPEndpoint       string `envconfig:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	OTLPTracesEndpoint string `envconfig:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
}

// ExportTraces reports whether an OTLP endpoint is configured. Without one, traces still
// propagate (and log lines carry trace ids) but are not exported.
func (t Telemetry) ExportTraces() bool { return t.OTLPEndpoint != "" || t.OTLPTracesEndpoint != "" }

// Producer configures cmd/producer.
type Producer struct {
	Port int `envconfig:"SERVER_PORT" default:"3000"`
	Kafka
	// PublishTimeout bounds how long a request waits for the broker's ack before it gets a 503.
	PublishTimeout time.Duration `envconfig:"PUBLISH_TIMEOUT" default:"5s"`
	// EventSource is the CloudEvents source of the events this producer publishes (ce_source).
	EventSource string `envconfig:"EVENT_SOURCE" default:"/patient-profile/producer"`
	// MaxInFlightPublishes bounds the requests waiting for the broker at once; past it a request
	// is answered 503 at once instead of queueing.
	MaxInFlightPublishes int `envconfig:"MAX_IN_FLIGHT_PUBLISHES" default:"1024"`
	// APITokens are the bearer tokens the write routes accept: API_TOKENS (comma-separated) and
	// the lines of API_TOKENS_FILE together. None means the write routes are open.
	APITokens       []string      `envconfig:"API_TOKENS"`
	APITokensFile   string        `envconfig:"API_TOKENS_FILE"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"10s"`
	LogLevel        slog.Level    `envconfig:"LOG_LEVEL" default:"info"`
	Telemetry
}

// Consumer configures cmd/consumer.
type Consumer struct {
	Port int `envconfig:"SERVER_PORT" default:"3001"`
	Kafka
	Group    string `envconfig:"CONSUMER_GROUP" default:"consultation"`
	DLQTopic string `envconfig:"DLQ_TOPIC" default:"patient.profile.updated.dlq"`
	// SessionTimeout is how long the group waits for a silent member before it hands that
	// member's partitions to the others.
	SessionTimeout time.Duration `envconfig:"KAFKA_SESSION_TIMEOUT" default:"10s"`
	// CommitInterval is how often processed offsets are committed. Offsets are committed only
	// for final outcomes, so a longer interval means more redelivery after a crash, never loss.
	CommitInterval time.Duration `envconfig:"COMMIT_INTERVAL" default:"1s"`
	Store
	// RetryMaxBackoff caps the wait between retries of a transient failure.
	RetryMaxBackoff time.Duration `envconfig:"RETRY_MAX_BACKOFF" default:"5s"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"10s"`
	LogLevel        slog.Level    `envconfig:"LOG_LEVEL" default:"info"`
	Telemetry
}

// Store locates the DynamoDB table.
type Store struct {
	// Host overrides the endpoint, for dynalite or LocalStack. Empty means real AWS, with the
	// default credential chain and region.
	Host   string `envconfig:"DDB_HOST"`
	Table  string `envconfig:"DDB_NAME" default:"patient-profile"`
	Region string `envconfig:"AWS_REGION"`
	// Timeout bounds one DynamoDB call, so a hung store is retried rather than waited on forever.
	Timeout time.Duration `envconfig:"DDB_TIMEOUT" default:"5s"`
}

// LoadProducer reads the producer's settings. Its error is one line naming the variable.
func LoadProducer() (Producer, error) {
	var c Producer
	if err := process(&c); err != nil {
		return c, err
	}
	c.Brokers = cleanList(c.Brokers)
	tokens, err := loadTokens(c.APITokens, c.APITokensFile)
	if err != nil {
		return c, err
	}
	c.APITokens = tokens
	return c, firstError(
		checkPort(c.Port),
		c.Kafka.check(),
		positive("PUBLISH_TIMEOUT", c.PublishTimeout),
		positiveInt("MAX_IN_FLIGHT_PUBLISHES", c.MaxInFlightPublishes),
		nonEmpty("EVENT_SOURCE", c.EventSource),
		positive("SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
		// A request in flight at SIGTERM must get its answer before the process exits.
		less("PUBLISH_TIMEOUT", c.PublishTimeout, "SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
	)
}

// LoadConsumer reads the consumer's settings. Its error is one line naming the variable.
func LoadConsumer() (Consumer, error) {
	var c Consumer
	if err := process(&c); err != nil {
		return c, err
	}
	c.Brokers = cleanList(c.Brokers)
	return c, firstError(
		checkPort(c.Port),
		c.Kafka.check(),
		nonEmpty("CONSUMER_GROUP", c.Group),
		nonEmpty("DLQ_TOPIC", c.DLQTopic),
		nonEmpty("DDB_NAME", c.Store.Table),
		positive("KAFKA_SESSION_TIMEOUT", c.SessionTimeout),
		positive("COMMIT_INTERVAL", c.CommitInterval),
		positive("DDB_TIMEOUT", c.Store.Timeout),
		positive("RETRY_MAX_BACKOFF", c.RetryMaxBackoff),
		positive("SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
		// A store write in flight at SIGTERM must have time to finish and be committed: the
		// consumer gives its work three quarters of SHUTDOWN_TIMEOUT.
		atMostHalf("DDB_TIMEOUT", c.Store.Timeout, "SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
	)
}

// firstError keeps the promise of a one-line message when several settings are wrong.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func process(spec any) error {
	err := envconfig.Process("", spec)
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("config: %s=%q is not a valid %s", pe.KeyName, pe.Value, pe.TypeName)
	}
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// cleanList trims the entries of a comma-separated list and drops empty ones: envconfig keeps
// " b2:9092" and a trailing "" as written.
func cleanList(list []string) []string {
	var out []string
	for _, v := range list {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (k Kafka) check() error {
	if len(k.Brokers) == 0 {
		return errors.New("config: KAFKA_BROKERS must list at least one host:port")
	}
	if k.TLSCAFile != "" && !k.TLS {
		return errors.New("config: KAFKA_TLS_CA_FILE is set but KAFKA_TLS is not true")
	}
	switch k.SASLMechanism {
	case "":
		if k.SASLUsername != "" {
			return errors.New("config: KAFKA_SASL_USERNAME is set but KAFKA_SASL_MECHANISM is empty")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if k.SASLUsername == "" || k.SASLPassword == "" {
			return fmt.Errorf("config: KAFKA_SASL_MECHANISM=%s needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD", k.SASLMechanism)
		}
	default:
		return fmt.Errorf("config: KAFKA_SASL_MECHANISM=%q must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", k.SASLMechanism)
	}
	return nonEmpty("TOPIC_NAME", k.Topic)
}

// minTokenLen keeps guessable tokens out: 16 bytes is 128 bits if they are random bytes in hex,
// and nobody generates a token that short by accident.
const minTokenLen = 16

// loadTokens joins the tokens listed in API_TOKENS with those in API_TOKENS_FILE (one per line;
// blank lines and lines starting with # are skipped), so that a secret can be mounted as a file.
// A token with spaces or shorter than minTokenLen is refused; the message never shows a token.
func loadTokens(list []string, file string) ([]string, error) {
	tokens := cleanList(list)
	source := "API_TOKENS"
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("config: API_TOKENS_FILE: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				tokens = append(tokens, line)
			}
		}
		source = "API_TOKENS or API_TOKENS_FILE"
	}
	for i, t := range tokens {
		if len(t) < minTokenLen || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("config: %s: token %d must be at least %d characters with no spaces or control characters", source, i+1, minTokenLen)
		}
	}
	return tokens, nil
}

func positiveInt(key string, n int) error {
	if n <= 0 {
		return fmt.Errorf("config: %s=%d must be positive", key, n)
	}
	return nil
}

func checkPort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("config: SERVER_PORT=%d must be between 1 and 65535", p)
	}
	return nil
}

func nonEmpty(key, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("config: %s must not be empty", key)
	}
	return nil
}

func positive(key string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("config: %s=%s must be positive", key, d)
	}
	return nil
}

func less(key string, d time.Duration, otherKey string, other time.Duration) error {
	if d >= other {
		return fmt.Errorf("config: %s=%s must be less than %s", key, d, otherKey)
	}
	return nil
}

func atMostHalf(key string, d time.Duration, otherKey string, other time.Duration) error {
	if 2*d > other {
		return fmt.Errorf("config: %s=%s must be at most half of %s=%s", key, d, otherKey, other)
	}
	return nil
}
