package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

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

// profileResponse is the 201 body: enough for the client to recognise its event downstream.
type profileResponse struct {
	EventID   string `json:"EventId"`
	PatientID string `json:"PatientId"`
	UpdatedAt string `json:"UpdatedAt"`
}

// publishing is what the write routes share: one stamp, and a bound on the publishes waiting
// for the broker. When the bound is reached a request is answered 503 at once, so a slow broker
// cannot pile up an unbounded queue of waiting requests (and goroutines, and memory).
type publishing struct {
	logger   *slog.Logger
	pub      publisher
	stamper  *stamper
	timeout  time.Duration
	inFlight chan struct{}
}

// publish stamps e and publishes it, answering the error itself; it reports whether e was
// published, stamped.
func (p *publishing) publish(w http.ResponseWriter, r *http.Request, e *profile.Event) bool {
	select {
	case p.inFlight <- struct{}{}:
		defer func() { <-p.inFlight }()
	default:
		problem.Write(w, r, problem.Errorf(problem.Overloaded, "%d requests are already waiting for the broker; retry later", cap(p.inFlight)))
		return false
	}
	e.UpdatedAt, e.EventID = p.stamper.stamp()
	// The request's own context would let a client that hangs up abandon a publish half-way;
	// the timeout alone decides, so the answer (had it been read) is always true.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), p.timeout)
	defer cancel()
	if err := p.pub.Publish(ctx, *e); err != nil {
		p.logger.LogAttrs(r.Context(), slog.LevelError, "publish failed", slog.String("request_id", ops.RequestID(r.Context())),
			slog.String("event_id", e.EventID), slog.String("patient_id", e.PatientID), slog.Bool("deletion", e.Deleted), slog.String("error", err.Error()))
		problem.Write(w, r, problem.Errorf(problem.BrokerUnavailable, "the broker did not acknowledge the event within %s; it may or may not have been written, so retry: a retry is a new, newer event", p.timeout))
		return false
	}
	return true
}

// handlePostProfile publishes a valid request as an update event.
func handlePostProfile(p *publishing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
			problem.Write(w, r, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
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
		e := profile.Event{PatientID: req.PatientID, FirstName: req.FirstName, LastName: req.LastName, IsPregnant: req.IsPregnant, Sex: req.Sex}
		if !p.publish(w, r, &e) {
			return
		}
		encode(w, http.StatusCreated, profileResponse{
			EventID:   e.EventID,
			PatientID: e.PatientID,
			UpdatedAt: e.UpdatedAt.Format(time.RFC3339Nano),
		})
	})
}

// deletionResponse is the 202 body: the deletion's stamp.
type deletionResponse struct {
	EventID   string `json:"EventId"`
	PatientID string `json:"PatientId"`
	DeletedAt string `json:"DeletedAt"`
}

// handleDeleteProfile publishes a deletion of the patient in the path: the replica keeps only a
// tombstone, which no older event can overwrite. 202: the erasure is accepted and published,
// and the consumer applies it asynchronously. Deleting a patient never seen is not an error (the
// producer does not know the replica): the tombstone also stops a late update.
func handleDeleteProfile(p *publishing) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "PatientId")
		if !profile.ValidPatientID(id) {
			problem.Write(w, r, problem.InvalidField("the patient id in the path is invalid", "PatientId", profile.PatientIDRule))
			return
		}
		e := profile.Event{PatientID: id, Deleted: true}
		if !p.publish(w, r, &e) {
			return
		}
		encode(w, http.StatusAccepted, deletionResponse{
			EventID:   e.EventID,
			PatientID: e.PatientID,
			DeletedAt: e.UpdatedAt.Format(time.RFC3339Nano),
		})
	})
}

