package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
)

// stamp is the version the tests' binaries are built with, as `make build` stamps VERSION.
const stamp = "v0.0.0-deploy-test"

var built struct {
	once sync.Once
	dir  string
	err  error
}

// binaries builds the three binaries once, with the linker flags `make build` uses (read from the
// Makefile, so that a wrong flag there fails here), and returns their directory.
func binaries(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
		if err != nil {
			built.err = err
			return
		}
		m := regexp.MustCompile(`(?m)^LDFLAGS\s*:=\s*(.+)$`).FindSubmatch(makefile)
		if m == nil {
			built.err = fmt.Errorf("no LDFLAGS := ... in the Makefile")
			return
		}
		ldflags := strings.ReplaceAll(string(m[1]), "$(VERSION)", stamp)
		built.dir, built.err = os.MkdirTemp("", "patient-profile-deploy-")
		if built.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", built.dir+string(filepath.Separator),
			"./cmd/producer", "./cmd/consumer", "./cmd/replay-dlq")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, built.err)
	return built.dir
}

// The version `make build` stamps is what -h prints, for the services and replay-dlq alike.
func TestVersionIsStamped(t *testing.T) {
	devenvtest.SkipIfShort(t)
	dir := binaries(t)
	for _, bin := range []string{"producer", "consumer", "replay-dlq"} {
		t.Run(bin, func(t *testing.T) {
			out, err := exec.Command(filepath.Join(dir, bin), "-h").CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "Version: "+stamp)
		})
	}
}

// series is what a binary serves on /metrics: each series name (a histogram's _bucket, _sum and
// _count, a summary's _sum and _count) with the label names it carries.
type series map[string]map[string]bool

func (s series) add(name string, labels []string) {
	if s[name] == nil {
		s[name] = map[string]bool{}
	}
	for _, l := range labels {
		s[name][l] = true
	}
}

