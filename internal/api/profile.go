package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/ankitamadan/patient-profile/internal/jsonobject"
	"github.com/ankitamadan/patient-profile/internal/ops"
	"github.com/ankitamadan/patient-profile/internal/problem"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

const (
	maxBodyBytes = 64 << 10
	// maxNameRunes bounds FirstName and LastName. Real names fit with room to spare; the bound
	// keeps a row, an event and a log-free debugging session small.
	maxNameRunes = 100
)

// sexCodes is FHIR's AdministrativeGender value set. A request may write them in any case; the
// event carries the lower-case code.
var sexCodes = []string{"male", "female", "other", "unknown"}

// requestFields are the fields a request may have; serverFields are in the event but stamped by
// the server, so a client that sends them is told so rather than silently ignored.
var (
	requestFields = []string{"PatientId", "FirstName", "LastName", "IsPregnant", "Sex"}
	serverFields  = []string{"EventId", "UpdatedAt"}
)

// profileRequest is a valid POST /patientprofile body.
type profileRequest struct {
	PatientID  string
	FirstName  string
	LastName   string
	IsPregnant bool
	Sex        string
}

// publishing is what the write routes share: one stamp, a bound on the publishes waiting for
// the broker, and the Idempotency-Keys. When the bound is reached a request is answered 503 at
// once, so a slow broker cannot pile up an unbounded queue of waiting requests (and goroutines,
// and memory).
type publishing struct {
	logger   *slog.Logger
	pub      publisher
	stamper  *stamper
	timeout  time.Duration
	inFlight chan struct{}
	keys     *keys // nil when keys are off
}

// written is what a write route answers once its event is published: the status, and the name
// of the stamp in the body (UpdatedAt for an update, DeletedAt for a deletion).
type written struct {
	status int
	stamp  string
}

var (
	updated = written{status: http.StatusCreated, stamp: "UpdatedAt"}
	deleted = written{status: http.StatusAccepted, stamp: "DeletedAt"}
)

// publish stamps e, publishes it and answers, the error included. With an Idempotency-Key (key
// not empty) the stamp and the answer are the key's (publishOnce).
func (p *publishing) publish(w http.ResponseWriter, r *http.Request, e *profile.Event, ans written,
	key, fingerprint string) {
	select {
	case p.inFlight <- struct{}{}:
		defer func() { <-p.inFlight }()
	default:
		problem.Write(w, r, problem.Errorf(problem.Overloaded,
			"%d requests are already waiting for the broker; retry later", cap(p.inFlight)))
		return
	}
	if key != "" {
		p.keys.publishOnce(w, r, p, e, ans, key, fingerprint)
		return
	}
	e.UpdatedAt, e.EventID = p.stamper.stamp()
	if p.send(w, r, *e, "so retry: a retry without an Idempotency-Key is a new, newer event "+
		"(send one, and a retry publishes this same event instead)") {
		writeStamp(w, ans.status, *e, ans.stamp)
	}
}

// send publishes e, stamped, and reports whether the broker acknowledged it. If it did not, it
// answers 503, its detail ending with retry, the advice on retrying.
func (p *publishing) send(w http.ResponseWriter, r *http.Request, e profile.Event, retry string) bool {
	// The request's own context would let a client that hangs up abandon a publish half-way;
	// the timeout alone decides, so the answer (had it been read) is always true.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), p.timeout)
	defer cancel()
	if err := p.pub.Publish(ctx, e); err != nil {
		p.logger.LogAttrs(r.Context(), slog.LevelError, "publish failed",
			slog.String("request_id", ops.RequestID(r.Context())), slog.String("event_id", e.EventID),
			slog.String("patient_id", e.PatientID), slog.Bool("deletion", e.Deleted), slog.String("error", err.Error()))
		problem.Write(w, r, problem.Errorf(problem.BrokerUnavailable, "the broker did not acknowledge the event "+
			"within %s; it may or may not have been written, %s", p.timeout, retry))
		return false
	}
	return true
}

