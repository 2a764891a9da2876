package devenv

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/idempotency"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// Partitions is how many partitions each topic has, in the embedded stack and in the Docker one
// alike: changing it moves patients to other partitions, so both must agree.
const Partitions = 6

// Provision creates what the services expect to find and never create themselves: each topic,
// with Partitions partitions; the table, with PatientId as its hash key and TTL on ExpiresAt
// (store.CreateTable); and, unless keyTable is empty, the producer's table of Idempotency-Keys,
// with IdempotencyKey as its hash key and TTL on ExpiresAt (idempotency.CreateTable). What exists
// already is left as it is, so it can run again. The embedded stack and `devstack -provision`
// (the Docker stack's setup) both go through it, so that the two stacks have the same topics and
// the same tables.
//
// On an endpoint without TTL, such as dynalite, its error wraps store.ErrNoTTL once everything
// else is in place.
func Provision(ctx context.Context, cluster broker.Cluster, ddb *dynamodb.Client, table, keyTable string,
	topics ...string) error {
	if err := broker.CreateTopics(ctx, cluster, Partitions, topics...); err != nil {
		return err
	}
	noTTL := store.CreateTable(ctx, ddb, table)
	if noTTL != nil && !errors.Is(noTTL, store.ErrNoTTL) {
		return noTTL
	}
	if keyTable != "" {
		if err := idempotency.CreateTable(ctx, ddb, keyTable); err != nil && !errors.Is(err, store.ErrNoTTL) {
			return err
		}
	}
	return noTTL
}
