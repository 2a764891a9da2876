package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/deadletter"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
	"github.com/ankitamadan/patient-profile/internal/store"
)

// Result is what a run found.
type Result struct {
	Patients, Converged, Lost, Stale, Wrong int
	Events, Duplicates                      int
	// Deletions counts the deletion events among Events (duplicates included), Erased the
	// patients whose newest event is a deletion, so that their row must be a tombstone, and
	// KafkaTombstones the null values published after the deletions.
	Deletions, Erased, KafkaTombstones int
	// LeakyTombstones counts tombstone items that hold any attribute besides the key, the
	// ordering key and the deletion's own (profile data an erasure must not keep).
	LeakyTombstones                int
	PoisonSent, PoisonDeadLettered int
	UnexpectedDeadLetters          int
	Kills, ConcurrentKills         int
	// CrashLoops counts the rounds of the third phase.
	CrashLoops int
	// KillsInFlight counts the kills that found uncommitted work: messages published but not
	// committed, while the victim was committing progress.
	KillsInFlight int
	// Faults reports each network fault of phase 4, and Producer how the producer answered its
	// load meanwhile.
	Faults   []FaultReport
	Producer ProducerResult
	Elapsed  time.Duration
	// Problems describes the first differences found.
	Problems []string
}

// OK reports exact convergence: every patient at its newest event, every poison message
// dead-lettered, and nothing else dead-lettered.
func (r Result) OK() bool {
	return r.Converged == r.Patients && r.Lost == 0 && r.Stale == 0 && r.Wrong == 0 &&
		r.LeakyTombstones == 0 && r.PoisonDeadLettered == r.PoisonSent && r.UnexpectedDeadLetters == 0 &&
		r.Producer.OK()
}

func (r Result) String() string {
	verdict := "converged"
	if !r.OK() {
		verdict = "DIVERGED"
	}
	faults := ""
	if len(r.Faults) > 0 {
		faults = fmt.Sprintf(", %d network faults (the producer: %s)", len(r.Faults), r.Producer)
	}
	return fmt.Sprintf("%s %d/%d patients (%d left erased), %d lost, %d stale, %d wrong, %d leaky tombstones, "+
		"%d/%d poison dead-lettered (%d unexpected), "+
		"%d kills (%d of a lone consumer, %d of concurrent ones; %d mid-stream), %d crash loops%s, "+
		"%d events (%d duplicates, %d deletions) and %d Kafka tombstones in %s",
		verdict, r.Converged, r.Patients, r.Erased, r.Lost, r.Stale, r.Wrong, r.LeakyTombstones,
		r.PoisonDeadLettered, r.PoisonSent, r.UnexpectedDeadLetters,
		r.Kills+r.ConcurrentKills, r.Kills, r.ConcurrentKills, r.KillsInFlight, r.CrashLoops, faults,
		r.Events, r.Duplicates, r.Deletions, r.KafkaTombstones, r.Elapsed.Round(100*time.Millisecond))
}

// maxProblems is how many differences a Result describes: the first few say what went wrong,
// thousands would bury them.
const maxProblems = 10

func (r *Result) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// check compares the table with the newest event per patient, every tombstone item with what an
// erasure may keep, and the dead-letter topic with the poison sent. With acks (the producer's
// load in the network faults) it also holds the producer's patients to their newest event on the
// topic, and every acknowledged event to being there.
func (st *stream) check(ctx context.Context, s *devenv.Stack, acks []acked, res *Result) error {
	if len(acks) > 0 {
		if err := st.checkProducer(ctx, s, acks, res); err != nil {
			return err
		}
	}
	rows := map[string]profile.Event{}
	if err := s.Store.Scan(ctx, func(e profile.Event) { rows[e.PatientID] = e }); err != nil {
		return err
	}
	st.checkRows(rows, res)
	if err := checkTombstoneItems(ctx, s, res); err != nil {
		return err
	}
	dead, err := broker.ReadAll(ctx, s.Cluster(), s.DLQTopic)
	if err != nil {
		return err
	}
	st.checkDeadLetters(dead, s.Topic, res)
	return nil
}

// checkRows counts each patient's row (by PatientId) as converged, lost, stale or wrong, and
// any row of a patient never sent as wrong.
func (st *stream) checkRows(rows map[string]profile.Event, res *Result) {
	for patient, want := range st.newest {
		if want.Deleted {
			res.Erased++
		}
		got, ok := rows[patient]
		switch {
		case !ok:
			res.Lost++
			res.problem("%s: no row", patient)
		case profile.Compare(got, want) < 0:
			res.Stale++
			res.problem("%s: row at %s/%q, newest is %s/%q", patient, got.UpdatedAt.Format(time.RFC3339Nano),
				got.EventID, want.UpdatedAt.Format(time.RFC3339Nano), want.EventID)
		case got != want:
			res.Wrong++
			res.problem("%s: row %+v, want %+v", patient, got, want)
		default:
			res.Converged++
		}
	}
	for patient := range rows {
		if _, ok := st.newest[patient]; !ok {
			res.Wrong++
			res.problem("%s: a row for a patient never sent (poison applied?)", patient)
		}
	}
}

