package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/version"
)

type testConfig struct {
	Port int `envconfig:"TEST_SERVICE_PORT" default:"1" desc:"a port"`
}

func (testConfig) Observability() (slog.Level, config.Telemetry) {
	return slog.LevelError, config.Telemetry{}
}

func TestRun(t *testing.T) {
	cmd := Command{Name: "svc", About: "Does one thing."}
	load := func() (testConfig, error) { return testConfig{Port: 7}, nil }
	tests := []struct {
		name       string
		args       []string
		load       func() (testConfig, error)
		wantServed bool
		wantErr    string
		wantOut    string
	}{
		{name: "no arguments: it serves", args: []string{"svc"}, load: load, wantServed: true},
		{name: "-h prints the variables", args: []string{"svc", "-h"}, load: load,
			wantOut: "Usage: svc\n\nDoes one thing.\n\nVersion: " + version.String() + "\n\nIt takes no arguments."},
		{name: "--help too", args: []string{"svc", "--help"}, load: load, wantOut: "TEST_SERVICE_PORT"},
		{name: "an argument is refused", args: []string{"svc", "x"}, load: load,
			wantErr: `unexpected arguments ["x"]: the svc is configured with environment variables`},
		{name: "a bad configuration stops it", args: []string{"svc"},
			load:    func() (testConfig, error) { return testConfig{}, errors.New("config: TEST_SERVICE_PORT=0") },
			wantErr: "config: TEST_SERVICE_PORT=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			served := false
			err := Run(context.Background(), cmd, tt.args, &out, tt.load,
				func(_ context.Context, cfg testConfig, logger *slog.Logger) error {
					served = true
					assert.Equal(t, 7, cfg.Port)
					assert.NotNil(t, logger)
					return nil
				})
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.wantServed, served)
			assert.Contains(t, out.String(), tt.wantOut)
		})
	}
}

// A server that stops serving by itself says why, once, through Shutdown: the service that ran it
// must not report success.
func TestServerReportsWhyItStopped(t *testing.T) {
	ctx := context.Background()
	s, err := Listen(ctx, 0, http.NotFoundHandler(), time.Second)
	require.NoError(t, err)
	s.Serve()
	require.NoError(t, s.ln.Close()) // as if the listener failed under it

	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done was not closed after Serve failed")
	}
	err = s.Shutdown(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "serve: ")
}

func TestServerShutdownIsClean(t *testing.T) {
	ctx := context.Background()
	s, err := Listen(ctx, 0, http.NotFoundHandler(), time.Second)
	require.NoError(t, err)
	s.Serve()
	resp, err := http.Get("http://" + s.Addr())
	require.NoError(t, err)
	resp.Body.Close()
	assert.NoError(t, s.Shutdown(ctx))
	<-s.Done()
}
