package broker_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/broker"
)

// hermeticAWS makes the AWS SDK's default chain see only what the test sets: no shared files,
// no profile, no web identity or container credentials from the machine running the test.
func hermeticAWS(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range []string{"AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_SESSION_TOKEN",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// AWS_MSK_IAM signs in with what the AWS SDK's default chain finds (here, the environment's
// keys) for the region it finds: the first SASL message is MSK's signed JSON for
// kafka-cluster:Connect on the broker's host. Without a region it refuses to start.
func TestMSKIAMSignsWithTheDefaultChain(t *testing.T) {
	const host = "b-1.patients.abc123.c2.kafka.eu-west-2.amazonaws.com"
	hermeticAWS(t, map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-2",
	})
	cl, err := broker.NewCluster([]string{host + ":9098"}, broker.Security{TLS: true, SASLMechanism: "AWS_MSK_IAM"}, nil)
	require.NoError(t, err)
	require.NotNil(t, cl.TLS)
	require.Equal(t, "AWS_MSK_IAM", cl.SASL.Name())

	ctx := sasl.WithMetadata(context.Background(), &sasl.Metadata{Host: host, Port: 9098})
	_, first, err := cl.SASL.Start(ctx)
	require.NoError(t, err)
	var signed map[string]string
	require.NoError(t, json.Unmarshal(first, &signed))
	assert.Equal(t, "kafka-cluster:Connect", signed["action"])
	assert.Equal(t, host, signed["host"])
	assert.True(t, strings.HasPrefix(signed["x-amz-credential"], "AKIDEXAMPLE/"), "credential %q", signed["x-amz-credential"])
	assert.True(t, strings.HasSuffix(signed["x-amz-credential"], "/eu-west-2/kafka-cluster/aws4_request"),
		"credential %q", signed["x-amz-credential"])
	assert.NotEmpty(t, signed["x-amz-signature"])

	t.Run("no region", func(t *testing.T) {
		t.Setenv("AWS_REGION", "")
		_, err := broker.NewCluster([]string{host + ":9098"}, broker.Security{TLS: true, SASLMechanism: "AWS_MSK_IAM"}, nil)
		assert.ErrorContains(t, err, "set AWS_REGION")
	})
}
