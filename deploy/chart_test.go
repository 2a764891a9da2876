package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// kinds are the objects the chart may render, each with its Go API type. A kind missing here
// fails the test: add it, with its type, so that it is checked too.
var kinds = map[string]func() any{
	"apps/v1 Deployment":                      func() any { return &appsv1.Deployment{} },
	"v1 Service":                              func() any { return &corev1.Service{} },
	"v1 ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"v1 Secret":                               func() any { return &corev1.Secret{} },
	"v1 ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"autoscaling/v2 HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1 PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1 NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"keda.sh/v1alpha1 ScaledObject":           func() any { return &kedav1alpha1.ScaledObject{} },
	"keda.sh/v1alpha1 TriggerAuthentication":  func() any { return &kedav1alpha1.TriggerAuthentication{} },
	"monitoring.coreos.com/v1 ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1 PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
}

// decode reads every document of a rendering into its API type, strictly: a field the type does
// not have, a field given twice, or a value of the wrong type is an error.
func decode(rendered string) (map[string][]any, error) {
	objects := map[string][]any{}
	for _, doc := range strings.Split(rendered, "\n---") {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, err
		}
		kind := head.APIVersion + " " + head.Kind
		newObject, ok := kinds[kind]
		if !ok {
			return nil, fmt.Errorf("%s: no Go type to check it against (add it to kinds)", kind)
		}
		// As kubectl sends it: YAML to JSON as written (a number stays a number where the type
		// wants a string, as the API server would see it), refusing a key given twice; then into
		// the type, refusing a field it does not have.
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		obj := newObject()
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		objects[head.Kind] = append(objects[head.Kind], obj)
	}
	return objects, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// The decoding is strict: it is what makes a misspelt field fail.
func TestDecodeIsStrict(t *testing.T) {
	tests := []struct {
		name, doc, wantErr string
	}{
		{"a known object", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n", ""},
		{"a misspelt field", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 2\n", `unknown field "replica"`},
		{"a misspelt KEDA field", "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nspec:\n  maxReplicas: 2\n",
			`unknown field "maxReplicas"`},
		{"KEDA's metadata is strings", "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nspec:\n  triggers:\n" +
			"  - type: kafka\n    metadata:\n      lagThreshold: 10\n", "cannot unmarshal number"},
		{"a field given twice", "apiVersion: v1\nkind: Service\nspec:\n  type: ClusterIP\n  type: NodePort\n", "already set"},
		{"a kind with no type here", "apiVersion: v1\nkind: Pod\n", "no Go type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(tt.doc)
			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.wantErr)
			}
		})
	}
}

func TestChartLints(t *testing.T) {
	for name, files := range valuesFiles {
		t.Run(name, func(t *testing.T) {
			args := []string{"lint", "--strict", chart, "--namespace", namespace, "--kube-version", kubeVersion}
			for _, f := range files {
				args = append(args, "--values", f)
			}
			out, err := helm(t, args...)
			require.NoError(t, err, out)
		})
	}
}

var renderings struct {
	once    sync.Once
	objects map[string]map[string][]any
	err     error
}

// rendered is the chart, rendered and decoded, for each values file; rendered once for the tests
// that read it.
func rendered(t *testing.T) map[string]map[string][]any {
	t.Helper()
	renderings.once.Do(func() {
		renderings.objects = map[string]map[string][]any{}
		for name, files := range valuesFiles {
			text, err := render(t, files)
			if err == nil {
				renderings.objects[name], err = decode(text)
			}
			if err != nil {
				renderings.err = fmt.Errorf("values %s: %w", name, err)
				return
			}
		}
	})
	require.NoError(t, renderings.err)
	return renderings.objects
}

func only[T any](t *testing.T, objects map[string][]any, kind, component string) T {
	t.Helper()
	for _, o := range objects[kind] {
		if v, ok := o.(T); ok && strings.HasSuffix(name(o), component) {
			return v
		}
	}
	require.FailNow(t, fmt.Sprintf("no %s of the %s", kind, component))
	var zero T
	return zero
}

func name(o any) string {
	type named interface{ GetName() string }
	return o.(named).GetName()
}

