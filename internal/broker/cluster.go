// Package broker is the project's Kafka boundary, and the only package that imports the client,
// segmentio/kafka-go: the writers, the event and dead-letter publishers, the consumer-group
// reader, reading a whole topic without a group, readiness, and the admin calls the tools use
// (topic creation, group offsets and assignments). Each is configured for the delivery guarantees
// docs/guarantees.md promises, and each workaround of a kafka-go behaviour lives here, named for
// what it does, with the upstream issue.
package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	signer "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	mskiam "github.com/segmentio/kafka-go/sasl/aws_msk_iam_v2"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Cluster says how to reach the brokers: where, and with which TLS and SASL settings. Every
// Writer, Reader and check in this package connects through it.
type Cluster struct {
	Brokers []string
	TLS     *tls.Config
	SASL    sasl.Mechanism
	// Redirect maps a broker's address, as the cluster advertises it, to the address to dial
	// instead: for brokers reached through a port-forward or a proxy. Bootstrap addresses are
	// dialled as they are.
	Redirect map[string]string
}

// Security is how to authenticate to the brokers and encrypt the connections. The zero value is
// plaintext without authentication.
type Security struct {
	// TLS encrypts connections, verified against the system's roots or, if set, the PEM
	// certificates in TLSCAFile.
	TLS       bool
	TLSCAFile string
	// SASLMechanism is empty (no authentication), PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (with
	// SASLUsername and SASLPassword), or AWS_MSK_IAM (with the AWS SDK's credentials).
	SASLMechanism, SASLUsername, SASLPassword string
}

// NewCluster returns a Cluster for the brokers, loading the CA file if one is given. redirect is
// Cluster.Redirect (KAFKA_ADDRESS_MAP); nil dials what the brokers advertise.
func NewCluster(brokers []string, c Security, redirect map[string]string) (Cluster, error) {
	cl := Cluster{Brokers: brokers, Redirect: redirect}
	if c.TLS {
		cl.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.TLSCAFile != "" {
			pem, err := os.ReadFile(c.TLSCAFile)
			if err != nil {
				return Cluster{}, fmt.Errorf("kafka tls: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return Cluster{}, fmt.Errorf("kafka tls: no PEM certificate in %s", c.TLSCAFile)
			}
			cl.TLS.RootCAs = pool
		}
	}
	var err error
	switch c.SASLMechanism {
	case "":
	case "PLAIN":
		cl.SASL = plain.Mechanism{Username: c.SASLUsername, Password: c.SASLPassword}
	case "SCRAM-SHA-256":
		cl.SASL, err = scram.Mechanism(scram.SHA256, c.SASLUsername, c.SASLPassword)
	case "SCRAM-SHA-512":
		cl.SASL, err = scram.Mechanism(scram.SHA512, c.SASLUsername, c.SASLPassword)
	case "AWS_MSK_IAM":
		cl.SASL, err = mskIAM()
	default:
		err = fmt.Errorf("unknown mechanism %q", c.SASLMechanism)
	}
	if err != nil {
		return Cluster{}, fmt.Errorf("kafka sasl: %w", err)
	}
	return cl, nil
}

// mskIAM signs in to MSK with IAM (AWS_MSK_IAM): every new connection presents a request signed
// with SigV4 for kafka-cluster:Connect. The credentials come from the AWS SDK's default chain
// (IRSA's web identity, EKS Pod Identity, an ECS task or EC2 role, the environment, the shared
// files), so no secret is configured here, and they are refreshed before they expire.
func mskIAM() (sasl.Mechanism, error) {
	// LoadDefaultConfig reads the environment and the shared files only: it fetches no
	// credentials until a connection signs in, so it needs no deadline.
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("AWS_MSK_IAM signs for the cluster's region: set AWS_REGION")
	}
	return &mskiam.Mechanism{Signer: signer.NewSigner(), Credentials: cfg.Credentials, Region: cfg.Region}, nil
}

func (c Cluster) transport(dialTimeout, metadataTTL time.Duration) *kafka.Transport {
	t := &kafka.Transport{
		DialTimeout: dialTimeout, IdleTimeout: 5 * time.Minute, MetadataTTL: metadataTTL, TLS: c.TLS, SASL: c.SASL,
	}
	if len(c.Redirect) > 0 {
		d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
		t.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
			return d.DialContext(ctx, network, c.redirect(address))
		}
	}
	return t
}

// redirect is the address to dial for a broker address.
func (c Cluster) redirect(address string) string {
	if to, ok := c.Redirect[address]; ok {
		return to
	}
	return address
}

// client returns a kafka-go Client with a Transport of its own, and the function that closes its
// connections. Checks and tools use one per call: a long-lived Transport answers metadata
// requests from its cache.
func (c Cluster) client(dialTimeout, timeout time.Duration) (*kafka.Client, func()) {
	t := c.transport(dialTimeout, time.Minute)
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: timeout, Transport: t}, t.CloseIdleConnections
}

func (c Cluster) dialer(timeout time.Duration) *kafka.Dialer {
	d := &kafka.Dialer{Timeout: timeout, DualStack: true, TLS: c.TLS, SASLMechanism: c.SASL}
	if len(c.Redirect) > 0 {
		nd := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
		d.DialFunc = func(ctx context.Context, network, address string) (net.Conn, error) {
			return nd.DialContext(ctx, network, c.redirect(address))
		}
	}
	return d
}
