package consumer

import (
	"errors"
	"fmt"
	"time"

	"github.com/ankitamadan/patient-profile/internal/jsonobject"
	"github.com/ankitamadan/patient-profile/internal/message"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// Why a message was dead-lettered: the reason label of its count.
const (
	// ReasonContract: the value is not the event contract (not JSON, a field missing, of the
	// wrong type, misspelt by case or repeated).
	ReasonContract = "contract"
	// ReasonKeyMismatch: the message key is not the event's PatientId.
	ReasonKeyMismatch = "key_mismatch"
	// ReasonFuture: UpdatedAt is further ahead of the consumer's clock than MaxClockSkew.
	ReasonFuture = "future"
	// ReasonStoreRejected: the store refused the write for what it is.
	ReasonStoreRejected = "store_rejected"
)

// Reasons lists every dead-letter reason.
var Reasons = []string{ReasonContract, ReasonKeyMismatch, ReasonFuture, ReasonStoreRejected}

// invalidError is a message that can never be applied, with the reason it is counted under.
type invalidError struct {
	reason string
	err    error
}

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }

// decodeMessage decodes m's value and checks what the value alone cannot show: that m is keyed by
// the event's PatientId, and that the event is not from the future. Every error is permanent.
//
// A key other than the PatientId puts the event on another patient's partition, where its order
// with the patient's other events means nothing. An UpdatedAt far ahead of the clock (a producer
// with a broken clock, a typo in a hand-published fix) would outrank every real update of the
// patient until that time came, so the row would stop changing while the producer kept answering
// 201. maxSkew bounds how far ahead of now a producer's clock may honestly be.
func decodeMessage(m message.Message, now time.Time, maxSkew time.Duration) (profile.Event, error) {
	e, err := profile.Decode(m.Value)
	if err != nil {
		return profile.Event{}, &invalidError{ReasonContract, err}
	}
	if string(m.Key) != e.PatientID {
		return profile.Event{}, &invalidError{ReasonKeyMismatch, fmt.Errorf(
			"message key %s is not the event's PatientId %s: the contract keys every event by its PatientId",
			jsonobject.Quote(string(m.Key)), jsonobject.Quote(e.PatientID))}
	}
	if e.UpdatedAt.Sub(now) > maxSkew {
		return profile.Event{}, &invalidError{ReasonFuture, fmt.Errorf(
			"UpdatedAt %s is ahead of the consumer's clock (%s) by more than MAX_CLOCK_SKEW=%s: "+
				"applied, it would outrank every later update of patient %s",
			e.UpdatedAt.Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339), maxSkew,
			jsonobject.Quote(e.PatientID))}
	}
	return e, nil
}

// deadLetterReason is the reason a message dead-lettered with err is counted under.
func deadLetterReason(err error) string {
	var invalid *invalidError
	if errors.As(err, &invalid) {
		return invalid.reason
	}
	return ReasonStoreRejected
}
