package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the Profile service's contract; TestOpenAPIConformance holds the handlers to it.
//
//go:embed openapi.yaml
var openAPI []byte

func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openAPI)
	})
}