// handlePostProfile publishes a valid request as an update event.
func handlePostProfile(p *publishing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := p.keys.of(r)
		if err != nil {
			problem.Write(w, r, err)
			return
		}
		if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
			problem.Write(w, r, err)
			return
		}
		buf := bodyBuffers.Get().(*[]byte)
		defer bodyBuffers.Put(buf)
		body, err := readBody((*buf)[:0], http.MaxBytesReader(w, r.Body, maxBodyBytes))
		*buf = body[:0] // keeps the capacity a large body needed; parseProfile copies what it keeps
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				problem.Write(w, r, problem.Errorf(problem.TooLarge, "the body must be at most %d bytes", maxBodyBytes))
				return
			}
			problem.Write(w, r, problem.Errorf(problem.Invalid, "the body could not be read"))
			return
		}
		req, err := parseProfile(body)
		if err != nil {
			problem.Write(w, r, err)
			return
		}
		e := profile.Event{PatientID: req.PatientID, FirstName: req.FirstName, LastName: req.LastName,
			IsPregnant: req.IsPregnant, Sex: req.Sex}
		var fp string
		if key != "" {
			fp = fingerprint(r, body)
		}
		p.publish(w, r, &e, updated, key, fp)
	})
}

// bodyBuffers recycles request bodies: nothing read from one outlives its request.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// readBody appends what r holds to b, as io.ReadAll does into a buffer of its own.
func readBody(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, 512)
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// writeStamp answers with the event's stamp: {"EventId","PatientId",stamp}, stamp being
// UpdatedAt for an update and DeletedAt for a deletion. It writes what encoding/json would,
// without reflecting over a struct on every request.
func writeStamp(w http.ResponseWriter, status int, e profile.Event, stamp string) {
	buf := stampBuffers.Get().(*[]byte)
	defer stampBuffers.Put(buf)
	b := appendStamp((*buf)[:0], e, stamp)
	writeJSON(w, status, b) // which copies b into the connection's buffer
	*buf = b
}

// appendStamp appends writeStamp's body to b.
func appendStamp(b []byte, e profile.Event, stamp string) []byte {
	b = append(b, `{"EventId":`...)
	b = jsonobject.AppendString(b, e.EventID)
	b = append(b, `,"PatientId":`...)
	b = jsonobject.AppendString(b, e.PatientID)
	b = append(b, `,"`...)
	b = append(b, stamp...)
	b = append(b, `":"`...) // RFC 3339 has nothing to escape
	b = e.UpdatedAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, "\"}\n"...)
}

var stampBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 160); return &b }}

// handleDeleteProfile publishes a deletion of the patient in the path: the replica keeps only a
// tombstone, which no older event can overwrite. 202: the erasure is accepted and published,
// and the consumer applies it asynchronously. Deleting a patient never seen is not an error (the
// producer does not know the replica): the tombstone also stops a late update.
func handleDeleteProfile(p *publishing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := p.keys.of(r)
		if err != nil {
			problem.Write(w, r, err)
			return
		}
		id := chi.URLParam(r, "PatientId")
		if !profile.ValidPatientID(id) {
			problem.Write(w, r,
				problem.InvalidField("the patient id in the path is invalid", "PatientId", profile.PatientIDRule))
			return
		}
		e := profile.Event{PatientID: id, Deleted: true}
		var fp string
		if key != "" {
			fp = fingerprint(r, nil)
		}
		p.publish(w, r, &e, deleted, key, fp)
	})
}

// checkContentType accepts application/json, with parameters, and a charset only if it is UTF-8:
// the body is read as UTF-8 whatever the header says.
func checkContentType(header string) error {
	if header == "application/json" { // what nearly every client sends, without parsing it
		return nil
	}
	if header == "" {
		return problem.Errorf(problem.UnsupportedMediaType, "send Content-Type: application/json")
	}
	mt, params, err := mime.ParseMediaType(header)
	if err != nil || mt != "application/json" {
		return problem.Errorf(problem.UnsupportedMediaType, "send Content-Type: application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return problem.Errorf(problem.UnsupportedMediaType,
			"the body must be UTF-8; send Content-Type: application/json without a charset or with charset=utf-8")
	}
	return nil
}