// tombstoneAttrs are all an erased patient's item may hold. The store reads a tombstone back
// without its other attributes, so only the raw items show whether profile data stayed behind.
var tombstoneAttrs = map[string]bool{
	"PatientId": true, "OrderKey": true, "EventId": true, "Deleted": true, "DeletedAt": true,
	store.AttrExpiresAt: true,
}

// checkTombstoneItems reads the table's raw items and counts every tombstone that holds anything
// else. It names the attributes, never their values.
func checkTombstoneItems(ctx context.Context, s *devenv.Stack, res *Result) error {
	client, err := store.NewClient(ctx, s.Dynalite.Endpoint(), "", 1)
	if err != nil {
		return err
	}
	pages := dynamodb.NewScanPaginator(client,
		&dynamodb.ScanInput{TableName: aws.String(s.Table), ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan %s: %w", s.Table, err)
		}
		for _, it := range page.Items {
			if extra := tombstoneExtras(it); len(extra) > 0 {
				res.LeakyTombstones++
				patient := ""
				if id, ok := it["PatientId"].(*types.AttributeValueMemberS); ok {
					patient = id.Value
				}
				res.problem("%s: the tombstone item also holds %v", patient, extra)
			}
		}
	}
	return nil
}

// tombstoneExtras names, sorted, the attributes of a tombstone item that an erasure must not
// keep; nil for an item that is not a tombstone.
func tombstoneExtras(item map[string]types.AttributeValue) []string {
	if d, ok := item["Deleted"].(*types.AttributeValueMemberBOOL); !ok || !d.Value {
		return nil
	}
	var extra []string
	for name := range item {
		if !tombstoneAttrs[name] {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	return extra
}

// checkDeadLetters counts the poison found among the dead letters, and every dead letter that is
// not poison, or is poison parked without what a dead letter must say, as unexpected.
func (st *stream) checkDeadLetters(dead []message.Message, topic string, res *Result) {
	seen := map[string]bool{}
	for _, m := range dead {
		if m.Value == nil {
			res.UnexpectedDeadLetters++
			res.problem("a Kafka tombstone (key %q) was dead-lettered", m.Key)
			continue
		}
		key, isPoison := st.poison[string(m.Value)]
		if !isPoison {
			res.UnexpectedDeadLetters++
			res.problem("dead letter that is not poison: %.80q", m.Value)
			continue
		}
		if err := checkDeadLetter(m, key, topic); err != nil {
			res.problem("dead letter %.40q: %v", m.Value, err)
			res.UnexpectedDeadLetters++
		}
		seen[string(m.Value)] = true
	}
	res.PoisonDeadLettered = len(seen)
	for v := range st.poison {
		if !seen[v] {
			res.problem("poison never dead-lettered: %.80q", v)
		}
	}
}

// checkDeadLetter checks that m parks a message sent with key to topic: the key kept, a reason,
// and the source coordinates that a replay needs.
func checkDeadLetter(m message.Message, key []byte, topic string) error {
	d, err := deadletter.Parse(m)
	if err != nil {
		return err
	}
	var errs []error
	if !bytes.Equal(d.Key, key) {
		errs = append(errs, fmt.Errorf("key %q, sent %q", d.Key, key))
	}
	if d.Error == "" {
		errs = append(errs, errors.New("no error header"))
	}
	if d.Source.Topic != topic {
		errs = append(errs, fmt.Errorf("source topic %q", d.Source.Topic))
	}
	return errors.Join(errs...)
}

// checkProducer adds the producer's patients to what the rows must show, at their newest event
// on the topic, and counts each acknowledged event missing from the topic as lost.
func (st *stream) checkProducer(ctx context.Context, s *devenv.Stack, acks []acked, res *Result) error {
	msgs, err := broker.ReadAll(ctx, s.Cluster(), s.Topic)
	if err != nil {
		return err
	}
	values := make([][]byte, 0, len(msgs))
	for _, m := range msgs {
		values = append(values, m.Value)
	}
	newest, onTopic, err := newestOnTopic(values)
	if err != nil {
		return err
	}
	for _, a := range acks {
		if !onTopic[a.eventID] {
			res.Producer.Lost++
			res.problem("%s: event %s was acknowledged (201) and is not on the topic", a.patient, a.eventID)
		}
	}
	for patient, e := range newest {
		st.newest[patient] = e
	}
	res.Patients += len(newest)
	return nil
}
