// Package deploy_test checks what ships beside the code, offline: the Helm chart lints and renders,
// for the default and the production values, into objects that decode strictly into their API
// types (Kubernetes', KEDA's, the Prometheus Operator's), so a misspelt field fails here rather
// than in a cluster; the pods are hardened and scaled as docs/deploying.md says; every alert and
// dashboard query parses and watches only series the real binaries export; the IAM policies grant
// each binary what it needs and nothing more; and the images start. There is no non-test code here.
package deploy_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

const (
	// root is the module's root, from this package's directory.
	root  = ".."
	chart = "deploy/helm/patient-profile"
	// namespace is where the tests install the chart; the alerts select on it.
	namespace = "patients"
	// kubeVersion is the cluster the chart is rendered for: Helm built as a Go tool does not know
	// its own Kubernetes version (the release build stamps it), and the chart needs 1.30 or later.
	kubeVersion = "1.33.0"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" { // the binaries metrics_test.go built
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// valuesFiles are the chart's values as the tests render them: the defaults, and the production
// example docs/deploying.md uses (over the defaults).
var valuesFiles = map[string][]string{
	"default":    nil,
	"production": {chart + "/values-production.yaml"},
}

var helmBin struct {
	once sync.Once
	path string
	err  error
}

// helm runs the Helm pinned in go.mod at the module's root. `go tool -n helm` builds it (once,
// into Go's cache) and says where it is, so that each call does not pay for go tool's checks.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	helmBin.once.Do(func() {
		cmd := exec.Command("go", "tool", "-n", "helm")
		cmd.Dir = root
		out, err := cmd.Output()
		helmBin.path, helmBin.err = strings.TrimSpace(string(out)), err
	})
	require.NoError(t, helmBin.err, "go tool -n helm")
	cmd := exec.Command(helmBin.path, args...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), &helmError{err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

type helmError struct {
	err    error
	stderr string
}

func (e *helmError) Error() string { return e.err.Error() + ": " + strings.TrimSpace(e.stderr) }

// render is `helm template` of the chart with the values files and --set pairs, as the release
// "patient-profile" in namespace.
func render(t *testing.T, files []string, set ...string) (string, error) {
	t.Helper()
	args := []string{"template", "patient-profile", chart, "--namespace", namespace, "--kube-version", kubeVersion}
	for _, f := range files {
		args = append(args, "--values", f)
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return helm(t, args...)
}

// values is the chart's values with the files over the defaults, as Helm merges them (maps
// merge, anything else is replaced).
func values(t *testing.T, files []string) map[string]any {
	t.Helper()
	merged := map[string]any{}
	for _, f := range append([]string{chart + "/values.yaml"}, files...) {
		b, err := os.ReadFile(filepath.Join(root, f))
		require.NoError(t, err)
		var v map[string]any
		require.NoError(t, yaml.Unmarshal(b, &v))
		merge(merged, v)
	}
	return merged
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// lookup reads a dotted path ("kafka.partitions") from values.
func lookup(v map[string]any, path string) any {
	var cur any = v
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}