// The names a request may use, as indexes into requestObject.Names.
const (
	namePatientID = iota
	nameFirstName
	nameLastName
	nameIsPregnant
	nameSex
	nameEventID
	nameUpdatedAt
	numNames
)

// requestObject reads a request body. The server's fields are among its names, so that a case
// variant of one is refused as such, and the field itself is refused by validate.
var requestObject = &jsonobject.Reader{Names: slices.Concat(requestFields, serverFields)}

// fieldList is the answer to a client that sends a field outside requestFields.
var fieldList = strings.Join(requestFields, ", ")

// parseProfile reads a body as one JSON object and checks every field, so that the 400 names
// every bad field at once rather than the first one a decoder meets. Its error is an *problem.Error.
func parseProfile(body []byte) (profileRequest, error) {
	var raw [numNames][]byte
	unknown, err := requestObject.Read(body, raw[:])
	if err != nil {
		return profileRequest{}, bodyError(err)
	}
	req, problems := validate(&raw, unknown)
	if len(problems) > 0 {
		e := problem.Errorf(problem.Invalid, "%d field(s) are invalid; see errors", len(problems))
		e.Fields = problems
		return profileRequest{}, e
	}
	return req, nil
}

// bodyError words for the client why requestObject refused a body.
func bodyError(err error) *problem.Error {
	var (
		notObject *jsonobject.NotObjectError
		repeated  *jsonobject.DuplicateError
		variant   *jsonobject.CaseError
		invalid   *jsonobject.UTF8Error
	)
	switch {
	case errors.Is(err, jsonobject.ErrEmpty):
		return problem.Errorf(problem.Invalid, "the body is empty; send a JSON object")
	case errors.Is(err, jsonobject.ErrTrailing):
		return problem.Errorf(problem.Invalid, "the body must be one JSON object, with nothing after it")
	case errors.As(err, &notObject):
		return problem.Errorf(problem.Invalid, "the body must be a JSON object, got %s", notObject.Got.Phrase())
	case errors.As(err, &repeated):
		// Which value wins depends on the parser, so a request could pass one check here and do
		// something else downstream.
		e := problem.Errorf(problem.Invalid, "a field is given more than once")
		e.Fields = []problem.Field{problem.FieldError(repeated.Name, "appears more than once")}
		return e
	case errors.As(err, &variant):
		// encoding/json would read "patientid" as PatientId; the contract's names are exact.
		e := problem.Errorf(problem.Invalid, "field names are case-sensitive")
		detail := fmt.Sprintf("names are case-sensitive; the field is %q", variant.Field)
		e.Fields = []problem.Field{problem.FieldError(variant.Name, detail)}
		return e
	case errors.As(err, &invalid):
		// Go's JSON decoder would have turned the bytes into U+FFFD without a word.
		e := problem.Errorf(problem.Invalid, "the body is not valid UTF-8")
		for _, name := range invalid.Names {
			e.Fields = append(e.Fields, problem.FieldError(name, "is not valid UTF-8"))
		}
		slices.SortStableFunc(e.Fields, func(a, b problem.Field) int { return strings.Compare(a.Field, b.Field) })
		return e
	}
	return problem.Errorf(problem.Invalid, "the body is not well-formed JSON: %v", err)
}

