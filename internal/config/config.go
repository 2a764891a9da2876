// Package config loads each binary's settings from the environment.
//
// envconfig reads the process environment itself, so the binaries' run functions take no getenv
// argument: tests set variables with t.Setenv or on the child process they start.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Kafka is what both binaries need to reach the topic. It is embedded, not named, so that
// envconfig does not prefix its variables with KAFKA_.
type Kafka struct {
	Brokers []string `envconfig:"KAFKA_BROKERS" default:"localhost:9092" desc:"comma-separated bootstrap brokers, host:port"`
	Topic   string   `envconfig:"TOPIC_NAME" default:"patient.profile.updated" desc:"the event topic"`
	KafkaSecurity
	// AddressMap is for brokers reached through a port-forward or a proxy: the cluster's metadata
	// names the addresses the brokers advertise, which the client may not be able to dial.
	AddressMap []string `envconfig:"KAFKA_ADDRESS_MAP" desc:"comma-separated ADVERTISED=DIAL pairs of host:port: dial a broker at another address than the one the cluster advertises (a port-forward, a proxy); empty dials what is advertised"`
}

// Redirect is KAFKA_ADDRESS_MAP as a map from the advertised address to the one to dial.
func (k Kafka) Redirect() map[string]string {
	if len(k.AddressMap) == 0 {
		return nil
	}
	m := make(map[string]string, len(k.AddressMap))
	for _, pair := range cleanList(k.AddressMap) {
		from, to, _ := strings.Cut(pair, "=")
		m[strings.TrimSpace(from)] = strings.TrimSpace(to)
	}
	return m
}

// KafkaSecurity has the fields of broker.Security, in the same order, so that the binaries pass
// it on with a conversion: broker.Security(cfg.KafkaSecurity).
type KafkaSecurity struct {
	TLS           bool   `envconfig:"KAFKA_TLS" default:"false" desc:"TLS to the brokers, verified against the system's roots"`
	TLSCAFile     string `envconfig:"KAFKA_TLS_CA_FILE" desc:"PEM file of the CA(s) to verify the brokers against instead (needs KAFKA_TLS=true)"`
	SASLMechanism string `envconfig:"KAFKA_SASL_MECHANISM" desc:"PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, or AWS_MSK_IAM (MSK's IAM authentication: the AWS SDK's default credential chain and region, AWS_REGION; needs KAFKA_TLS=true, takes no user name or password); empty means no authentication"`
	SASLUsername  string `envconfig:"KAFKA_SASL_USERNAME" desc:"SASL user name; needed with KAFKA_SASL_MECHANISM PLAIN or SCRAM, refused otherwise"`
	SASLPassword  string `envconfig:"KAFKA_SASL_PASSWORD" desc:"SASL password; needed with KAFKA_SASL_MECHANISM PLAIN or SCRAM, refused otherwise"`
}

// Access is who may use the APIs: the producer's writes and the consumer's read of the replica.
type Access struct {
	// Once loaded, APITokens holds the tokens of API_TOKENS_FILE too, so the routes read one list.
	APITokens     []string `envconfig:"API_TOKENS" desc:"comma-separated bearer tokens the API routes accept (the producer's writes, the consumer's read), each at least 16 characters; empty, with no API_TOKENS_FILE, leaves the routes open"`
	APITokensFile string   `envconfig:"API_TOKENS_FILE" desc:"file of bearer tokens, one per line (blank lines and # comments skipped), added to API_TOKENS: a mounted secret"`
}

// load reads the tokens from the file too, and checks them all.
func (a *Access) load() error {
	tokens, err := loadTokens(a.APITokens, a.APITokensFile, "API_TOKENS", "API_TOKENS_FILE")
	if err != nil {
		return err
	}
	a.APITokens = tokens
	return nil
}

