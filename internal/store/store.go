// Package store keeps the replica of patient profiles in DynamoDB, and enforces the ordering
// rule with a conditional write so that no stale, duplicate or out-of-order event overwrites a
// newer profile, however many writers race.
package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/tracing"
)

// ErrRejected marks a write the store refuses for what it is (a validation error, an item too
// large), not for how the store is doing: retrying it can never succeed.
var ErrRejected = errors.New("rejected by the store")

// IsRejected reports whether err is permanent: a write the store refuses for what it is. Every
// other error is transient (throttling, 5xx, timeouts, a missing table or permission that a
// person can fix), so a caller that retries catches up by itself once the cause is gone.
func IsRejected(err error) bool { return errors.Is(err, ErrRejected) }

// Item attributes. OrderKey is what the condition compares; UpdatedAt is for people.
const (
	attrPatientID  = "PatientId"
	attrFirstName  = "FirstName"
	attrLastName   = "LastName"
	attrIsPregnant = "IsPregnant"
	attrSex        = "Sex"
	attrUpdatedAt  = "UpdatedAt"
	attrEventID    = "EventId"
	attrOrderKey   = "OrderKey"
	// A tombstone has PatientId, OrderKey, EventId and these, and nothing else.
	attrDeleted   = "Deleted"
	attrDeletedAt = "DeletedAt"
	// AttrExpiresAt is the table's TTL attribute: epoch seconds after which DynamoDB may delete a
	// tombstone.
	AttrExpiresAt = "ExpiresAt"
)

// putCondition is the ordering rule. OrderKey is profile.Event.OrderKey: a fixed-width UTC
// timestamp with nine fraction digits, then "#", then the EventId. DynamoDB compares strings by
// their UTF-8 bytes, so "<" on it is exactly (UpdatedAt as an instant, EventId) order, which a
// string in RFC3339Nano or a number of seconds would not be. Because the comparison happens
// inside the write, it holds with any number of consumers and any redelivery: there is no window
// between a read and a write for another writer to slip into.
const putCondition = "attribute_not_exists(" + attrOrderKey + ") OR " + attrOrderKey + " < :key"

// Table reads and writes the patient profiles in one DynamoDB table.
type Table struct {
	client       *dynamodb.Client
	table        string
	tombstoneTTL time.Duration
}

// New returns a Table. A tombstone it writes expires (through the table's TTL on ExpiresAt)
// tombstoneTTL after the deletion's stamp; zero means never.
func New(client *dynamodb.Client, table string, tombstoneTTL time.Duration) *Table {
	return &Table{client: client, table: table, tombstoneTTL: tombstoneTTL}
}

// NewClient builds a DynamoDB client. With endpoint set it talks to that URL (dynalite,
// LocalStack) with static dummy credentials, so it never probes for real ones, and in us-east-1
// unless region says otherwise; with endpoint empty it uses the AWS default credential chain and
// region (region, if set, overrides the latter), for real DynamoDB. conns is how many calls the
// caller keeps in flight at once.
//
// The SDK's own retries are off: the consumer retries in place with its own backoff, and one
// policy is easier to reason about than two stacked ones.
func NewClient(ctx context.Context, endpoint, region string, conns int) (*dynamodb.Client, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
		awsconfig.WithHTTPClient(newHTTPClient(conns)),
	}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if endpoint != "" {
		if region == "" {
			opts = append(opts, awsconfig.WithRegion("us-east-1"))
		}
		static := credentials.NewStaticCredentialsProvider("local", "local", "")
		opts = append(opts, awsconfig.WithCredentialsProvider(static))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// newHTTPClient keeps a kept-alive connection for each call in flight. The SDK's default keeps
// 10 idle connections per host, so with more calls than that in flight every call beyond the
// tenth opens a connection and closes it afterwards: a TCP (and on AWS a TLS) handshake per
// write. Each call is bounded by its context (DDB_TIMEOUT); the dial and the TLS handshake get
// bounds of their own so that a black-holed endpoint fails fast and is retried.
func newHTTPClient(conns int) *awshttp.BuildableClient {
	conns = max(conns, awshttp.DefaultHTTPTransportMaxIdleConnsPerHost)
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = 3 * time.Second
			d.KeepAlive = 30 * time.Second
		}).
		WithTransportOptions(func(tr *http.Transport) {
			tr.MaxIdleConns = conns
			tr.MaxIdleConnsPerHost = conns
			tr.IdleConnTimeout = 90 * time.Second
			tr.TLSHandshakeTimeout = 3 * time.Second
			tr.DisableKeepAlives = false
		})
}