// validate checks each field and returns the request, or what is wrong, field by field in name
// order.
func validate(raw *[numNames][]byte, unknown []jsonobject.Member) (profileRequest, []problem.Field) {
	var req profileRequest
	var problems []problem.Field
	bad := func(field, detail string) { problems = append(problems, problem.FieldError(field, detail)) }

	for _, f := range [...]int{nameEventID, nameUpdatedAt} {
		if raw[f] != nil {
			bad(requestObject.Names[f], "is stamped by the server; leave it out")
		}
	}
	for _, m := range unknown {
		bad(m.Name, "is not a field of a patient profile; the fields are "+fieldList)
	}

	id, why := stringField(raw[namePatientID])
	switch {
	case why != "":
		bad("PatientId", why)
	case id == "":
		bad("PatientId", "is required")
	case !profile.ValidPatientID(id):
		bad("PatientId", profile.PatientIDRule)
	default:
		req.PatientID = id
	}
	for _, f := range [...]struct {
		name int
		dst  *string
	}{{nameFirstName, &req.FirstName}, {nameLastName, &req.LastName}} {
		name := requestObject.Names[f.name]
		v, why := stringField(raw[f.name])
		switch {
		case why != "":
			bad(name, why)
		case utf8.RuneCountInString(v) > maxNameRunes:
			bad(name, fmt.Sprintf("must be at most %d characters", maxNameRunes))
		case strings.ContainsFunc(v, unicode.IsControl):
			bad(name, "must not contain control characters")
		default:
			*f.dst = v
		}
	}
	switch sex := raw[nameSex]; {
	case sex == nil || jsonobject.KindOf(sex) == jsonobject.Null:
	case jsonobject.KindOf(sex) != jsonobject.String:
		bad("Sex", "must be a string, got "+jsonobject.KindOf(sex).Phrase())
	default:
		var buf [16]byte // the event carries the code, so the string sent is not kept
		code, ok := sexCode(jsonobject.AppendUnquoted(buf[:0], sex))
		if !ok {
			bad("Sex", "must be one of "+strings.Join(sexCodes, ", ")+" (any case)")
		}
		req.Sex = code
	}
	pregnant, why := flexibleBool(raw[nameIsPregnant])
	if why != "" {
		bad("IsPregnant", why)
	}
	req.IsPregnant = pregnant
	slices.SortStableFunc(problems, func(a, b problem.Field) int { return strings.Compare(a.Field, b.Field) })
	return req, problems
}

// sexCode matches s against sexCodes ignoring ASCII case only: Unicode case folding would let
// the Kelvin sign stand for a 'k'.
func sexCode(s []byte) (string, bool) {
	for _, code := range sexCodes {
		if equalASCIIFold(s, code) {
			return code, true
		}
	}
	return "", false
}

// equalASCIIFold reports whether s is lower, a lower-case ASCII word, in any ASCII case.
func equalASCIIFold[T string | []byte](s T, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := range len(s) {
		if c := s[i]; c != lower[i] && (c < 'A' || c > 'Z' || c+('a'-'A') != lower[i]) {
			return false
		}
	}
	return true
}

// stringField returns a string field's value, absent and null meaning "", or what is wrong with
// it for the client.
func stringField(raw []byte) (string, string) {
	s, err := jsonobject.OptionalString(raw)
	var wrongKind *jsonobject.TypeError
	if errors.As(err, &wrongKind) {
		return "", "must be a string, got " + wrongKind.Got.Phrase()
	}
	return s, ""
}

// flexibleBool takes a JSON boolean or the strings "true"/"false" in any case, because the
// original clients send "False". Absent and null mean false. The second result is what is wrong
// for the client.
func flexibleBool(raw []byte) (bool, string) {
	const want = `must be true or false (a JSON boolean or the string "true"/"false")`
	b, err := jsonobject.OptionalBool(raw)
	switch {
	case err == nil:
		return b, ""
	case jsonobject.KindOf(raw) != jsonobject.String:
		return false, want + ", got " + jsonobject.KindOf(raw).Phrase()
	}
	var buf [16]byte
	switch s := bytes.TrimSpace(jsonobject.AppendUnquoted(buf[:0], raw)); {
	case equalASCIIFold(s, "true"):
		return true, ""
	case equalASCIIFold(s, "false"):
		return false, ""
	}
	return false, want
}
