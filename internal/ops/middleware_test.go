package ops

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel/propagation"
)

// validRequestID replaced this regular expression on the hot path; it must agree with it.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func TestValidRequestID(t *testing.T) {
	ids := []string{"", "a", "gateway-1234.abc", "A_b:c-d.e", strings.Repeat("a", 128), strings.Repeat("a", 129),
		"a b", "a\x00b", "a/b", "é", "a\nb", "a+b", "{id}", "0193c1f0-0000-7000-8000-000000000001"}
	for c := range 256 {
		ids = append(ids, "x"+string(rune(c)))
	}
	for _, id := range ids {
		assert.Equal(t, requestIDPattern.MatchString(id), validRequestID(id), "%q", id)
	}
}

// routePattern must answer as chi's RoutePattern does, for the shapes it handles itself and for
// those it hands to chi.
func TestRoutePattern(t *testing.T) {
	tests := [][]string{
		{"/*", "/patientprofile"},
		{"/*", "/patientprofile/{PatientId}"},
		{"/*"},
		{"/healthz"},
		{"/"},
		{"/*", "/"},
		{"/*", "/*"},
		{"/*", "/things/"},
		{"/*", "/things//"},
		{"/*", "/a/*/b"},
		{"/api/*", "/x"},
		{"/*", "/v1/*", "/x"},
		{"/*", "x"},
		{"/things/"},
		{},
	}
	for _, patterns := range tests {
		t.Run(strings.Join(patterns, " "), func(t *testing.T) {
			rc := chi.NewRouteContext()
			rc.RoutePatterns = patterns
			assert.Equal(t, rc.RoutePattern(), routePattern(rc))
		})
	}
	assert.Empty(t, routePattern(nil))
}

// headerCarrier must read and write what propagation.HeaderCarrier does.
func TestHeaderCarrier(t *testing.T) {
	h := http.Header{}
	h.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.Set("tracestate", "k=v")
	h.Add("baggage", "a=1")
	h.Add("baggage", "b=2")
	h.Set("X-Other", "x")
	ours, theirs := headerCarrier(h.Clone()), propagation.HeaderCarrier(h.Clone())
	for _, key := range []string{"traceparent", "tracestate", "baggage", "x-other", "Traceparent", "missing"} {
		assert.Equal(t, theirs.Get(key), ours.Get(key), "Get %s", key)
		assert.Equal(t, theirs.Values(key), ours.Values(key), "Values %s", key)
	}
	ours.Set("traceparent", "new")
	theirs.Set("traceparent", "new")
	assert.Equal(t, http.Header(theirs), http.Header(ours))
	assert.ElementsMatch(t, theirs.Keys(), ours.Keys())
}