// checkContentType accepts application/json, with parameters, and a charset only if it is UTF-8:
// the body is read as UTF-8 whatever the header says.
func checkContentType(header string) error {
	if header == "" {
		return problem.Errorf(problem.UnsupportedMediaType, "send Content-Type: application/json")
	}
	mt, params, err := mime.ParseMediaType(header)
	if err != nil || mt != "application/json" {
		return problem.Errorf(problem.UnsupportedMediaType, "send Content-Type: application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return problem.Errorf(problem.UnsupportedMediaType, "the body must be UTF-8; send Content-Type: application/json without a charset or with charset=utf-8")
	}
	return nil
}

// parseProfile reads a body as one JSON object and checks every field, so that the 400 names
// every bad field at once rather than the first one encoding/json meets. Its error is an
// *apiError.
func parseProfile(body []byte) (profileRequest, error) {
	fields, err := decodeObject(body)
	if err != nil {
		return profileRequest{}, err
	}
	// encoding/json turns invalid UTF-8 in a string into U+FFFD without a word. Refuse it
	// instead: the raw values still hold the bytes as sent, which says which field has them.
	if !utf8.Valid(body) {
		e := problem.Errorf(problem.Invalid, "the body is not valid UTF-8")
		for _, name := range sortedKeys(fields) {
			if !utf8.Valid(fields[name]) {
				e.Fields = append(e.Fields, problem.FieldError(name, "is not valid UTF-8"))
			}
		}
		return profileRequest{}, e
	}
	req, problems := validate(fields)
	if len(problems) > 0 {
		e := problem.Errorf(problem.Invalid, "%d field(s) are invalid; see errors", len(problems))
		e.Fields = problems
		return profileRequest{}, e
	}
	return req, nil
}

// decodeObject returns the raw fields of the one JSON object in body, in one pass. It refuses a
// name given twice (which value wins depends on the parser, so a request could pass one check
// here and do something else downstream) and a name that matches a field only when case is
// ignored (encoding/json would read "patientid" as PatientId; the contract's names are exact),
// naming the field.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	malformed := func(err error) error {
		return problem.Errorf(problem.Invalid, "the body is not well-formed JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	switch {
	case errors.Is(err, io.EOF):
		return nil, problem.Errorf(problem.Invalid, "the body is empty; send a JSON object")
	case err != nil:
		return nil, malformed(err)
	case tok != json.Delim('{'):
		return nil, problem.Errorf(problem.Invalid, "the body must be a JSON object, got %s", tokenKind(tok))
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		name := tok.(string) // inside an object, Token returns names, unescaped
		if _, dup := fields[name]; dup {
			e := problem.Errorf(problem.Invalid, "a field is given more than once")
			e.Fields = []problem.Field{problem.FieldError(name, "appears more than once")}
			return nil, e
		}
		if known, ok := caseVariant(name); ok {
			e := problem.Errorf(problem.Invalid, "field names are case-sensitive")
			e.Fields = []problem.Field{problem.FieldError(name, fmt.Sprintf("names are case-sensitive; the field is %q", known))}
			return nil, e
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, malformed(err)
		}
		fields[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, problem.Errorf(problem.Invalid, "the body must be one JSON object, with nothing after it")
	}
	return fields, nil
}

// caseVariant returns the field name equals when case is ignored, if it is not that name.
func caseVariant(name string) (string, bool) {
	for _, fields := range [][]string{requestFields, serverFields} {
		for _, known := range fields {
			if name != known && strings.EqualFold(name, known) {
				return known, true
			}
		}
	}
	return "", false
}

// tokenKind names a JSON token's type for an error message, without echoing it.
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	default:
		return "null"
	}
}

// validate checks each field and returns the request, or what is wrong, field by field in name
// order.
func validate(fields map[string]json.RawMessage) (profileRequest, []problem.Field) {
	var req profileRequest
	var problems []problem.Field
	bad := func(field, format string, args ...any) {
		problems = append(problems, problem.FieldError(field, fmt.Sprintf(format, args...)))
	}

	for _, name := range sortedKeys(fields) {
		switch {
		case slices.Contains(serverFields, name):
			bad(name, "is stamped by the server; leave it out")
		case !slices.Contains(requestFields, name):
			bad(name, "is not a field of a patient profile; the fields are %s", strings.Join(requestFields, ", "))
		}
	}

	id, err := optionalString(fields["PatientId"])
	switch {
	case err != nil:
		bad("PatientId", "%v", err)
	case id == "":
		bad("PatientId", "is required")
	case !profile.ValidPatientID(id):
		bad("PatientId", "%s", profile.PatientIDRule)
	default:
		req.PatientID = id
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"FirstName", &req.FirstName}, {"LastName", &req.LastName}} {
		v, err := optionalString(fields[f.name])
		switch {
		case err != nil:
			bad(f.name, "%v", err)
		case utf8.RuneCountInString(v) > maxNameRunes:
			bad(f.name, "must be at most %d characters", maxNameRunes)
		case strings.ContainsFunc(v, unicode.IsControl):
			bad(f.name, "must not contain control characters")
		default:
			*f.dst = v
		}
	}
	sex, err := optionalString(fields["Sex"])
	switch {
	case err != nil:
		bad("Sex", "%v", err)
	case isAbsent(fields["Sex"]):
	default:
		code, ok := sexCode(sex)
		if !ok {
			bad("Sex", "must be one of %s (any case)", strings.Join(sexCodes, ", "))
		}
		req.Sex = code
	}
	pregnant, err := flexibleBool(fields["IsPregnant"])
	if err != nil {
		bad("IsPregnant", "%v", err)
	}
	req.IsPregnant = pregnant
	slices.SortStableFunc(problems, func(a, b problem.Field) int { return strings.Compare(a.Field, b.Field) })
	return req, problems
}

// sexCode matches s against sexCodes ignoring ASCII case only: Unicode case folding would let
// the Kelvin sign stand for a 'k'.
func sexCode(s string) (string, bool) {
	lower := strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
	if slices.Contains(sexCodes, lower) {
		return lower, true
	}
	return "", false
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// optionalString decodes a string field; absent and null mean "".
func optionalString(raw json.RawMessage) (string, error) {
	if isAbsent(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("must be a string, got %s", jsonKind(raw))
	}
	return s, nil
}

// flexibleBool takes a JSON boolean or the strings "true"/"false" in any case, because the
// original clients send "False". Absent and null mean false.
func flexibleBool(raw json.RawMessage) (bool, error) {
	if isAbsent(raw) {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, errors.New(`must be true or false (a JSON boolean or the string "true"/"false")`)
	}
	return false, fmt.Errorf(`must be true or false (a JSON boolean or the string "true"/"false"), got %s`, jsonKind(raw))
}

func isAbsent(raw json.RawMessage) bool {
	return raw == nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// jsonKind names a JSON value's type for an error message, without echoing the value.
func jsonKind(raw json.RawMessage) string {
	switch b := bytes.TrimSpace(raw); {
	case len(b) == 0:
		return "nothing"
	case b[0] == '"':
		return "a string"
	case b[0] == '{':
		return "an object"
	case b[0] == '[':
		return "an array"
	case b[0] == 't' || b[0] == 'f':
		return "a boolean"
	default:
		return "a number"
	}
}
