package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statement is an IAM policy statement as these files write it: Action may be one string or a
// list, and so may Resource.
type statement struct {
	Sid       string
	Effect    string
	Action    stringOrList
	Resource  stringOrList
	Principal map[string]string
	Condition map[string]map[string]string
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var list []string
	err := json.Unmarshal(b, &list)
	*s = list
	return err
}

type policy struct {
	Version   string
	Statement []statement
}

// placeholders are the names the policies leave to be filled in (deploy/iam/README.md lists them).
var placeholder = regexp.MustCompile(`\$\{([A-Z_]+)\}`)

func readPolicy(t *testing.T, file string) (policy, []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy", "iam", file))
	require.NoError(t, err)
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(string(b), -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var p policy
	require.NoError(t, dec.Decode(&p), file)
	require.Equal(t, "2012-10-17", p.Version, file)
	return p, names
}

// Each binary gets what it calls and nothing more: the consumer PutItem, GetItem and
// DescribeTable on the one table (no Scan, no DeleteItem, no other table), the producer nothing
// on DynamoDB unless Idempotency-Key's optional policy is attached, and then only on its key
// table; each Kafka right on its one topic or group. No wildcard anywhere, no Deny to
// reason about.
func TestIAMPolicies(t *testing.T) {
	cluster := "arn:aws:kafka:${AWS_REGION}:${AWS_ACCOUNT_ID}:cluster/${MSK_CLUSTER_NAME}/${MSK_CLUSTER_UUID}"
	topic := func(name string) string {
		return "arn:aws:kafka:${AWS_REGION}:${AWS_ACCOUNT_ID}:topic/${MSK_CLUSTER_NAME}/${MSK_CLUSTER_UUID}/" + name
	}
	group := "arn:aws:kafka:${AWS_REGION}:${AWS_ACCOUNT_ID}:group/${MSK_CLUSTER_NAME}/${MSK_CLUSTER_UUID}/${CONSUMER_GROUP}"
	table := "arn:aws:dynamodb:${AWS_REGION}:${AWS_ACCOUNT_ID}:table/${TABLE_NAME}"
	tests := []struct {
		file string
		// want is every action the policy grants, by resource.
		want map[string][]string
	}{
		{"consumer-policy.json", map[string][]string{
			table:                  {"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem"},
			cluster:                {"kafka-cluster:Connect"},
			topic("${TOPIC_NAME}"): {"kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"},
			topic("${DLQ_TOPIC}"):  {"kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"},
			group:                  {"kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"},
		}},
		{"producer-policy.json", map[string][]string{
			cluster:                {"kafka-cluster:Connect"},
			topic("${TOPIC_NAME}"): {"kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"},
		}},
		// Optional, for the Idempotency-Key feature: its own key table and nothing else; in
		// particular not the replica's table, which only the consumer writes.
		{"producer-idempotency-policy.json", map[string][]string{
			"arn:aws:dynamodb:${AWS_REGION}:${AWS_ACCOUNT_ID}:table/${IDEMPOTENCY_TABLE}": {
				"dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem",
				"dynamodb:UpdateItem",
			},
		}},
		{"replay-dlq-policy.json", map[string][]string{
			cluster:                {"kafka-cluster:Connect"},
			topic("${DLQ_TOPIC}"):  {"kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"},
			topic("${TOPIC_NAME}"): {"kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"},
		}},
		{"keda-policy.json", map[string][]string{
			cluster:                {"kafka-cluster:Connect"},
			topic("${TOPIC_NAME}"): {"kafka-cluster:DescribeTopic"},
			group:                  {"kafka-cluster:DescribeGroup"},
		}},
	}
	readme, err := os.ReadFile(filepath.Join(root, "deploy", "iam", "README.md"))
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, names := readPolicy(t, tt.file)
			got := map[string][]string{}
			for _, s := range p.Statement {
				assert.Equal(t, "Allow", s.Effect, s.Sid)
				assert.NotEmpty(t, s.Sid, "a statement without a Sid says nothing of why it is there")
				for _, a := range s.Action {
					assert.NotContains(t, a, "*", s.Sid)
				}
				for _, r := range s.Resource {
					assert.NotContains(t, r, "*", s.Sid)
					got[r] = append(got[r], s.Action...)
				}
			}
			for r := range got {
				slices.Sort(got[r])
				got[r] = slices.Compact(got[r])
			}
			assert.Equal(t, tt.want, got)
			for _, n := range names {
				assert.Contains(t, string(readme), "`"+n+"`", "deploy/iam/README.md does not say what %s is", n)
			}
		})
	}
}

// The roles' trust policies let one service account of one namespace (of one cluster, for Pod
// Identity) assume them, and nothing else.
func TestIAMTrustPolicies(t *testing.T) {
	tests := []struct {
		file           string
		wantAction     []string
		wantConditions []string
	}{
		{"trust-irsa.json", []string{"sts:AssumeRoleWithWebIdentity"},
			[]string{"${OIDC_PROVIDER}:sub", "${OIDC_PROVIDER}:aud"}},
		{"trust-pod-identity.json", []string{"sts:AssumeRole", "sts:TagSession"},
			[]string{"aws:SourceAccount", "aws:SourceArn", "aws:RequestTag/kubernetes-namespace",
				"aws:RequestTag/kubernetes-service-account"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, _ := readPolicy(t, tt.file)
			require.Len(t, p.Statement, 1)
			s := p.Statement[0]
			assert.Equal(t, "Allow", s.Effect)
			assert.ElementsMatch(t, tt.wantAction, []string(s.Action))
			var keys []string
			for _, kv := range s.Condition {
				for k := range kv {
					keys = append(keys, k)
				}
			}
			assert.ElementsMatch(t, tt.wantConditions, keys)
		})
	}
}