func scrape(t *testing.T, into series, base string) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName())
			}
			switch {
			case m.GetHistogram() != nil:
				into.add(name+"_bucket", append(slices.Clone(labels), "le"))
				into.add(name+"_sum", labels)
				into.add(name+"_count", labels)
			case m.GetSummary() != nil:
				into.add(name, append(slices.Clone(labels), "quantile"))
				into.add(name+"_sum", labels)
				into.add(name+"_count", labels)
			default:
				into.add(name, labels)
			}
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// exportedSeries runs the real binaries (built as `make build` builds them) on the embedded
// stack, sends an update through them, and returns what both serve on /metrics. It also checks
// that /healthz names the stamped version.
func exportedSeries(t *testing.T) series {
	t.Helper()
	dir := binaries(t)
	logs := logtest.New(t)
	stack := devenvtest.Stack(t, logs)
	ports := map[string]int{}
	for _, bin := range []string{"consumer", "producer"} {
		port, err := devenv.FreePort()
		require.NoError(t, err)
		ports[bin] = port
		env := stack.ProducerEnv(port)
		if bin == "consumer" {
			env = stack.ConsumerEnv(port)
		}
		p, err := devenv.Start(bin, filepath.Join(dir, bin), env, logs)
		require.NoError(t, err)
		t.Cleanup(p.Kill)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		require.NoError(t, devenv.WaitHealthy(ctx, p, port))
		cancel()
	}
	base := func(bin string) string { return "http://127.0.0.1:" + strconv.Itoa(ports[bin]) }

	resp, err := http.Post(base("producer")+"/patientprofile", "application/json", strings.NewReader(
		`{"PatientId":"deploy-1","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Eventually(t, func() bool {
		code, _ := get(t, base("consumer")+"/patientprofile/deploy-1")
		return code == http.StatusOK
	}, time.Minute, 50*time.Millisecond, "the update never reached the replica")

	got := series{}
	for _, bin := range []string{"producer", "consumer"} {
		_, health := get(t, base(bin)+"/healthz")
		var h struct{ Version string }
		require.NoError(t, json.Unmarshal([]byte(health), &h))
		assert.Equal(t, stamp, h.Version, "%s /healthz", bin)
		code, _ := get(t, base(bin)+"/readyz")
		require.Equal(t, http.StatusOK, code, "%s /readyz", bin)
		// Twice: a route's series appears once it has been requested.
		scrape(t, got, base(bin))
		scrape(t, got, base(bin))
	}
	return got
}

// targetLabels are the labels Prometheus adds to every series it scrapes (the ServiceMonitor's
// target), which no binary exports.
var targetLabels = []string{"__name__", "job", "namespace", "pod", "instance", "service", "endpoint", "container"}

// watched returns a problem for every series expr selects that the binaries do not export, and
// for every label it matches on that the series does not carry. expr must parse.
func watched(expr string, exported series) ([]string, error) {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var problems []string
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		labels, ok := exported[vs.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is not exported by the binaries", vs.Name))
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if !slices.Contains(targetLabels, m.Name) && !labels[m.Name] {
				problems = append(problems, fmt.Sprintf("%s has no label %s", vs.Name, m.Name))
			}
		}
		return nil
	})
	return problems, nil
}

// dashboardQueries returns every query of the Grafana dashboard, with its variables set as
// Grafana would set them.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, chart, "files", "dashboard.json"))
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(b, &dash))
	vars := strings.NewReplacer("$__rate_interval", "2m", "$namespace", namespace, "$release", "patient-profile")
	queries := map[string]string{}
	for _, p := range dash.Panels {
		for i, target := range p.Targets {
			queries[fmt.Sprintf("%s #%d", p.Title, i+1)] = vars.Replace(target.Expr)
		}
	}
	return queries
}

func alertRules(t *testing.T) []monitoringv1.Rule {
	t.Helper()
	pr := only[*monitoringv1.PrometheusRule](t, rendered(t)["default"], "PrometheusRule", "profile")
	var rules []monitoringv1.Rule
	for _, g := range pr.Spec.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// An alert or a panel can never watch a series that does not exist: every expression parses with
// Prometheus's own parser, and every series it selects, with every label it matches on, is one the
// real binaries serve.
func TestAlertsAndDashboardWatchExportedSeries(t *testing.T) {
	devenvtest.SkipIfShort(t)
	rules := alertRules(t)
	require.NotEmpty(t, rules)
	queries := dashboardQueries(t)
	require.NotEmpty(t, queries)
	exported := exportedSeries(t)

	for _, r := range rules {
		t.Run(r.Alert, func(t *testing.T) {
			problems, err := watched(r.Expr.String(), exported)
			require.NoError(t, err, "the expression does not parse:\n%s", r.Expr.String())
			assert.Empty(t, problems)
		})
	}
	for title, q := range queries {
		t.Run("dashboard "+title, func(t *testing.T) {
			problems, err := watched(q, exported)
			require.NoError(t, err, "the query does not parse:\n%s", q)
			assert.Empty(t, problems)
		})
	}
}

// watched itself: what it reports when an expression is wrong.
func TestWatched(t *testing.T) {
	exported := series{}
	exported.add("patient_profile_ready", nil)
	exported.add("patient_profile_consumer_event_age_seconds_bucket", []string{"outcome", "le"})
	tests := []struct {
		name, expr   string
		wantProblems int
		wantErr      bool
	}{
		{"exported, with its labels", `histogram_quantile(0.99, sum by (le) (rate(patient_profile_consumer_event_age_seconds_bucket{job="x",outcome="applied"}[5m])))`, 0, false},
		{"a misspelt metric", `patient_profile_readyy == 0`, 1, false},
		{"a label the series lacks", `patient_profile_ready{outcome="applied"} == 0`, 1, false},
		{"a histogram's family name, not a series", `rate(patient_profile_consumer_event_age_seconds[5m])`, 1, false},
		{"not PromQL", `sum(rate(x[5m])`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems, err := watched(tt.expr, exported)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Len(t, problems, tt.wantProblems, "%v", problems)
		})
	}
}

// Every alert says what it is, how bad, and where its runbook is: a section of docs/runbooks.md
// named after the alert, which must exist.
func TestAlertsHaveRunbooks(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(root, "docs", "runbooks.md"))
	require.NoError(t, err)
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(page), "\n") {
		if title, ok := strings.CutPrefix(line, "## "); ok {
			anchors[strings.ToLower(strings.TrimSpace(title))] = true
		}
	}
	base := lookup(values(t, nil), "monitoring.runbookBaseURL").(string)
	for _, r := range alertRules(t) {
		t.Run(r.Alert, func(t *testing.T) {
			assert.NotEmpty(t, r.Annotations["summary"])
			assert.NotEmpty(t, r.Annotations["description"])
			assert.Contains(t, []string{"critical", "warning"}, r.Labels["severity"])
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], base+"#")
			require.True(t, ok, "runbook_url %q is not under %s", r.Annotations["runbook_url"], base)
			assert.Equal(t, strings.ToLower(r.Alert), anchor)
			assert.True(t, anchors[anchor], "docs/runbooks.md has no section ## %s", r.Alert)
		})
	}
}