// Put writes e if it is newer than the stored profile under the ordering rule. It reports
// whether it wrote: false with a nil error means the stored profile is as new or newer (a
// duplicate, or an event that was superseded), which is a final outcome, not a failure.
//
// A deletion is written the same way, as a tombstone: the same condition, so a deletion older
// than the stored profile is dropped, and an update older than the tombstone can never bring the
// profile back, while a newer one (the patient registers again) replaces it.
func (t *Table) Put(ctx context.Context, e profile.Event) (applied bool, err error) {
	ctx, span := tracing.Tracer().Start(ctx, "DynamoDB.PutItem", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system.name", "aws.dynamodb"),
			attribute.String("rpc.service", "DynamoDB"),
			attribute.String("rpc.method", "PutItem"),
			attribute.StringSlice("aws.dynamodb.table_names", []string{t.table}),
		))
	defer func() {
		// A failed condition is an outcome (stale or duplicate), not an error of the call.
		span.SetAttributes(attribute.Bool("applied", applied))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "put failed")
		}
		span.End()
	}()
	key := e.OrderKey()
	_, err = t.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(t.table),
		Item:                      t.item(e),
		ConditionExpression:       aws.String(putCondition),
		ExpressionAttributeValues: map[string]types.AttributeValue{":key": &types.AttributeValueMemberS{Value: key}},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ccf):
		return false, nil
	case refusedForWhatItIs(err):
		return false, fmt.Errorf("put profile %s: %w: %w", e.PatientID, ErrRejected, err)
	default:
		return false, fmt.Errorf("put profile %s: %w", e.PatientID, err)
	}
}

// refusedForWhatItIs tells a request DynamoDB will refuse every time from one that may pass later.
// Anything not listed is treated as transient: a partition blocked until the store recovers (or
// someone fixes a missing table or a permission) catches up by itself, while an event
// dead-lettered by mistake needs a person to replay it.
func refusedForWhatItIs(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "ValidationException", "ItemCollectionSizeLimitExceededException", "SerializationException":
		return true
	}
	return false
}

func (t *Table) item(e profile.Event) map[string]types.AttributeValue {
	if e.Deleted {
		it := map[string]types.AttributeValue{
			attrPatientID: &types.AttributeValueMemberS{Value: e.PatientID},
			attrOrderKey:  &types.AttributeValueMemberS{Value: e.OrderKey()},
			attrDeleted:   &types.AttributeValueMemberBOOL{Value: true},
			attrDeletedAt: &types.AttributeValueMemberS{Value: e.UpdatedAt.UTC().Format(time.RFC3339Nano)},
		}
		if e.EventID != "" {
			it[attrEventID] = &types.AttributeValueMemberS{Value: e.EventID}
		}
		if t.tombstoneTTL > 0 {
			expires := e.UpdatedAt.Add(t.tombstoneTTL).Unix()
			it[AttrExpiresAt] = &types.AttributeValueMemberN{Value: strconv.FormatInt(expires, 10)}
		}
		return it
	}
	it := map[string]types.AttributeValue{
		attrPatientID:  &types.AttributeValueMemberS{Value: e.PatientID},
		attrIsPregnant: &types.AttributeValueMemberBOOL{Value: e.IsPregnant},
		attrUpdatedAt:  &types.AttributeValueMemberS{Value: e.UpdatedAt.UTC().Format(time.RFC3339Nano)},
		attrOrderKey:   &types.AttributeValueMemberS{Value: e.OrderKey()},
	}
	// Empty strings are left out rather than stored: PutItem replaces the whole item, so an
	// emptied field is still cleared, and older DynamoDB emulators refuse empty strings.
	for name, v := range map[string]string{
		attrFirstName: e.FirstName,
		attrLastName:  e.LastName,
		attrSex:       e.Sex,
		attrEventID:   e.EventID,
	} {
		if v != "" {
			it[name] = &types.AttributeValueMemberS{Value: v}
		}
	}
	return it
}

// Get returns the stored profile of a patient, and false if there is none. An erased patient's
// tombstone is returned as a deletion (Deleted set, no profile fields).
func (t *Table) Get(ctx context.Context, patientID string) (profile.Event, bool, error) {
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(t.table),
		Key:            map[string]types.AttributeValue{attrPatientID: &types.AttributeValueMemberS{Value: patientID}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return profile.Event{}, false, fmt.Errorf("get profile %s: %w", patientID, err)
	}
	if out.Item == nil {
		return profile.Event{}, false, nil
	}
	e, err := fromItem(out.Item)
	if err != nil {
		return profile.Event{}, false, fmt.Errorf("get profile %s: %w", patientID, err)
	}
	return e, true, nil
}