func envOf(c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

// Every rendering, default and production, is a complete, hardened and scaled deployment: the
// properties docs/deploying.md promises.
func TestChartRenders(t *testing.T) {
	for valuesName, objects := range rendered(t) {
		v := values(t, valuesFiles[valuesName])
		partitions := int32(lookup(v, "kafka.partitions").(float64))
		t.Run(valuesName, func(t *testing.T) {
			for _, component := range []string{"producer", "consumer"} {
				t.Run(component, func(t *testing.T) {
					d := only[*appsv1.Deployment](t, objects, "Deployment", component)
					checkPod(t, d.Spec.Template.Spec, component)
					only[*corev1.Service](t, objects, "Service", component)
					only[*corev1.ServiceAccount](t, objects, "ServiceAccount", component)
					pdb := only[*policyv1.PodDisruptionBudget](t, objects, "PodDisruptionBudget", component)
					assert.Equal(t, d.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels)
					np := only[*networkingv1.NetworkPolicy](t, objects, "NetworkPolicy", component)
					assert.ElementsMatch(t, []networkingv1.PolicyType{"Ingress", "Egress"}, np.Spec.PolicyTypes)
					assert.Equal(t, d.Spec.Selector.MatchLabels, np.Spec.PodSelector.MatchLabels)
					// Autoscaled: the autoscaler owns the replicas, so the Deployment leaves them alone.
					assert.Nil(t, d.Spec.Replicas, "an autoscaled Deployment must not set replicas")
				})
			}

			hpa := only[*autoscalingv2.HorizontalPodAutoscaler](t, objects, "HorizontalPodAutoscaler", "producer")
			assert.Equal(t, name(only[*appsv1.Deployment](t, objects, "Deployment", "producer")), hpa.Spec.ScaleTargetRef.Name)
			require.Len(t, hpa.Spec.Metrics, 1)
			assert.Equal(t, corev1.ResourceCPU, hpa.Spec.Metrics[0].Resource.Name)

			so := only[*kedav1alpha1.ScaledObject](t, objects, "ScaledObject", "consumer")
			assert.Equal(t, name(only[*appsv1.Deployment](t, objects, "Deployment", "consumer")), so.Spec.ScaleTargetRef.Name)
			require.NotNil(t, so.Spec.MaxReplicaCount)
			assert.LessOrEqual(t, *so.Spec.MaxReplicaCount, partitions, "more consumers than partitions")
			require.Len(t, so.Spec.Triggers, 1)
			trigger := so.Spec.Triggers[0]
			assert.Equal(t, "kafka", trigger.Type)
			assert.Equal(t, lookup(v, "kafka.consumerGroup"), trigger.Metadata["consumerGroup"])
			assert.Equal(t, lookup(v, "kafka.topic"), trigger.Metadata["topic"])
			assert.Equal(t, "false", trigger.Metadata["allowIdleConsumers"])

			sm := only[*monitoringv1.ServiceMonitor](t, objects, "ServiceMonitor", "profile")
			require.Len(t, sm.Spec.Endpoints, 1)
			assert.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
			only[*monitoringv1.PrometheusRule](t, objects, "PrometheusRule", "profile")
			only[*corev1.ConfigMap](t, objects, "ConfigMap", "dashboard")
		})
	}
}

// checkPod is what every pod of the chart must be: non-root, read-only, without capabilities,
// under the runtime's seccomp profile; probed on /healthz and /readyz; given requests and a
// memory limit; and given more time to stop than its own SHUTDOWN_TIMEOUT takes.
func checkPod(t *testing.T, pod corev1.PodSpec, component string) {
	t.Helper()
	require.NotNil(t, pod.SecurityContext)
	assert.Equal(t, ptr(true), pod.SecurityContext.RunAsNonRoot)
	require.NotNil(t, pod.SecurityContext.SeccompProfile)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, pod.SecurityContext.SeccompProfile.Type)
	assert.Equal(t, ptr(false), pod.AutomountServiceAccountToken)
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	assert.True(t, strings.Contains(c.Image, "/"+component+":"), "image %s is not the %s's", c.Image, component)
	sc := c.SecurityContext
	require.NotNil(t, sc)
	assert.Equal(t, ptr(true), sc.ReadOnlyRootFilesystem)
	assert.Equal(t, ptr(false), sc.AllowPrivilegeEscalation)
	assert.Equal(t, ptr(true), sc.RunAsNonRoot)
	require.NotNil(t, sc.Capabilities)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.Empty(t, sc.Capabilities.Add)
	require.NotNil(t, c.LivenessProbe)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	require.NotNil(t, c.ReadinessProbe)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.False(t, c.Resources.Requests.Cpu().IsZero(), "no CPU request")
	assert.False(t, c.Resources.Requests.Memory().IsZero(), "no memory request")
	assert.False(t, c.Resources.Limits.Memory().IsZero(), "no memory limit")

	env := envOf(c)
	shutdown, err := time.ParseDuration(env["SHUTDOWN_TIMEOUT"])
	require.NoError(t, err, "SHUTDOWN_TIMEOUT")
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		grace -= time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	assert.Greater(t, grace, shutdown, "the pod is killed before SHUTDOWN_TIMEOUT has passed")

	// API_TOKENS_FILE, when set, is a file of a mounted Secret.
	if file := env["API_TOKENS_FILE"]; file != "" {
		i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return strings.HasPrefix(file, m.MountPath+"/") })
		require.GreaterOrEqual(t, i, 0, "API_TOKENS_FILE %s is not in a mounted volume", file)
		v := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == c.VolumeMounts[i].Name })
		require.GreaterOrEqual(t, v, 0)
		assert.NotNil(t, pod.Volumes[v].Secret, "API_TOKENS_FILE is not from a Secret")
	}
}

func ptr[T any](v T) *T { return &v }

