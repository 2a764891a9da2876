package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/idempotency"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// The Docker stack gets its topics and table from `devstack -provision`, through the code the
// embedded stack runs. Run twice, as `make compose-up` run again does, it must succeed and leave
// the topics with their partitions and the table with its key and TTL.
func TestProvision(t *testing.T) {
	devenvtest.SkipIfShort(t)
	tests := []struct {
		name string
		// dynalite has no TTL API: the proxy in front of it answers the TTL calls as DynamoDB
		// and LocalStack do, so that the test can see which attribute the TTL is on.
		ttlAPI  bool
		wantTTL string
	}{
		{name: "an endpoint with TTL, as LocalStack", ttlAPI: true, wantTTL: ": TTL on ExpiresAt"},
		{name: "dynalite, without TTL", ttlAPI: false, wantTTL: "no TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kafka, err := devenv.StartKafka(0, "")
			require.NoError(t, err)
			t.Cleanup(kafka.Close)
			d := devenvtest.Dynalite(t)
			endpoint := d.Endpoint()
			var ttl *ttlProxy
			if tt.ttlAPI {
				ttl = newTTLProxy(t, d.Endpoint())
				endpoint = ttl.URL
			}
			t.Setenv("KAFKA_BROKERS", kafka.ListenAddrs()[0])
			t.Setenv("DDB_HOST", endpoint)
			t.Setenv("TOPIC_NAME", "events")
			t.Setenv("DLQ_TOPIC", "events.dlq")
			t.Setenv("DDB_NAME", "profiles")
			t.Setenv("IDEMPOTENCY_TABLE", "keys")

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for i := range 2 {
				var out bytes.Buffer
				require.NoError(t, run(ctx, []string{"devstack", "-provision"}, &out), "provisioning %d", i+1)
				assert.Contains(t, out.String(), tt.wantTTL, "provisioning %d", i+1)
				assert.Contains(t, out.String(), "table keys (Idempotency-Keys) on "+endpoint, "provisioning %d", i+1)
			}

			for _, topic := range []string{"events", "events.dlq"} {
				assert.Len(t, kafka.PartitionInfos(topic), devenv.Partitions, "partitions of %s", topic)
			}
			client, err := store.NewClient(ctx, endpoint, "", 1)
			require.NoError(t, err)
			table, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("profiles")})
			require.NoError(t, err)
			assert.Equal(t, []types.KeySchemaElement{{AttributeName: aws.String("PatientId"), KeyType: types.KeyTypeHash}},
				table.Table.KeySchema)
			assert.Equal(t, []types.AttributeDefinition{
				{AttributeName: aws.String("PatientId"), AttributeType: types.ScalarAttributeTypeS},
			}, table.Table.AttributeDefinitions)
			keys, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("keys")})
			require.NoError(t, err)
			assert.Equal(t, []types.KeySchemaElement{{AttributeName: aws.String(idempotency.AttrKey), KeyType: types.KeyTypeHash}},
				keys.Table.KeySchema)
			if ttl != nil {
				for table, attr := range map[string]string{"profiles": store.AttrExpiresAt, "keys": idempotency.AttrExpiresAt} {
					got, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
					require.NoError(t, err)
					assert.Equal(t, attr, aws.ToString(got.TimeToLiveDescription.AttributeName), table)
					assert.Equal(t, types.TimeToLiveStatusEnabled, got.TimeToLiveDescription.TimeToLiveStatus, table)
				}
			}
		})
	}
}

// ttlProxy passes every DynamoDB call on to dynalite but the two TTL calls, which it answers
// itself as DynamoDB does, refusing to enable TTL twice.
type ttlProxy struct {
	*httptest.Server
	mu   sync.Mutex
	attr map[string]string // table: the attribute its TTL is on
}