// Telemetry says where traces go. The OTLP exporter reads the standard OTEL_EXPORTER_OTLP_*
// variables itself (headers, protocol details); these only decide whether there is one.
type Telemetry struct {
	OTLPEndpoint       string `envconfig:"OTEL_EXPORTER_OTLP_ENDPOINT" desc:"OTLP/HTTP collector base URL to export traces to (for example http://otel-collector:4318); empty, with no OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, exports none"`
	OTLPTracesEndpoint string `envconfig:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" desc:"OTLP/HTTP endpoint for traces only, instead of OTEL_EXPORTER_OTLP_ENDPOINT"`
}

// ExportTraces reports whether an OTLP endpoint is configured. Without one, traces still
// propagate (and log lines carry trace ids) but are not exported.
func (t Telemetry) ExportTraces() bool { return t.OTLPEndpoint != "" || t.OTLPTracesEndpoint != "" }

// Producer configures cmd/producer.
type Producer struct {
	Port int `envconfig:"SERVER_PORT" default:"3000" desc:"HTTP port of the API, health, readiness and metrics"`
	Kafka
	PublishTimeout       time.Duration `envconfig:"PUBLISH_TIMEOUT" default:"5s" desc:"how long a request waits for the broker's ack before its 503; less than SHUTDOWN_TIMEOUT"`
	EventSource          string        `envconfig:"EVENT_SOURCE" default:"/patient-profile/producer" desc:"the CloudEvents source (ce_source) of the events published"`
	MaxInFlightPublishes int           `envconfig:"MAX_IN_FLIGHT_PUBLISHES" default:"1024" desc:"bound on requests waiting for the broker at once; past it, an immediate 503 with Retry-After, never a queue"`
	Access
	Idempotency
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"10s" desc:"bound on a graceful stop after SIGTERM or Ctrl-C"`
	LogLevel        slog.Level    `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	Telemetry
}

// Idempotency is where the producer keeps the Idempotency-Keys of POST and DELETE: a DynamoDB
// table that every replica shares, so that a retry sent to another replica finds its key.
type Idempotency struct {
	DynamoDB
	KeyTable string `envconfig:"IDEMPOTENCY_TABLE" default:"patient-profile-idempotency" desc:"DynamoDB table of the Idempotency-Keys, shared by every producer replica (hash key IdempotencyKey (S), TTL on ExpiresAt); empty turns keys off, and a request that sends one is then refused"`
	// KeyTTL bounds how old an event a retry can publish, since a retry reuses its first stamp.
	KeyTTL time.Duration `envconfig:"IDEMPOTENCY_TTL" default:"24h" desc:"how long a key is remembered after its first request: a retry within it gets the first answer, or publishes the first event again; after it, the key is new. Keep it well under the consumer's TOMBSTONE_TTL"`
	// KeyLease must outlast a live request's hold on its key (its two key calls and its publish),
	// or a retry would publish the same event beside it: harmless, but a waste.
	KeyLease    time.Duration `envconfig:"IDEMPOTENCY_LEASE" default:"10s" desc:"how long a request holds its key while it publishes; a key left in progress by a producer that died is taken over by a retry once it lapses. More than PUBLISH_TIMEOUT plus twice IDEMPOTENCY_TIMEOUT"`
	KeyTimeout  time.Duration `envconfig:"IDEMPOTENCY_TIMEOUT" default:"1s" desc:"bound on one call to the key table; a request whose key cannot be recorded within it gets a 503 and publishes nothing"`
	KeyRequired bool          `envconfig:"IDEMPOTENCY_REQUIRED" default:"false" desc:"true makes the Idempotency-Key header mandatory on POST and DELETE (400 without it); needs IDEMPOTENCY_TABLE"`
}

