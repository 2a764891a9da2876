package ops

import (
	"context"
	"net/http"

	"github.com/google/uuid"
)

type requestIDKey struct{}

// headerRequestID carries the request id both ways: a caller's own id is kept, so one id
// follows a request through a gateway and here.
const headerRequestID = "X-Request-Id"

// withRequestID gives each request an id, the caller's if it sent a plain one, else a new UUID,
// and answers with it in X-Request-Id. Logs and problem bodies carry it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(headerRequestID)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		w.Header().Set(headerRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// validRequestID is what a caller may choose as an id: short and plain (1 to 128 of A-Z a-z 0-9
// . _ : -), so it can go into a log line and a header as it is. It is checked on every request,
// so by hand rather than by a regular expression.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// RequestID is the id withRequestID gave the request, for log lines and problem bodies.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
