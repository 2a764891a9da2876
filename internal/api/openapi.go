package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the Profile service's contract, and replicaOpenAPI the consumer's read route's.
// TestOpenAPIConformance and TestReplicaOpenAPIConformance hold the handlers to them.
var (
	//go:embed openapi.yaml
	openAPI []byte
	//go:embed openapi-replica.yaml
	replicaOpenAPI []byte
)

func handleOpenAPI(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(doc)
	})
}
