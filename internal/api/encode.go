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

// problem is every error answer's body. Fields names each bad input field and what is wrong
// with it.
type problem struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}
