// Package problem writes the error answers of both services, and of the operational routes, as
// RFC 9457 problems (application/problem+json): one table of kinds, each with its status, type
// URI and title, so that every error a client sees is made in one place.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/ankitamadan/patient-profile/internal/jsonobject"
)

// Kind is what went wrong, as far as a client is concerned.
type Kind int

// The kinds, each with one status, type and title (see kinds).
const (
	Internal Kind = iota
	Invalid
	Unauthorized
	NotFound
	MethodNotAllowed
	TooLarge
	UnsupportedMediaType
	Overloaded
	BrokerUnavailable
	StoreUnavailable
	Forbidden
	BadGateway
	// KeyInProgress, KeyReused and KeyStoreUnavailable answer requests with an Idempotency-Key.
	KeyInProgress
	KeyReused
	KeyStoreUnavailable
)

// typePrefix starts every problem type: tag URIs (RFC 4151) are stable identifiers that are not
// meant to be fetched. docs/api.md documents each one.
const typePrefix = "tag:patient-profile,2026:problem/"

var kinds = map[Kind]struct {
	status      int
	typ, title  string
	retryLater  bool
	bearerRealm bool
}{
	Internal: {
		status: http.StatusInternalServerError, typ: "internal", title: "Internal error",
	},
	Invalid: {
		status: http.StatusBadRequest, typ: "invalid-request", title: "The request is invalid",
	},
	Unauthorized: {
		status: http.StatusUnauthorized, typ: "unauthorized", title: "A valid bearer token is required",
		bearerRealm: true,
	},
	NotFound: {
		status: http.StatusNotFound, typ: "not-found", title: "No such resource",
	},
	MethodNotAllowed: {
		status: http.StatusMethodNotAllowed, typ: "method-not-allowed", title: "Method not allowed",
	},
	TooLarge: {
		status: http.StatusRequestEntityTooLarge, typ: "too-large", title: "The body is too large",
	},
	UnsupportedMediaType: {
		status: http.StatusUnsupportedMediaType, typ: "unsupported-media-type",
		title: "The body must be application/json",
	},
	Overloaded: {
		status: http.StatusServiceUnavailable, typ: "overloaded", title: "Too many requests in flight",
		retryLater: true,
	},
	BrokerUnavailable: {
		status: http.StatusServiceUnavailable, typ: "broker-unavailable", title: "The event was not published",
		retryLater: true,
	},
	StoreUnavailable: {
		status: http.StatusServiceUnavailable, typ: "store-unavailable", title: "The replica could not be read",
		retryLater: true,
	},
	Forbidden: {
		status: http.StatusForbidden, typ: "forbidden", title: "The request is refused",
	},
	BadGateway: {
		status: http.StatusBadGateway, typ: "upstream-unavailable",
		title:      "A service behind the console did not answer",
		retryLater: true,
	},
	KeyInProgress: {
		status: http.StatusConflict, typ: "idempotency-key-in-progress",
		title: "A request with this Idempotency-Key is still being processed", retryLater: true,
	},
	KeyReused: {
		status: http.StatusUnprocessableEntity, typ: "idempotency-key-reused",
		title: "This Idempotency-Key was used for another request",
	},
	KeyStoreUnavailable: {
		status: http.StatusServiceUnavailable, typ: "key-store-unavailable",
		title: "The Idempotency-Key could not be recorded; nothing was published", retryLater: true,
	},
}

// Status is the HTTP status of kind k.
func Status(k Kind) int { return kinds[k].status }

// Field is one bad input field. Pointer is a JSON Pointer into the request body, as in RFC 9457's
// own example.
type Field struct {
	Field   string `json:"field"`
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// FieldError names a field both ways, by name and as a JSON Pointer, with what is wrong with it.
// An unknown field's name is the client's: a huge one is shortened, so it cannot fill the answer.
func FieldError(name, detail string) Field {
	shown := jsonobject.Shorten(name)
	return Field{Field: shown, Pointer: "/" + pointerEscaper.Replace(shown), Detail: detail}
}

// pointerEscaper escapes a name for a JSON Pointer (RFC 6901).
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// Error is an error a handler answers with. Detail is for the client, so it never carries a
// submitted value: values are patient data.
type Error struct {
	Kind   Kind
	Detail string
	Fields []Field
	// Header is added to the answer (Allow on a 405, for example).
	Header http.Header
}

func (e *Error) Error() string { return e.Detail }

// Errorf returns an Error of kind k whose detail is formatted.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Detail: fmt.Sprintf(format, args...)}
}

// InvalidField returns an Invalid error whose detail is summary, about one field.
func InvalidField(summary, field, detail string) *Error {
	return &Error{Kind: Invalid, Detail: summary, Fields: []Field{FieldError(field, detail)}}
}

// Body is application/problem+json (RFC 9457), with two extension members: errors, one entry
// per bad field, and request_id, the X-Request-Id of the answer.
type Body struct {
	Type      string  `json:"type"`
	Title     string  `json:"title"`
	Status    int     `json:"status"`
	Detail    string  `json:"detail"`
	Instance  string  `json:"instance,omitempty"`
	Errors    []Field `json:"errors,omitempty"`
	RequestID string  `json:"request_id,omitempty"`
}

// retryAfter is what a 503 or a 409 tells the client to wait, in seconds.
const retryAfter = 1

// Write answers with err as a problem. An error that is not an *Error is a 500 whose detail says
// nothing of the cause; the caller logs the cause. The request id is the answer's X-Request-Id,
// which the operational middleware sets before any handler runs.
func Write(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = Errorf(Internal, "the server failed to answer; the request id identifies it in the logs")
	}
	k := kinds[e.Kind]
	h := w.Header()
	for name, v := range e.Header {
		h[name] = v
	}
	if k.retryLater {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	if k.bearerRealm {
		h.Set("WWW-Authenticate", `Bearer realm="patient-profile"`)
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(k.status)
	_ = json.NewEncoder(w).Encode(Body{
		Type: typePrefix + k.typ, Title: k.title, Status: k.status, Detail: e.Detail,
		Instance: r.URL.Path, Errors: e.Fields, RequestID: h.Get("X-Request-Id"),
	})
}

// NotFoundHandler answers every request with a 404 problem: a router's NotFound.
func NotFoundHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Write(w, r, Errorf(NotFound, "there is no resource at this path"))
	})
}

// MethodNotAllowedHandler answers with a 405 problem and the Allow header chi's own handler would
// have set: chi does not pass the allowed methods to a custom handler, so they are found by
// asking the router.
func MethodNotAllowedHandler(routes chi.Routes) http.Handler {
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range methods {
			if routes.Match(chi.NewRouteContext(), m, r.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		WriteMethodNotAllowed(w, r, allowed...)
	})
}

// WriteMethodNotAllowed answers with a 405 problem naming the allowed methods, in Allow too.
func WriteMethodNotAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) {
	list := strings.Join(allowed, ", ")
	e := Errorf(MethodNotAllowed, "%s is not allowed here; use %s", r.Method, list)
	e.Header = http.Header{"Allow": {list}}
	Write(w, r, e)
}

// NewRouter returns a chi router whose unknown paths and wrong methods are answered as problems.
func NewRouter() *chi.Mux {
	r := chi.NewRouter()
	r.NotFound(NotFoundHandler().ServeHTTP)
	r.MethodNotAllowed(MethodNotAllowedHandler(r).ServeHTTP)
	return r
}