// check keeps a live request's hold on its key, and its answer, within the bounds around it.
func (k Idempotency) check(publishTimeout, shutdownTimeout time.Duration) error {
	if k.KeyTable == "" {
		if k.KeyRequired {
			return errors.New("config: IDEMPOTENCY_REQUIRED=true needs IDEMPOTENCY_TABLE")
		}
		return nil
	}
	held := publishTimeout + 2*k.KeyTimeout
	return firstError(
		positive("IDEMPOTENCY_TTL", k.KeyTTL),
		positive("IDEMPOTENCY_LEASE", k.KeyLease),
		positive("IDEMPOTENCY_TIMEOUT", k.KeyTimeout),
		// Its answer must still reach the client after SIGTERM.
		less("PUBLISH_TIMEOUT plus twice IDEMPOTENCY_TIMEOUT", held, "SHUTDOWN_TIMEOUT", shutdownTimeout),
		less("PUBLISH_TIMEOUT plus twice IDEMPOTENCY_TIMEOUT", held, "IDEMPOTENCY_LEASE", k.KeyLease),
	)
}

// Consumer configures cmd/consumer.
type Consumer struct {
	Port int `envconfig:"SERVER_PORT" default:"3001" desc:"HTTP port of the read of the replica, health, readiness and metrics"`
	Kafka
	Group          string        `envconfig:"CONSUMER_GROUP" default:"consultation" desc:"consumer group id"`
	DLQTopic       string        `envconfig:"DLQ_TOPIC" default:"patient.profile.updated.dlq" desc:"dead-letter topic: the consumer parks there the events it can never apply, and replay-dlq reads them back"`
	SessionTimeout time.Duration `envconfig:"KAFKA_SESSION_TIMEOUT" default:"10s" desc:"how long the group waits for a silent member before moving its partitions"`
	CommitInterval time.Duration `envconfig:"COMMIT_INTERVAL" default:"1s" desc:"how often final offsets are committed; a longer interval means more redelivery after a crash, never loss"`
	// The store client keeps as many idle connections, so that no write in flight pays a handshake.
	MaxInFlight int `envconfig:"MAX_IN_FLIGHT" default:"64" desc:"bound on patients handled at once, and so on store writes in flight (1 to 4096)"`
	MaxBuffered int `envconfig:"MAX_BUFFERED" default:"4096" desc:"bound on messages fetched but not yet final, and so on memory: fetching waits beyond it (MAX_IN_FLIGHT to 1048576)"`
	Store
	// TombstoneTTL must outlive the topics' retention because until then an older event can
	// still be delivered (or replayed), and only the tombstone stops it from bringing the
	// profile back.
	TombstoneTTL    time.Duration `envconfig:"TOMBSTONE_TTL" default:"720h" desc:"how long an erased patient's tombstone is kept before the table's TTL may delete it; keep it longer than the retention of the event topic and of the dead-letter topic"`
	RetryMaxBackoff time.Duration `envconfig:"RETRY_MAX_BACKOFF" default:"5s" desc:"cap on the jittered exponential backoff between retries"`
	// MaxClockSkew exists because an event from the future would outrank every real update of
	// its patient until the clock caught up.
	MaxClockSkew    time.Duration `envconfig:"MAX_CLOCK_SKEW" default:"5m" desc:"how far ahead of this consumer's clock an event's UpdatedAt may be; an event further ahead is dead-lettered (reason future), never applied"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"10s" desc:"bound on a graceful stop after SIGTERM or Ctrl-C"`
	LogLevel        slog.Level    `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	Access
	Telemetry
}

// DynamoDB locates the DynamoDB API: the consumer's table is there, and the producer's keys.
type DynamoDB struct {
	Host   string `envconfig:"DDB_HOST" desc:"DynamoDB endpoint override, for dynalite or LocalStack (http://localhost:4566 locally); empty means real AWS, with the default credential chain"`
	Region string `envconfig:"AWS_REGION" desc:"AWS region; with DDB_HOST set and this empty, us-east-1"`
}

// Store locates the DynamoDB table.
type Store struct {
	DynamoDB
	Table string `envconfig:"DDB_NAME" default:"patient-profile" desc:"DynamoDB table name"`
	// Timeout bounds each call so that a hung store is retried rather than waited on forever.
	Timeout time.Duration `envconfig:"DDB_TIMEOUT" default:"5s" desc:"bound on one DynamoDB or dead-letter call; at most half of SHUTDOWN_TIMEOUT"`
}

// LoadProducer reads the producer's settings. Its error is one line naming the variable.
func LoadProducer() (Producer, error) {
	var c Producer
	if err := process(&c); err != nil {
		return c, err
	}
	c.Brokers = cleanList(c.Brokers)
	if err := c.Access.load(); err != nil {
		return c, err
	}
	return c, firstError(
		checkPort("SERVER_PORT", c.Port),
		c.Kafka.check(),
		positive("PUBLISH_TIMEOUT", c.PublishTimeout),
		positiveInt("MAX_IN_FLIGHT_PUBLISHES", c.MaxInFlightPublishes),
		nonEmpty("EVENT_SOURCE", c.EventSource),
		positive("SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
		// A request in flight at SIGTERM must get its answer before the process exits.
		less("PUBLISH_TIMEOUT", c.PublishTimeout, "SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
		c.Idempotency.check(c.PublishTimeout, c.ShutdownTimeout),
	)
}

// LoadConsumer reads the consumer's settings. Its error is one line naming the variable.
func LoadConsumer() (Consumer, error) {
	var c Consumer
	if err := process(&c); err != nil {
		return c, err
	}
	if err := c.Access.load(); err != nil {
		return c, err
	}
	err := c.check() // it cleans the lists in c, so it runs before c is returned
	return c, err
}

// Replay configures cmd/replay-dlq: where the brokers are, the event topic it publishes to and
// the dead-letter topic it reads. What to replay is given by its flags, not by the environment.
type Replay struct {
	Kafka
	DLQTopic string `envconfig:"DLQ_TOPIC" default:"patient.profile.updated.dlq" desc:"dead-letter topic: the consumer parks there the events it can never apply, and replay-dlq reads them back"`
}

// LoadReplay reads the replay command's settings. Its error is one line naming the variable.
func LoadReplay() (Replay, error) {
	var c Replay
	if err := process(&c); err != nil {
		return c, err
	}
	c.Brokers = cleanList(c.Brokers)
	return c, firstError(
		c.Kafka.check(),
		nonEmpty("DLQ_TOPIC", c.DLQTopic),
		differ("DLQ_TOPIC", c.DLQTopic, "TOPIC_NAME", c.Topic),
	)
}

// Console configures cmd/console, the browser console. It reads the topics, the group and the
// table the consumer's variables name, with the same connection settings, so that it shows what
// the services use.
type Console struct {
	Port int `envconfig:"CONSOLE_PORT" default:"8080" desc:"HTTP port of the console"`
	// Host is loopback by default because the console shows patient data: a person opens it on
	// their own machine, and anything wider must say who may look.
	Host       string   `envconfig:"CONSOLE_HOST" default:"127.0.0.1" desc:"address the console listens on; loopback (127.0.0.1, ::1 or localhost) by default, and any other address needs CONSOLE_TOKEN or CONSOLE_TOKEN_FILE"`
	Tokens     []string `envconfig:"CONSOLE_TOKEN" desc:"comma-separated tokens that open the console (each at least 16 characters); empty, with no CONSOLE_TOKEN_FILE, lets only loopback in"`
	TokensFile string   `envconfig:"CONSOLE_TOKEN_FILE" desc:"file of console tokens, one per line (blank lines and # comments skipped), added to CONSOLE_TOKEN: a mounted secret"`
	Kafka
	Group    string `envconfig:"CONSUMER_GROUP" default:"consultation" desc:"consumer group id"`
	DLQTopic string `envconfig:"DLQ_TOPIC" default:"patient.profile.updated.dlq" desc:"dead-letter topic: the consumer parks there the events it can never apply, and replay-dlq reads them back"`
	Store
	ProducerURL string `envconfig:"CONSOLE_PRODUCER_URL" default:"http://localhost:3000" desc:"base URL of the producer: its /readyz on the overview, its API for the try-it form"`
	ConsumerURL string `envconfig:"CONSOLE_CONSUMER_URL" default:"http://localhost:3001" desc:"base URL of the consumer: its /readyz and /metrics (the outcome counters) on the overview"`
	APIToken    string `envconfig:"CONSOLE_API_TOKEN" desc:"bearer token the try-it form sends to the producer, one of its API_TOKENS; empty sends none"`
	// Refresh is the one poll every open overview shares, so that viewers add no load.
	Refresh time.Duration `envconfig:"CONSOLE_REFRESH" default:"2s" desc:"how often the overview polls the broker and the services, once for every open page"`
	// TimelineMessages bounds the read of a patient's partition, so that a timeline costs the
	// same on a topic of a billion messages.
	TimelineMessages int           `envconfig:"CONSOLE_TIMELINE_MESSAGES" default:"1000" desc:"how many of the newest messages of a patient's partition (and of the dead-letter partition) the timeline reads (10 to 100000)"`
	ShutdownTimeout  time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"10s" desc:"bound on a graceful stop after SIGTERM or Ctrl-C"`
	LogLevel         slog.Level    `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	Telemetry
}

// LoadConsole reads the console's settings. Its error is one line naming the variable.
func LoadConsole() (Console, error) {
	var c Console
	if err := process(&c); err != nil {
		return c, err
	}
	c.Brokers = cleanList(c.Brokers)
	tokens, err := loadTokens(c.Tokens, c.TokensFile, "CONSOLE_TOKEN", "CONSOLE_TOKEN_FILE")
	if err != nil {
		return c, err
	}
	c.Tokens = tokens
	return c, firstError(
		checkPort("CONSOLE_PORT", c.Port),
		nonEmpty("CONSOLE_HOST", c.Host),
		c.closed(),
		c.Kafka.check(),
		nonEmpty("CONSUMER_GROUP", c.Group),
		nonEmpty("DLQ_TOPIC", c.DLQTopic),
		nonEmpty("DDB_NAME", c.Store.Table),
		positive("DDB_TIMEOUT", c.Store.Timeout),
		checkURL("CONSOLE_PRODUCER_URL", c.ProducerURL),
		checkURL("CONSOLE_CONSUMER_URL", c.ConsumerURL),
		positive("CONSOLE_REFRESH", c.Refresh),
		between("CONSOLE_TIMELINE_MESSAGES", c.TimelineMessages, 10, 100000),
		positive("SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
		atMostHalf("DDB_TIMEOUT", c.Store.Timeout, "SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
	)
}

// DevStack configures the embedded stack (`make run`, `make local-dev-stack`). It reads the
// consumer's variables too, so that the stack creates exactly the topics and the table the
// services will look for.
type DevStack struct {
	Consumer
	Embedded
}

// Embedded is what only the embedded stack reads.
type Embedded struct {
	KafkaPort    int    `envconfig:"KAFKA_PORT" default:"9092" desc:"port of the embedded Kafka-protocol broker (kfake) on 127.0.0.1"`
	DynamoDBPort int    `envconfig:"DDB_PORT" default:"4566" desc:"port of the embedded DynamoDB API (dynalite) on 127.0.0.1"`
	DynaliteData string `envconfig:"DYNALITE_DATA" desc:"directory where dynalite keeps the table across restarts; empty keeps it in memory"`
	DynaliteBin  string `envconfig:"DYNALITE_BIN" desc:"dynalite command to run instead of devstack/dynalite.js with the pinned dynalite (given dynalite's own flags); the tests, make soak and make bench read it too"`
	// The services' own SERVER_PORT cannot say it: make run starts two of them.
	ProducerPort int `envconfig:"PRODUCER_PORT" default:"3000" desc:"port make run gives the producer (its SERVER_PORT)"`
	ConsumerPort int `envconfig:"CONSUMER_PORT" default:"3001" desc:"port make run gives the consumer (its SERVER_PORT)"`
	ConsolePort  int `envconfig:"CONSOLE_PORT" default:"8080" desc:"HTTP port of the console"`
	// The producer reads the same variable, so the stack creates the table it will look for.
	KeyTable string `envconfig:"IDEMPOTENCY_TABLE" default:"patient-profile-idempotency" desc:"the producer's table of Idempotency-Keys, which the stack creates beside the consumer's (DDB_NAME); empty creates none"`
}

// LoadDevStack reads the embedded stack's settings. Its error is one line naming the variable.
func LoadDevStack() (DevStack, error) {
	var c DevStack
	if err := process(&c); err != nil {
		return c, err
	}
	return c, firstError(
		c.Consumer.check(),
		checkPort("KAFKA_PORT", c.KafkaPort),
		checkPort("DDB_PORT", c.DynamoDBPort),
		checkPort("PRODUCER_PORT", c.ProducerPort),
		checkPort("CONSUMER_PORT", c.ConsumerPort),
		checkPort("CONSOLE_PORT", c.ConsolePort),
	)
}

func (c *Consumer) check() error {
	c.Brokers = cleanList(c.Brokers)
	return firstError(
		checkPort("SERVER_PORT", c.Port),
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
		positive("TOMBSTONE_TTL", c.TombstoneTTL),
		positive("MAX_CLOCK_SKEW", c.MaxClockSkew),
		positive("SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
		atMostHalf("DDB_TIMEOUT", c.Store.Timeout, "SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
	)
}

// ShutdownBudget splits SHUTDOWN_TIMEOUT, the consumer's whole bound on a graceful stop. Three
// quarters go to draining: the store writes in flight finish (each within DDB_TIMEOUT, which
// LoadConsumer keeps to at most half of the whole, so at least a quarter is left for it) and the
// last commit is made. The rest goes to leaving the group and closing connections, so that the
// other members take this one's partitions at once instead of after a session timeout.
func (c Consumer) ShutdownBudget() (drain, closing time.Duration) {
	drain = c.ShutdownTimeout * 3 / 4
	return drain, c.ShutdownTimeout - drain
}

// Setting is one environment variable a binary reads, as its tags describe it.
type Setting struct {
	Key     string
	Default string // empty when the variable has none
	Desc    string
}

// Settings lists the variables spec (a pointer to one of the binaries' structs) reads, in the
// order -h prints them. docs/configuration.md is generated from it, so that the desc tag is the
// one description of each setting.
func Settings(spec any) ([]Setting, error) {
	var settings []Setting
	// envconfig hands the variables it gathers only to a template, so this template collects them
	// instead of printing them.
	tmpl, err := template.New("settings").Funcs(template.FuncMap{
		"collect": func(key, def, desc string) string {
			settings = append(settings, Setting{Key: key, Default: def, Desc: desc})
			return ""
		},
	}).Parse(`{{range .}}{{collect .Key (.Tags.Get "default") (.Tags.Get "desc")}}{{end}}`)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	if err := envconfig.Usaget("", spec, io.Discard, tmpl); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	return settings, nil
}

// usageFormat is envconfig's usage template: one variable a line, with its default and meaning.
const usageFormat = "{{range .}}  {{usage_key .}}\t{{with usage_default .}}{{.}}{{else}}(empty){{end}}\t" +
	"{{usage_description .}}\n{{end}}"

// Usage writes every variable spec (a *Producer or a *Consumer) reads, with its default and
// meaning, as a table.
func Usage(w io.Writer, spec any) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tMEANING")
	if err := envconfig.Usagef("", spec, tw, usageFormat); err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	return tw.Flush()
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
			return fmt.Errorf("config: KAFKA_SASL_MECHANISM=%s needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
				k.SASLMechanism)
		}
	case "AWS_MSK_IAM":
		// MSK serves IAM authentication on its TLS listener only (port 9098); without TLS the
		// sign-in would fail at every connection, after a wait.
		if !k.TLS {
			return errors.New("config: KAFKA_SASL_MECHANISM=AWS_MSK_IAM needs KAFKA_TLS=true: MSK serves IAM " +
				"authentication over TLS only (port 9098)")
		}
		// The credentials come from the AWS SDK's chain; a user name or password here would be
		// ignored, and a secret set for nothing.
		if k.SASLUsername != "" || k.SASLPassword != "" {
			return errors.New("config: KAFKA_SASL_MECHANISM=AWS_MSK_IAM takes no KAFKA_SASL_USERNAME or " +
				"KAFKA_SASL_PASSWORD: the credentials come from the AWS SDK's default chain")
		}
	default:
		return fmt.Errorf("config: KAFKA_SASL_MECHANISM=%q must be PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM",
			k.SASLMechanism)
	}
	for _, pair := range cleanList(k.AddressMap) {
		from, to, ok := strings.Cut(pair, "=")
		if !ok || !hostPort(strings.TrimSpace(from)) || !hostPort(strings.TrimSpace(to)) {
			return fmt.Errorf("config: KAFKA_ADDRESS_MAP entry %q must be ADVERTISED=DIAL, each host:port", pair)
		}
	}
	return nonEmpty("TOPIC_NAME", k.Topic)
}

func hostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	return err == nil && host != "" && port != ""
}

// differ refuses two settings that must name different things: a replay from a topic into itself
// would publish every dead letter back into the dead-letter topic.
func differ(key, v, otherKey, other string) error {
	if v == other {
		return fmt.Errorf("config: %s=%q must differ from %s", key, v, otherKey)
	}
	return nil
}

// minTokenLen keeps guessable tokens out: 16 bytes is 128 bits if they are random bytes in hex,
// and nobody generates a token that short by accident.
const minTokenLen = 16

// loadTokens joins the tokens listed in API_TOKENS with those in API_TOKENS_FILE (one per line;
// blank lines and lines starting with # are skipped), so that a secret can be mounted as a file.
// A token with spaces or shorter than minTokenLen is refused; the message never shows a token.
func loadTokens(list []string, file, listKey, fileKey string) ([]string, error) {
	tokens := cleanList(list)
	source := listKey
	if file != "" {
		b, err := os.ReadFile(file) //nolint:gosec // G304: the operator names the tokens file, on purpose
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", fileKey, err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				tokens = append(tokens, line)
			}
		}
		source = listKey + " or " + fileKey
	}
	for i, t := range tokens {
		if len(t) < minTokenLen || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("config: %s: token %d must be at least %d characters with no spaces or "+
				"control characters", source, i+1, minTokenLen)
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

func checkPort(key string, p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("config: %s=%d must be between 1 and 65535", key, p)
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

// closed refuses a console that would show patient data to anyone who can reach a wider address.
func (c Console) closed() error {
	if len(c.Tokens) == 0 && !IsLoopback(c.Host) {
		return fmt.Errorf("config: CONSOLE_HOST=%s is not loopback: set CONSOLE_TOKEN or CONSOLE_TOKEN_FILE, "+
			"since the console shows patient data", c.Host)
	}
	return nil
}

// IsLoopback reports whether host (a name or an address, without a port) is this machine only.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// checkURL refuses a base URL the console could not call.
func checkURL(key, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("config: %s=%q must be an http:// or https:// URL with a host", key, v)
	}
	return nil
}

// Observability is what a service's logger and tracer need.
func (c Console) Observability() (slog.Level, Telemetry) { return c.LogLevel, c.Telemetry }

// Observability is what a service's logger and tracer need.
func (c Producer) Observability() (slog.Level, Telemetry) { return c.LogLevel, c.Telemetry }

// Observability is what a service's logger and tracer need.
func (c Consumer) Observability() (slog.Level, Telemetry) { return c.LogLevel, c.Telemetry }
