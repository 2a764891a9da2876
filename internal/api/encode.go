package api

import (
	"encoding/json"
	"net/http"
)

// encode writes v as JSON with the status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// jsonContentType is shared by every answer writeJSON makes: net/http only reads it.
var jsonContentType = []string{"application/json"}

// writeJSON writes body, JSON already encoded, with the status.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
