// Package idempotency keeps the producer's Idempotency-Keys in a DynamoDB table that every
// replica shares, so that whatever happens to a POST or a DELETE and its retries with one key
// (a lost acknowledgement, a timeout, a crash, retries at once or on another replica), every
// event they publish carries the first request's EventId and stamp. A retry can then never be
// newer than the original, and the ordering rule makes a repeat a no-op.
//
// A key's record moves through a small state machine, each move one conditional write, so that
// it holds with any number of producers racing:
//
//	new (no record, or an expired one)  --Begin-->     in progress, held by the caller's lease
//	in progress                         --Complete-->  done, with the answer
//	in progress                         --Release-->   in progress, its lease lapsed at once
//	in progress, lease lapsed           --Begin-->     in progress, held by the retry (taken over)
//	in progress, lease live             --Begin-->     unchanged: the retry waits (409)
//	done                                --Begin-->     unchanged: the answer is replayed
//	another request's fingerprint       --Begin-->     unchanged: mismatched (422)
//
// The record is written before anything is published and keeps the first EventId and stamp from
// then on: a request that cannot record its key publishes nothing.
package idempotency

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ankitamadan/patient-profile/internal/store"
	"github.com/ankitamadan/patient-profile/internal/tracing"
)

// Item attributes. The names go through ExpressionAttributeNames: several are DynamoDB reserved
// words.
const (
	// AttrKey is the table's hash key: the caller's scope and the key it sent.
	AttrKey         = "IdempotencyKey"
	attrFingerprint = "Fingerprint"
	attrState       = "State"
	attrOwner       = "Owner"
	// attrLeaseUntil is in Unix milliseconds; 0 once released.
	attrLeaseUntil = "LeaseUntil"
	// AttrExpiresAt is the table's TTL attribute, in epoch seconds, as DynamoDB's TTL wants it.
	AttrExpiresAt = "ExpiresAt"
	attrEventID   = "EventId"
	// attrStamp is the event's UpdatedAt in Unix nanoseconds: exact, and compared by nobody.
	attrStamp  = "Stamp"
	attrStatus = "Status"
	attrBody   = "Body"
)

const (
	stateInProgress = "in_progress"
	stateDone       = "done"
)

// Outcome is what Begin found for a key, and so what the request does.
type Outcome int

// The outcomes. First, Expired and TakenOver hold the lease: the caller publishes the claim's event
// and then calls Complete, or Release if it could not.
const (
	// First: the key was never seen; the record now holds the caller's EventId and stamp.
	First Outcome = iota
	// Expired: the key was seen more than the TTL ago, and is new again.
	Expired
	// TakenOver: a request with this key and this fingerprint never finished (it failed, or its
	// producer died) and its lease lapsed; the caller publishes that request's event again.
	TakenOver
	// Done: a request with this key and fingerprint was answered; the claim has its answer.
	Done
	// InProgress: a request with this key and fingerprint holds the lease now.
	InProgress
	// Mismatched: the key was used for another request (another fingerprint).
	Mismatched
)

var outcomeNames = [...]string{First: "new", Expired: "expired", TakenOver: "taken_over", Done: "done",
	InProgress: "in_progress", Mismatched: "mismatched"}

func (o Outcome) String() string { return outcomeNames[o] }

// Claim is what Begin found, and for a caller that holds the lease, the hold.
type Claim struct {
	Outcome Outcome
	// EventID and Stamp are the first request's: what the caller publishes (First, Expired,
	// TakenOver), or what was published (Done, InProgress). Empty for Mismatched.
	EventID string
	Stamp   time.Time
	// Status and Body are the first request's answer, for Done.
	Status int
	Body   []byte

	key, owner string
}

// Holds reports whether the caller holds the lease: it publishes, then completes or releases.
func (c Claim) Holds() bool {
	return c.Outcome == First || c.Outcome == Expired || c.Outcome == TakenOver
}

// ErrLeaseLost means another request took the key over after this one's lease lapsed: it
// publishes the same event and records the answer itself.
var ErrLeaseLost = errors.New("the idempotency key was taken over")

// Store keeps the keys in one DynamoDB table.
type Store struct {
	client     *dynamodb.Client
	table      string
	ttl, lease time.Duration
	// now and newOwner are the clock and the lease holders' ids; tests replace them.
	now      func() time.Time
	newOwner func() string
}

// New returns a Store on table. A key is forgotten ttl after its first request; a request holds
// its key for lease at most before a retry may take it over.
func New(client *dynamodb.Client, table string, ttl, lease time.Duration) *Store {
	return &Store{client: client, table: table, ttl: ttl, lease: lease, now: time.Now, newOwner: randomOwner}
}

func randomOwner() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b[:])
}

