package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ankitamadan/patient-profile/internal/ops"
)

// kind is what went wrong, as far as a client is concerned. Each has one status, one problem
// type and one title (problems, below), so every error answer is made in one place: writeError.
type kind int

const (
	kindInternal kind = iota
	kindInvalid
	kindUnauthorized
	kindNotFound
	kindMethodNotAllowed
	kindTooLarge
	kindUnsupportedMediaType
	kindOverloaded
	kindUnavailable
	kindStoreUnavailable
)

// problems maps each kind to its RFC 9457 fields. The types are tag URIs (RFC 4151): stable
// identifiers that are not meant to be fetched; the README documents each one.
var problems = map[kind]struct {
	status      int
	typ, title  string
	retryLater  bool
	bearerRealm bool
}{
	kindInternal:             {status: http.StatusInternalServerError, typ: "tag:patient-profile,2026:problem/internal", title: "Internal error"},
	kindInvalid:              {status: http.StatusBadRequest, typ: "tag:patient-profile,2026:problem/invalid-request", title: "The request is invalid"},
	kindUnauthorized:         {status: http.StatusUnauthorized, typ: "tag:patient-profile,2026:problem/unauthorized", title: "A valid bearer token is required", bearerRealm: true},
	kindNotFound:             {status: http.StatusNotFound, typ: "tag:patient-profile,2026:problem/not-found", title: "No such resource"},
	kindMethodNotAllowed:     {status: http.StatusMethodNotAllowed, typ: "tag:patient-profile,2026:problem/method-not-allowed", title: "Method not allowed"},
	kindTooLarge:             {status: http.StatusRequestEntityTooLarge, typ: "tag:patient-profile,2026:problem/too-large", title: "The body is too large"},
	kindUnsupportedMediaType: {status: http.StatusUnsupportedMediaType, typ: "tag:patient-profile,2026:problem/unsupported-media-type", title: "The body must be application/json"},
	kindOverloaded:           {status: http.StatusServiceUnavailable, typ: "tag:patient-profile,2026:problem/overloaded", title: "Too many requests in flight", retryLater: true},
	kindUnavailable:          {status: http.StatusServiceUnavailable, typ: "tag:patient-profile,2026:problem/broker-unavailable", title: "The event was not published", retryLater: true},
	kindStoreUnavailable:     {status: http.StatusServiceUnavailable, typ: "tag:patient-profile,2026:problem/store-unavailable", title: "The replica could not be read", retryLater: true},
}

// fieldError is one bad input field. Pointer is a JSON Pointer into the request body, as in RFC
// 9457's own example.
type fieldError struct {
	Field   string `json:"field"`
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// apiError is an error a handler answers with. Detail is for the client, so it never carries
// a submitted value: values are patient data.
type apiError struct {
	kind   kind
	detail string
	fields []fieldError
	// header is added to the answer (Allow on a 405, for example).
	header http.Header
}

func (e *apiError) Error() string { return e.detail }

func errorf(k kind, format string, args ...any) *apiError {
	return &apiError{kind: k, detail: fmt.Sprintf(format, args...)}
}

// problemBody is application/problem+json (RFC 9457), with two extension members: errors, one
// entry per bad field, and request_id, the X-Request-Id of the answer.
type problemBody struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Instance  string       `json:"instance,omitempty"`
	Errors    []fieldError `json:"errors,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
}

// retryAfter is what a 503 tells the client to wait, in seconds.
const retryAfter = 1

// writeError answers with err as problem+json. An error that is not an *apiError is a 500 whose
// detail says nothing of the cause; the caller logs the cause.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{kind: kindInternal, detail: "the server failed to answer; the request id identifies it in the logs"}
	}
	p := problems[e.kind]
	for k, v := range e.header {
		w.Header()[k] = v
	}
	if p.retryLater {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	if p.bearerRealm {
		w.Header().Set("WWW-Authenticate", `Bearer realm="patient-profile"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.status)
	_ = json.NewEncoder(w).Encode(problemBody{
		Type: p.typ, Title: p.title, Status: p.status, Detail: e.detail,
		Instance: r.URL.Path, Errors: e.fields, RequestID: ops.RequestID(r.Context()),
	})
}
