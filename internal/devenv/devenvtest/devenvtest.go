// Package devenvtest starts the embedded stack's pieces for a test and stops them when it ends.
// Integration tests use the real broker and the real store, never a mock of them.
package devenvtest

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ankitamadan/patient-profile/internal/config"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// SkipIfShort skips an integration test under -short.
func SkipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: runs without -short")
	}
}

// Dynalite spawns dynalite on a free port, in memory, and kills it when the test ends. Its
// output goes to the test log only with -v.
func Dynalite(t testing.TB) *devenv.Dynalite {
	t.Helper()
	SkipIfShort(t)
	var logs io.Writer = io.Discard
	if testing.Verbose() {
		logs = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := devenv.StartDynalite(ctx, 0, "", logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	return d
}

// Table creates a table in d and returns a client for it.
func Table(t testing.TB, d *devenv.Dynalite, table string) *dynamodb.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := store.NewClient(ctx, config.Store{Host: d.Endpoint(), Table: table}, 16)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	return client
}