// maxLooks bounds how often Begin looks again at a record that changed between its write and its
// read; past it, others are busy with the key and the caller is told it is in progress.
const maxLooks = 4

// Begin records that a request with key and fingerprint (its method, path, body and caller) is
// here, with the EventId and stamp it would publish, and says what to do (see Outcome). An error
// means the table could not be read or written: the caller must publish nothing.
func (s *Store) Begin(ctx context.Context, key, fingerprint, eventID string, stamp time.Time) (Claim, error) {
	for range maxLooks {
		now := s.now()
		c := Claim{key: key, owner: s.newOwner(), EventID: eventID, Stamp: stamp}
		replaced, err := s.claim(ctx, c, fingerprint, now)
		if err == nil {
			c.Outcome = First
			if replaced {
				c.Outcome = Expired
			}
			return c, nil
		}
		if !conditionFailed(err) {
			return Claim{}, err
		}
		rec, found, err := s.get(ctx, key)
		if err != nil {
			return Claim{}, err
		}
		if !found || rec.expired(now) {
			continue // gone since, or forgotten: claim it again
		}
		if rec.fingerprint != fingerprint {
			return Claim{Outcome: Mismatched}, nil
		}
		c.EventID, c.Stamp = rec.eventID, rec.stamp
		switch {
		case rec.state == stateDone:
			c.Outcome, c.Status, c.Body, c.owner = Done, rec.status, rec.body, ""
			return c, nil
		case rec.state != stateInProgress:
			return Claim{}, fmt.Errorf("idempotency key: unknown state %q", rec.state)
		case rec.leaseUntil > now.UnixMilli():
			c.Outcome, c.owner = InProgress, ""
			return c, nil
		}
		err = s.takeOver(ctx, c, rec.owner, now)
		if err == nil {
			c.Outcome = TakenOver
			return c, nil
		}
		if !conditionFailed(err) {
			return Claim{}, err
		}
	}
	return Claim{Outcome: InProgress}, nil
}

// Complete records the answer of a request that holds the lease: a retry then gets it as it is.
// ErrLeaseLost means another request took the key over meanwhile.
func (s *Store) Complete(ctx context.Context, c Claim, status int, body []byte) error {
	return s.update(ctx, "complete", c, "SET #state = :done, #status = :status, #body = :body",
		map[string]string{"#status": attrStatus, "#body": attrBody},
		map[string]types.AttributeValue{
			":done":   str(stateDone),
			":status": num(int64(status)),
			":body":   str(string(body)),
		})
}

// Release gives up the lease of a request that could not publish: a retry takes the key over at
// once, and publishes the same event. ErrLeaseLost means another request took it over already.
func (s *Store) Release(ctx context.Context, c Claim) error {
	return s.update(ctx, "release", c, "SET #lease = :zero", map[string]string{"#lease": attrLeaseUntil},
		map[string]types.AttributeValue{":zero": num(0)})
}

// update changes the record of a claim that still holds the lease: expr, with its names and
// values besides those of the condition.
func (s *Store) update(ctx context.Context, what string, c Claim, expr string, names map[string]string,
	values map[string]types.AttributeValue) (err error) {
	ctx, end := s.span(ctx, "UpdateItem")
	defer func() { end(err) }()
	names["#owner"], names["#state"] = attrOwner, attrState
	values[":me"], values[":inprogress"] = str(c.owner), str(stateInProgress)
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{AttrKey: str(c.key)},
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("#owner = :me AND #state = :inprogress"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	switch {
	case err == nil:
		return nil
	case conditionFailed(err):
		return ErrLeaseLost
	}
	return fmt.Errorf("%s idempotency key: %w", what, err)
}

// claim writes a new record if there is none, or only an expired one; replaced says which.
func (s *Store) claim(ctx context.Context, c Claim, fingerprint string, now time.Time) (replaced bool, err error) {
	ctx, end := s.span(ctx, "PutItem")
	defer func() { end(err) }()
	out, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			AttrKey:         str(c.key),
			attrFingerprint: str(fingerprint),
			attrState:       str(stateInProgress),
			attrOwner:       str(c.owner),
			attrLeaseUntil:  num(now.Add(s.lease).UnixMilli()),
			AttrExpiresAt:   num(now.Add(s.ttl).Unix()),
			attrEventID:     str(c.EventID),
			attrStamp:       num(c.Stamp.UnixNano()),
		},
		// DynamoDB deletes an expired item some time after it expires (up to days later), so the
		// condition treats one as absent itself.
		ConditionExpression:       aws.String("attribute_not_exists(#key) OR #expires <= :now"),
		ExpressionAttributeNames:  map[string]string{"#key": AttrKey, "#expires": AttrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())},
		ReturnValues:              types.ReturnValueAllOld,
	})
	if err != nil {
		if conditionFailed(err) {
			return false, err
		}
		return false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return len(out.Attributes) > 0, nil
}

