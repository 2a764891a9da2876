package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
)

// selfSigned returns a certificate for 127.0.0.1 and the path of a PEM file holding it, to
// serve as the CA the clients trust.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}

// startSecureStack starts a stack whose broker requires TLS and SCRAM-SHA-512, and returns the
// variables a binary needs to reach it and the CA file they name.
func startSecureStack(t *testing.T, logs *logtest.Buffer) (s *devenv.Stack, env []string, caFile string) {
	t.Helper()
	cert, caFile := selfSigned(t)
	s = startStack(t, logs, func(o *devenv.Options) {
		o.KafkaOpts = []kfake.Opt{
			kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
			kfake.EnableSASL(),
			kfake.Superuser("SCRAM-SHA-512", "svc", "s3cret"),
		}
		o.KafkaSecurity = broker.Security{TLS: true, TLSCAFile: caFile,
			SASLMechanism: "SCRAM-SHA-512", SASLUsername: "svc", SASLPassword: "s3cret"}
	})
	env = []string{"KAFKA_TLS=true", "KAFKA_TLS_CA_FILE=" + caFile,
		"KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "KAFKA_SASL_USERNAME=svc", "KAFKA_SASL_PASSWORD=s3cret"}
	return s, env, caFile
}

// Managed clusters (MSK, Confluent Cloud, Aiven) want TLS and SASL. Both binaries speak them to a
// broker that requires them, and a wrong password is a 503 and not-ready, never a 201.
func TestTLSAndSASL(t *testing.T) {
	logs := logtest.New(t)
	s, secure, _ := startSecureStack(t, logs)

	cport, pport, bad := devenvtest.FreePort(t), devenvtest.FreePort(t), devenvtest.FreePort(t)
	start(t, "consumer", s.ConsumerEnv(cport, secure...), cport, logs)
	start(t, "producer", s.ProducerEnv(pport, secure...), pport, logs)
	start(t, "producer", s.ProducerEnv(bad, append(secure, "KAFKA_SASL_PASSWORD=wrong", "PUBLISH_TIMEOUT=1s")...), bad, logs)

	resp, err := postProfile(pport, "secure")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Eventually(t, func() bool {
		_, ok, err := s.Store.Get(context.Background(), "secure")
		return err == nil && ok
	}, 30*time.Second, 50*time.Millisecond, "the event never reached the table")
	assert.Equal(t, http.StatusOK, status(pport, "/readyz"))
	assert.Equal(t, http.StatusOK, status(cport, "/readyz"))

	resp, err = postProfile(bad, "refused")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, http.StatusServiceUnavailable, status(bad, "/readyz"))
}
