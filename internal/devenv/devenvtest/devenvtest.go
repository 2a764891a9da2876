// Package devenvtest starts the embedded stack, or a piece of it, for a test and stops it when the
// test ends. Integration tests use the real broker and the real store, never a mock of them.
package devenvtest

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

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

// Stack starts the whole stack on free ports, in memory unless an option says otherwise, and
// stops it when the test ends. dynalite's output goes to logs.
func Stack(t testing.TB, logs io.Writer, opts ...func(*devenv.Options)) *devenv.Stack {
	t.Helper()
	o := options(t)
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := devenv.StartStack(ctx, logs, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Dynalite spawns dynalite on a free port, in memory, and kills it when the test ends. Its
// output goes to the test log only with -v.
func Dynalite(t testing.TB) *devenv.Dynalite {
	t.Helper()
	o := options(t)
	logs := io.Discard
	if testing.Verbose() {
		logs = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := devenv.StartDynalite(ctx, 0, "", o.DynaliteBin, logs)
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
	client, err := store.NewClient(ctx, d.Endpoint(), "", 16)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateTable(ctx, client, table); err != nil && !errors.Is(err, store.ErrNoTTL) {
		t.Fatal(err)
	}
	return client
}

func options(t testing.TB) devenv.Options {
	t.Helper()
	SkipIfShort(t)
	o, err := devenv.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// FreePort is a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
