package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the Profile service's contract. TestOpenAPIConformance holds the handler to it.
//
//go:embed openapi.yaml
var openAPI []byte

func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openAPI)
	})
}
