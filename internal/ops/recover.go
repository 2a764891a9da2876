package ops

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
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
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.LogAttrs(r.Context(), slog.LevelError, "handler panicked", slog.String("request_id", RequestID(r.Context())),
					slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				writeProblem(w, r, http.StatusInternalServerError, "internal", "Internal error",
					"the server failed to answer; the request id identifies it in the logs")
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
		w.Header().Set("Allow", "GET, HEAD")
		writeProblem(w, r, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed",
			fmt.Sprintf("%s is not allowed here; use GET", r.Method))
	})
}

// writeProblem answers with an RFC 9457 problem of the same shape and type URIs as the API's.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, kind, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "tag:patient-profile,2026:problem/" + kind, "title": title, "status": status,
		"detail": detail, "instance": r.URL.Path, "request_id": RequestID(r.Context()),
	})
}
