package ops

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/ankitamadan/patient-profile/internal/problem"
)

// recoverPanics turns a panic in a handler into a 500 problem (RFC 9457), logged once with the
// request id, instead of a dropped connection or a plain-text answer. http.ErrAbortHandler is
// passed on: it is a deliberate abort, not a failure.
func recoverPanics(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				logger.LogAttrs(r.Context(), slog.LevelError, "handler panicked",
					slog.String("request_id", RequestID(r.Context())),
					slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				problem.Write(w, r, fmt.Errorf("panic: %v", v))
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// onlyGet answers any method but GET and HEAD as the API answers a wrong method on its routes:
// 405, problem+json, and the Allow header.
func onlyGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		problem.WriteMethodNotAllowed(w, r, http.MethodGet, http.MethodHead)
	})
}