// takeOver moves the lease of an in-progress record whose lease lapsed to c, if the record is
// still the one read (its holder owner) and has not expired since.
func (s *Store) takeOver(ctx context.Context, c Claim, owner string, now time.Time) (err error) {
	ctx, end := s.span(ctx, "UpdateItem")
	defer func() { end(err) }()
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              map[string]types.AttributeValue{AttrKey: str(c.key)},
		UpdateExpression: aws.String("SET #owner = :me, #lease = :lease"),
		ConditionExpression: aws.String("#owner = :old AND #state = :inprogress AND #lease <= :nowms " +
			"AND #expires > :now"),
		ExpressionAttributeNames: map[string]string{"#owner": attrOwner, "#lease": attrLeaseUntil,
			"#state": attrState, "#expires": AttrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":me": str(c.owner), ":lease": num(now.Add(s.lease).UnixMilli()),
			":old": str(owner), ":inprogress": str(stateInProgress),
			":nowms": num(now.UnixMilli()), ":now": num(now.Unix()),
		},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("take over idempotency key: %w", err)
	}
	return err
}

// record is a key's item, read back.
type record struct {
	fingerprint, state, owner, eventID string
	leaseUntil, expiresAt              int64
	stamp                              time.Time
	status                             int
	body                               []byte
}

func (r record) expired(now time.Time) bool { return r.expiresAt <= now.Unix() }

func (s *Store) get(ctx context.Context, key string) (rec record, found bool, err error) {
	ctx, end := s.span(ctx, "GetItem")
	defer func() { end(err) }()
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            map[string]types.AttributeValue{AttrKey: str(key)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return record{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if out.Item == nil {
		return record{}, false, nil
	}
	it := out.Item
	rec = record{fingerprint: getStr(it, attrFingerprint), state: getStr(it, attrState), owner: getStr(it, attrOwner),
		eventID: getStr(it, attrEventID), body: []byte(getStr(it, attrBody))}
	var stamp, status int64
	for _, n := range []struct {
		name string
		dst  *int64
	}{{attrLeaseUntil, &rec.leaseUntil}, {AttrExpiresAt, &rec.expiresAt}, {attrStamp, &stamp}, {attrStatus, &status}} {
		if *n.dst, err = getNum(it, n.name); err != nil {
			return record{}, false, fmt.Errorf("read idempotency key: %s: %w", n.name, err)
		}
	}
	rec.stamp, rec.status = time.Unix(0, stamp).UTC(), int(status)
	return rec, true, nil
}

// ErrWrongTable means the table exists but its key is not IdempotencyKey (S) alone.
var ErrWrongTable = errors.New("table key is not " + AttrKey + " (S) alone")

// Ping checks that the table can be reached and has the expected key, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("dynamodb table %s: not found", s.table)
	case err != nil:
		return fmt.Errorf("dynamodb table %s: %w", s.table, err)
	}
	keys := out.Table.KeySchema
	if len(keys) != 1 || aws.ToString(keys[0].AttributeName) != AttrKey || keys[0].KeyType != types.KeyTypeHash {
		return fmt.Errorf("dynamodb table %s: %w", s.table, ErrWrongTable)
	}
	return nil
}

// CreateTable creates the key table, IdempotencyKey its hash key, on demand, waits until it is
// active and turns on its TTL on ExpiresAt. An existing table is left as it is. On an endpoint
// without TTL (dynalite) the error wraps store.ErrNoTTL, and the table works: Begin treats an
// expired record as absent whether or not it is still there. The producer never calls it; the
// dev stack and the tests do.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	if err := store.CreateHashTable(ctx, client, table, AttrKey); err != nil {
		return err
	}
	return store.EnableTTL(ctx, client, table, AttrExpiresAt)
}

// span starts a client span for one call to the table; end records the call's error.
func (s *Store) span(ctx context.Context, method string) (context.Context, func(error)) {
	ctx, span := tracing.Tracer().Start(ctx, "DynamoDB."+method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system.name", "aws.dynamodb"),
			attribute.String("rpc.service", "DynamoDB"),
			attribute.String("rpc.method", method),
			attribute.StringSlice("aws.dynamodb.table_names", []string{s.table}),
		))
	return ctx, func(err error) {
		// A failed condition is an answer about the key, not a failure of the call.
		if err != nil && !conditionFailed(err) {
			span.RecordError(err)
			span.SetStatus(codes.Error, method+" failed")
		}
		span.End()
	}
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func getStr(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// getNum reads a number attribute; an absent one is 0.
func getNum(it map[string]types.AttributeValue, name string) (int64, error) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v.Value, 10, 64)
}