func newTTLProxy(t *testing.T, dynalite string) *ttlProxy {
	t.Helper()
	target, err := url.Parse(dynalite)
	require.NoError(t, err)
	p := &ttlProxy{attr: map[string]string{}}
	forward := httputil.NewSingleHostReverseProxy(target)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			TableName               string
			TimeToLiveSpecification struct {
				AttributeName string
				Enabled       bool
			}
		}
		answer := func(status int, body any) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(body)
		}
		switch r.Header.Get("X-Amz-Target") {
		case "DynamoDB_20120810.UpdateTimeToLive":
			body, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(body, &req); err != nil || !req.TimeToLiveSpecification.Enabled {
				answer(http.StatusBadRequest, map[string]string{"__type": "ValidationException", "message": "unexpected"})
				return
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.attr[req.TableName] != "" {
				answer(http.StatusBadRequest, map[string]string{
					"__type": "com.amazonaws.dynamodb.v20120810#ValidationException", "message": "TimeToLive is already enabled"})
				return
			}
			p.attr[req.TableName] = req.TimeToLiveSpecification.AttributeName
			answer(http.StatusOK, map[string]any{"TimeToLiveSpecification": req.TimeToLiveSpecification})
		case "DynamoDB_20120810.DescribeTimeToLive":
			body, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(body, &req)
			p.mu.Lock()
			defer p.mu.Unlock()
			desc := map[string]string{"TimeToLiveStatus": "DISABLED"}
			if attr := p.attr[req.TableName]; attr != "" {
				desc = map[string]string{"TimeToLiveStatus": "ENABLED", "AttributeName": attr}
			}
			answer(http.StatusOK, map[string]any{"TimeToLiveDescription": desc})
		default:
			forward.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(p.Close)
	return p
}

// What the command refuses, it refuses before it starts anything.
func TestRunRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "both modes", args: []string{"-run", "-provision"}, want: "-run and -provision exclude each other"},
		{name: "an argument", args: []string{"now"}, want: `unexpected arguments ["now"]`},
		{name: "an unknown flag", args: []string{"-x"}, want: "-h lists the flags"},
		{name: "provisioning real AWS", args: []string{"-provision"}, env: map[string]string{"DDB_HOST": ""},
			want: "-provision needs DDB_HOST"},
		{name: "a bad port", args: []string{"-run"}, env: map[string]string{"CONSUMER_PORT": "0"}, want: "CONSUMER_PORT=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"devstack"}, tt.args...), &out)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, out.String(), "nothing started, nothing said")
		})
	}
}

// The banner is word for word the one devstack/run.sh printed before devstack did, with the real
// ports, and the console's URL.
func TestBanner(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "defaults", want: `
Everything is up. Authentication is OFF: anyone who reaches :3000 can write (set API_TOKENS or API_TOKENS_FILE)
Open the console: http://localhost:8080

Try it:

  curl -i -X POST localhost:3000/patientprofile -H 'Content-Type: application/json' \
    -d '{"PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}'

  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1 \
    aws dynamodb scan --endpoint-url=http://localhost:4566 --table-name patient-profile

Ctrl-C stops everything.

`},
		{name: "other ports and tokens", env: map[string]string{"PRODUCER_PORT": "4000", "DDB_PORT": "5566",
			"CONSOLE_PORT": "9090", "API_TOKENS": "0123456789abcdef"}, want: `
Everything is up. Authentication is ON: POST needs -H 'Authorization: Bearer <token>'
Open the console: http://localhost:9090

Try it:

  curl -i -X POST localhost:4000/patientprofile -H 'Content-Type: application/json' \
    -d '{"PatientId":"1","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}'

  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1 \
    aws dynamodb scan --endpoint-url=http://localhost:5566 --table-name patient-profile

Ctrl-C stops everything.

`},
		{name: "a token file", env: map[string]string{"API_TOKENS_FILE": "/run/secrets/tokens"},
			want: "Authentication is ON: POST needs -H 'Authorization: Bearer <token>'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := config.LoadDevStack()
			require.NoError(t, err)
			assert.Contains(t, banner(cfg), tt.want)
		})
	}
}
