package devenv_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
)

// How a run ends: what `make run` prints and exits with after the services a and b.
func TestRunServices(t *testing.T) {
	tests := []struct {
		name string
		// a and b add to each service's environment (the helper's settings, see TestMain).
		a, b []string
		// bImpostor has another process hold b's port and answer /healthz there.
		bImpostor    bool
		cancelAfter  time.Duration // 0: never
		wantUp       bool
		wantErr      []string // in the message, which names each service that failed
		wantCode     int
		wantInOutput []string
	}{
		{name: "stopped by a signal", cancelAfter: 300 * time.Millisecond, wantUp: true,
			wantInOutput: []string{"a        | helper serving", "b        | helper serving"}},
		{name: "one stops badly", a: []string{"DEVENV_HELPER_STOP=5"}, cancelAfter: 300 * time.Millisecond, wantUp: true,
			wantErr: []string{"a exited with status 5"}, wantCode: 1},
		{name: "one exits by itself", b: []string{"DEVENV_HELPER_AFTER=300ms", "DEVENV_HELPER_EXIT=3"}, wantUp: true,
			wantErr: []string{"b exited with status 3"}, wantCode: 3,
			wantInOutput: []string{"b        | helper exiting with 3"}},
		{name: "one did not start", bImpostor: true,
			wantErr: []string{"b did not start (exited with status 1). Its last line:\n  helper: listen: listen tcp :",
				"address already in use"}, wantCode: 1},
		{name: "one did not start, and another stopped badly", a: []string{"DEVENV_HELPER_STOP=5"}, bImpostor: true,
			wantErr: []string{"b did not start (exited with status 1). Its last line:\n  helper: listen: ",
				"\na exited with status 5"}, wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aPort, bPort := devenvtest.FreePort(t), devenvtest.FreePort(t)
			if tt.bImpostor {
				bPort = impostor(t)
			}
			service := func(name string, port int, env []string) devenv.Service {
				return devenv.Service{Name: name, Bin: os.Args[0], Port: port,
					Env: append([]string{"DEVENV_HELPER_PORT=" + strconv.Itoa(port)}, env...)}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out strings.Builder
			up := 0
			err := devenv.RunServices(ctx, devenv.NewConsole(&out),
				[]devenv.Service{service("a", aPort, tt.a), service("b", bPort, tt.b)},
				func() {
					up++
					if tt.cancelAfter > 0 {
						time.AfterFunc(tt.cancelAfter, cancel)
					}
				})

			assert.Equal(t, tt.wantUp, up == 1, "said it was up %d times", up)
			for _, s := range tt.wantInOutput {
				assert.Contains(t, out.String(), s)
			}
			if tt.wantErr == nil {
				assert.NoError(t, err)
				return
			}
			var exit *devenv.ExitError
			require.ErrorAs(t, err, &exit)
			for _, s := range tt.wantErr {
				assert.Contains(t, exit.Msg, s)
			}
			assert.Equal(t, tt.wantCode, exit.Code)
		})
	}
}
