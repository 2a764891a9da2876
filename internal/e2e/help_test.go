package e2e

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/config"
)

func TestHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the built binaries: runs without -short")
	}
	specs := map[string]any{"producer": &config.Producer{}, "consumer": &config.Consumer{}, "console": &config.Console{}}
	for _, name := range []string{"producer", "consumer", "console"} {
		var want bytes.Buffer
		require.NoError(t, config.Usage(&want, specs[name]))
		for _, arg := range []string{"-h", "-help", "--help"} {
			t.Run(name+" "+arg, func(t *testing.T) {
				// A broken environment must not stop the help from printing.
				cmd := exec.Command(bins[name], arg)
				cmd.Env = []string{"SERVER_PORT=nope"}
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "exit status; output:\n%s", out)
				assert.Contains(t, string(out), want.String())
			})
		}
		t.Run(name+" other arguments", func(t *testing.T) {
			out, err := exec.Command(bins[name], "-x").CombinedOutput()
			assert.Error(t, err)
			assert.True(t, strings.Contains(string(out), "-h lists them"), "got %q", out)
		})
	}
}
