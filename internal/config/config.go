// Package config loads each binary's settings from the environment.
//
// envconfig reads the process environment itself, so the binaries' run functions take no getenv
// argument: tests set variables with t.Setenv or on the child process they start.
package config

import (
	"errors"
	"fmt"
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

// Producer configures cmd/producer.
type Producer struct {
	Port int `envconfig:"SERVER_PORT" default:"3000"`
	Kafka
	// PublishTimeout bounds how long a request waits for the broker's ack before it gets a 503.
	PublishTimeout  time.Duration `envconfig:"PUBLISH_TIMEOUT" default:"5s"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"10s"`
	LogLevel        slog.Level    `envconfig:"LOG_LEVEL" default:"info"`
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
	// MaxInFlight bounds how many patients are handled at once, so the store calls in flight.
	// The store client keeps as many idle connections.
	MaxInFlight int `envconfig:"MAX_IN_FLIGHT" default:"64"`
	// MaxBuffered bounds the messages fetched but not yet final, and so the consumer's memory.
	MaxBuffered int `envconfig:"MAX_BUFFERED" default:"4096"`
	Store
	// RetryMaxBackoff caps the wait between retries of a transient failure.
	RetryMaxBackoff time.Duration `envconfig:"RETRY_MAX_BACKOFF" default:"5s"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"10s"`
	LogLevel        slog.Level    `envconfig:"LOG_LEVEL" default:"info"`
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
	return c, firstError(
		checkPort(c.Port),
		c.Kafka.check(),
		positive("PUBLISH_TIMEOUT", c.PublishTimeout),
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
		between("MAX_IN_FLIGHT", c.MaxInFlight, 1, 4096),
		between("MAX_BUFFERED", c.MaxBuffered, c.MaxInFlight, 1<<20),
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

func between(key string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("config: %s=%d must be between %d and %d", key, v, lo, hi)
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
