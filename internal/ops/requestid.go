package ops

import (
	"context"
	"net/http"
	"regexp"

	"github.com/google/uuid"
)

type requestIDKey struct{}

// headerRequestID carries the request id both ways: a caller's own id is kept, so one id
// follows a request through a gateway and here.
const headerRequestID = "X-Request-Id"

// validRequestID is what a caller may choose as an id: short and plain, so it can go into a log
// line and a header as it is.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// withRequestID gives each request an id, the caller's if it sent a plain one, else a new UUID,
// and answers with it in X-Request-Id. Logs and problem bodies carry it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(headerRequestID)
		if !validRequestID.MatchString(id) {
			id = uuid.NewString()
		}
		w.Header().Set(headerRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// RequestID is the id withRequestID gave the request, for log lines and problem bodies.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
