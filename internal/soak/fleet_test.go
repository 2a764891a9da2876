package soak

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/devenv"
)

// fakeConsumer writes a script that stands in for the consumer: it runs until SIGTERM and then
// exits 0, as the consumer does, unless its environment says STUBBORN=1.
func fakeConsumer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "consumer")
	script := "#!/bin/sh\n" +
		"if [ \"$STUBBORN\" = 1 ]; then trap '' TERM; else trap 'exit 0' TERM; fi\n" +
		"while :; do sleep 0.05; done\n"
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	return bin
}

func TestFleet(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh")
	}
	env := func(port int, extra ...string) []string {
		return append([]string{"SERVER_PORT=" + strconv.Itoa(port)}, extra...)
	}
	f := &fleet{bin: fakeConsumer(t), env: env, logs: io.Discard}
	t.Cleanup(f.killAll)

	require.NoError(t, f.growTo(3))
	procs := f.alive()
	require.Len(t, procs, 3)

	t.Run("take removes the i-th oldest, still running", func(t *testing.T) {
		victim := f.take(1)
		assert.Same(t, procs[1], victim)
		assert.False(t, victim.Exited())
		assert.Equal(t, []*devenv.Process{procs[0], procs[2]}, f.alive())
		victim.Kill()
		assert.True(t, victim.Exited())
	})

	t.Run("growTo starts only what is missing", func(t *testing.T) {
		require.NoError(t, f.growTo(3))
		assert.Equal(t, 3, f.size())
		require.NoError(t, f.growTo(2))
		assert.Equal(t, 3, f.size())
	})

	t.Run("stop reports and kills those that ignore SIGTERM", func(t *testing.T) {
		stubborn, err := f.start("STUBBORN=1")
		require.NoError(t, err)
		// Give the shell time to set its trap, or SIGTERM kills it before it can ignore it.
		time.Sleep(300 * time.Millisecond)
		errs := f.stop(time.Second)
		assert.Len(t, errs, 1, "only the stubborn one")
		assert.True(t, stubborn.Exited())
		assert.Zero(t, f.size())
	})

	t.Run("exited names a consumer that gave up by itself, not one a phase took", func(t *testing.T) {
		require.NoError(t, f.growTo(2))
		assert.NoError(t, f.exited())
		f.take(0).Kill()
		assert.NoError(t, f.exited(), "killed by a phase, after it left the fleet")
		quitter := f.alive()[0]
		require.NoError(t, quitter.Signal(syscall.SIGTERM))
		<-quitter.Done()
		err := f.exited()
		require.Error(t, err)
		assert.Contains(t, err.Error(), strconv.Itoa(quitter.Pid()))
		f.killAll()
	})

	t.Run("dump empties the fleet and ends every consumer", func(t *testing.T) {
		require.NoError(t, f.growTo(2))
		procs := f.alive()
		f.dump()
		assert.Zero(t, f.size())
		for _, p := range procs {
			assert.True(t, p.Exited())
		}
	})

	t.Run("killAll empties the fleet", func(t *testing.T) {
		require.NoError(t, f.growTo(2))
		procs := f.alive()
		f.killAll()
		assert.Zero(t, f.size())
		for _, p := range procs {
			assert.True(t, p.Exited())
		}
	})
}