// The production example is what docs/deploying.md deploys: MSK with IAM (and KEDA signing in
// with IAM too), the pods' roles through IRSA, the tokens from the Secret named, the network
// narrowed.
func TestProductionValues(t *testing.T) {
	objects := rendered(t)["production"]
	for _, component := range []string{"producer", "consumer"} {
		d := only[*appsv1.Deployment](t, objects, "Deployment", component)
		env := envOf(d.Spec.Template.Spec.Containers[0])
		assert.Equal(t, "AWS_MSK_IAM", env["KAFKA_SASL_MECHANISM"], component)
		assert.Equal(t, "true", env["KAFKA_TLS"], component)
		assert.NotEmpty(t, env["AWS_REGION"], component)
		assert.NotContains(t, env, "KAFKA_SASL_PASSWORD", component)
		assert.NotEmpty(t, env["API_TOKENS_FILE"], component)
		assert.Empty(t, objects["Secret"], "production tokens come from a Secret managed outside the chart")
		sa := only[*corev1.ServiceAccount](t, objects, "ServiceAccount", component)
		assert.Contains(t, sa.Annotations["eks.amazonaws.com/role-arn"], "role/patient-profile-"+component)
		np := only[*networkingv1.NetworkPolicy](t, objects, "NetworkPolicy", component)
		require.NotEmpty(t, np.Spec.Ingress)
		assert.NotEmpty(t, np.Spec.Ingress[0].From, "the %s's clients are not restricted", component)
	}
	so := only[*kedav1alpha1.ScaledObject](t, objects, "ScaledObject", "consumer")
	md := so.Spec.Triggers[0].Metadata
	assert.Equal(t, map[string]string{"sasl": "oauthbearer", "saslTokenProvider": "aws_msk_iam", "tls": "enable"},
		map[string]string{"sasl": md["sasl"], "saslTokenProvider": md["saslTokenProvider"], "tls": md["tls"]})
	ta := only[*kedav1alpha1.TriggerAuthentication](t, objects, "TriggerAuthentication", "kafka")
	require.NotNil(t, ta.Spec.PodIdentity)
	assert.Equal(t, kedav1alpha1.PodIdentityProviderAws, ta.Spec.PodIdentity.Provider)
}

// The chart refuses what cannot work, at render time.
func TestChartRefuses(t *testing.T) {
	tests := []struct {
		name    string
		set     []string
		wantErr string
	}{
		{"more consumers than partitions", []string{"consumer.autoscaling.maxReplicas=7"},
			"consumer.autoscaling.maxReplicas (7) is more than kafka.partitions (6)"},
		{"more fixed consumers than partitions", []string{"consumer.autoscaling.enabled=false", "consumer.replicas=9"},
			"consumer.replicas (9) is more than kafka.partitions (6)"},
		{"SCRAM without its Secret", []string{"kafka.sasl.mechanism=SCRAM-SHA-512"}, "kafka.sasl.secretName"},
		{"a short token", []string{"apiTokens.tokens={short}"}, "at least 16 characters"},
		{"KEDA with MSK IAM and no region", []string{"kafka.sasl.mechanism=AWS_MSK_IAM", "kafka.tls=true"}, "aws.region"},
		{"idempotency keys without their table", []string{"producer.idempotencyKeys.table="},
			"producer.idempotencyKeys.table is needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, nil, tt.set...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// Tokens given to the chart land, one per line, in the Secret API_TOKENS_FILE reads.
func TestChartTokensSecret(t *testing.T) {
	text, err := render(t, nil, "apiTokens.tokens={aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb}")
	require.NoError(t, err)
	objects, err := decode(text)
	require.NoError(t, err)
	s := only[*corev1.Secret](t, objects, "Secret", "api-tokens")
	assert.Equal(t, []string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"}, strings.Split(s.StringData["tokens"], "\n"))
	d := only[*appsv1.Deployment](t, objects, "Deployment", "producer")
	assert.Equal(t, "/etc/patient-profile/api-tokens/tokens", envOf(d.Spec.Template.Spec.Containers[0])["API_TOKENS_FILE"])
	checkPod(t, d.Spec.Template.Spec, "producer")
}

// Idempotency-Key's table is on by default; off, IDEMPOTENCY_TABLE is set empty, or the producer
// would look for the table of its default name, which it has no right to, and never be ready.
// The consumer is never given it.
func TestChartIdempotencyKeys(t *testing.T) {
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"on by default", nil, "patient-profile-idempotency"},
		{"another table", []string{"producer.idempotencyKeys.table=idempotency-keys"}, "idempotency-keys"},
		{"off", []string{"producer.idempotencyKeys.enabled=false"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := render(t, nil, tt.set...)
			require.NoError(t, err)
			objects, err := decode(text)
			require.NoError(t, err)
			producer := envOf(only[*appsv1.Deployment](t, objects, "Deployment", "producer").Spec.Template.Spec.Containers[0])
			require.Contains(t, producer, "IDEMPOTENCY_TABLE", "set even when off: the producer's default names a table")
			assert.Equal(t, tt.want, producer["IDEMPOTENCY_TABLE"])
			assert.NotContains(t, producer, "DDB_NAME", "the producer must never be given the replica's table")
			consumer := envOf(only[*appsv1.Deployment](t, objects, "Deployment", "consumer").Spec.Template.Spec.Containers[0])
			assert.NotContains(t, consumer, "IDEMPOTENCY_TABLE")
		})
	}
}
