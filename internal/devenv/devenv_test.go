package devenv_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// A consumer killed with SIGKILL in the middle of a request must not take the store down with
// it: dynalite 4.0.0 alone crashes on it ("Error: aborted"), devstack/dynalite.js keeps it up.
func TestDynaliteSurvivesAClientGoingAwayMidRequest(t *testing.T) {
	d := devenvtest.Dynalite(t)
	for range 3 {
		conn, err := net.Dial("tcp", d.Addr)
		require.NoError(t, err)
		// Promise a body, send part of it, then reset the connection.
		_, err = fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 1000\r\n\r\n{\"Lim", d.Addr)
		require.NoError(t, err)
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, conn.(*net.TCPConn).SetLinger(0))
		require.NoError(t, conn.Close())
	}
	time.Sleep(200 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := store.NewClient(ctx, d.Endpoint(), "", 1)
	require.NoError(t, err)
	if err := store.CreateTable(ctx, client, "still-serving"); !errors.Is(err, store.ErrNoTTL) {
		assert.NoError(t, err, "dynalite died")
	}
}
