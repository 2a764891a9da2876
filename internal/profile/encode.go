package profile

import (
	"strconv"
	"time"

	"github.com/ankitamadan/patient-profile/internal/jsonobject"
)

// AppendJSON appends e in its contract form (MarshalJSON's bytes) to b. It uses no reflection:
// the producer encodes an event per request, and encoding/json would reflect over the struct,
// then compact the result of MarshalJSON a second time.
func (e Event) AppendJSON(b []byte) []byte {
	if e.Deleted {
		// The deletion form: see wireDeletion.
		b = append(b, `{"EventId":`...)
		b = jsonobject.AppendString(b, e.EventID)
		b = append(b, `,"PatientId":`...)
		b = jsonobject.AppendString(b, e.PatientID)
		b = append(b, `,"DeletedAt":"`...)
		b = e.UpdatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, `"}`...)
	}
	b = append(b, `{"EventId":`...)
	b = jsonobject.AppendString(b, e.EventID)
	b = append(b, `,"PatientId":`...)
	b = jsonobject.AppendString(b, e.PatientID)
	b = append(b, `,"FirstName":`...)
	b = jsonobject.AppendString(b, e.FirstName)
	b = append(b, `,"LastName":`...)
	b = jsonobject.AppendString(b, e.LastName)
	b = append(b, `,"IsPregnant":`...)
	b = strconv.AppendBool(b, e.IsPregnant)
	b = append(b, `,"Sex":`...)
	b = jsonobject.AppendString(b, e.Sex)
	// RFC 3339 has nothing to escape.
	b = append(b, `,"UpdatedAt":"`...)
	b = e.UpdatedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}