// Scan calls fn for every stored profile and tombstone, page by page, with consistent reads.
func (t *Table) Scan(ctx context.Context, fn func(profile.Event)) error {
	p := dynamodb.NewScanPaginator(t.client,
		&dynamodb.ScanInput{TableName: aws.String(t.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan %s: %w", t.table, err)
		}
		for _, it := range page.Items {
			e, err := fromItem(it)
			if err != nil {
				return fmt.Errorf("scan %s: %w", t.table, err)
			}
			fn(e)
		}
	}
	return nil
}

// Page returns up to limit rows (profiles and tombstones) in the table's own order, starting
// after the row of PatientId after (from the start when empty), and the PatientId to pass as
// after for the next page, empty after the last one. It is one Scan call with Limit and
// ExclusiveStartKey: a page costs the same however large the table is.
func (t *Table) Page(ctx context.Context, limit int, after string) (rows []profile.Event, next string, err error) {
	n := int32(min(max(limit, 1), 1000))
	in := &dynamodb.ScanInput{TableName: aws.String(t.table), Limit: aws.Int32(n), ConsistentRead: aws.Bool(true)}
	if after != "" {
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			attrPatientID: &types.AttributeValueMemberS{Value: after},
		}
	}
	out, err := t.client.Scan(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("scan %s: %w", t.table, err)
	}
	for _, it := range out.Items {
		e, err := fromItem(it)
		if err != nil {
			return nil, "", fmt.Errorf("scan %s: %w", t.table, err)
		}
		rows = append(rows, e)
	}
	if v, ok := out.LastEvaluatedKey[attrPatientID].(*types.AttributeValueMemberS); ok {
		next = v.Value
	}
	return rows, next, nil
}

func fromItem(it map[string]types.AttributeValue) (profile.Event, error) {
	str := func(name string) string {
		if v, ok := it[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	if v, ok := it[attrDeleted].(*types.AttributeValueMemberBOOL); ok && v.Value {
		t, err := profile.ParseTime(str(attrDeletedAt))
		if err != nil {
			return profile.Event{}, fmt.Errorf("item %s: %s: %w", str(attrPatientID), attrDeletedAt, err)
		}
		return profile.Event{PatientID: str(attrPatientID), EventID: str(attrEventID), UpdatedAt: t, Deleted: true}, nil
	}
	e := profile.Event{
		PatientID: str(attrPatientID),
		FirstName: str(attrFirstName),
		LastName:  str(attrLastName),
		Sex:       str(attrSex),
		EventID:   str(attrEventID),
	}
	if v, ok := it[attrIsPregnant].(*types.AttributeValueMemberBOOL); ok {
		e.IsPregnant = v.Value
	}
	t, err := profile.ParseTime(str(attrUpdatedAt))
	if err != nil {
		return profile.Event{}, fmt.Errorf("item %s: %s: %w", e.PatientID, attrUpdatedAt, err)
	}
	e.UpdatedAt = t
	return e, nil
}

// ErrWrongTable means the table exists but its key is not PatientId (S) alone. Writing to it
// would fail validation for every event, and every event would be dead-lettered.
var ErrWrongTable = errors.New("table key is not PatientId (S) alone")

// Ping checks that the table can be reached and has the expected key, for readiness and at
// startup.
func (t *Table) Ping(ctx context.Context) error {
	out, err := t.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.table)})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("dynamodb table %s: not found", t.table)
	case err != nil:
		return fmt.Errorf("dynamodb table %s: %w", t.table, err)
	}
	keys := out.Table.KeySchema
	if len(keys) != 1 || aws.ToString(keys[0].AttributeName) != attrPatientID || keys[0].KeyType != types.KeyTypeHash {
		return fmt.Errorf("table %s: %w", t.table, ErrWrongTable)
	}
	for _, a := range out.Table.AttributeDefinitions {
		if aws.ToString(a.AttributeName) == attrPatientID && a.AttributeType != types.ScalarAttributeTypeS {
			return fmt.Errorf("table %s: %w", t.table, ErrWrongTable)
		}
	}
	return nil
}

// CreateTable creates the table with PatientId as its hash key, on demand, and waits until it
// is active. An existing table is left as it is. The services never call it: on real AWS the
// table belongs to your infrastructure code. The dev stack and the tests do.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	if err := CreateHashTable(ctx, client, table, attrPatientID); err != nil {
		return err
	}
	return EnableTTL(ctx, client, table, AttrExpiresAt)
}

// CreateHashTable creates an on-demand table whose hash key is the string attribute key, and
// waits until it is active. An existing table is left as it is.
func CreateHashTable(ctx context.Context, client *dynamodb.Client, table, key string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(key), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema:   []types.KeySchemaElement{{AttributeName: aws.String(key), KeyType: types.KeyTypeHash}},
		BillingMode: types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(client,
		func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", table, err)
	}
	return nil
}

// ErrNoTTL means the endpoint does not implement TTL (dynalite does not): the table works, but
// its items are never deleted by the store. Readers treat an expired item as gone either way.
var ErrNoTTL = errors.New("the endpoint does not implement TimeToLive; items will not expire")

// EnableTTL turns on the table's TTL on the attribute attr (epoch seconds), so that the store deletes
// what has expired: tombstones once no older event can arrive any more, Idempotency-Keys once
// they are forgotten. Turning it on twice is not an error.
func EnableTTL(ctx context.Context, client *dynamodb.Client, table, attr string) error {
	_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attr), Enabled: aws.Bool(true),
		},
	})
	var apiErr smithy.APIError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "UnknownOperationException":
		return fmt.Errorf("table %s: %w", table, ErrNoTTL)
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException" &&
		strings.Contains(apiErr.ErrorMessage(), "already enabled"):
		return nil
	}
	return fmt.Errorf("enable ttl on %s: %w", table, err)
}
