package store

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
)

// The consumer retries what is transient and dead-letters what is rejected, so this split
// decides between blocking a partition until the store recovers and parking an event for good.
func TestRejected(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"validation error (bad key, item too large)", &smithy.GenericAPIError{Code: "ValidationException"}, true},
		{"item collection too large", &smithy.GenericAPIError{Code: "ItemCollectionSizeLimitExceededException"}, true},
		{"throttled by provisioned capacity", &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException"}, false},
		{"throttled by account limits", &smithy.GenericAPIError{Code: "ThrottlingException"}, false},
		{"request limit", &smithy.GenericAPIError{Code: "RequestLimitExceeded"}, false},
		{"5xx", &smithy.GenericAPIError{Code: "InternalServerError"}, false},
		{"table missing: an operator error that a person fixes", &smithy.GenericAPIError{Code: "ResourceNotFoundException"}, false},
		{"no permission: likewise", &smithy.GenericAPIError{Code: "AccessDeniedException"}, false},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, refusedForWhatItIs(tt.err))
		})
	}
}

func TestIsRejected(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"rejected, wrapped", fmt.Errorf("put profile 1: %w: %w", ErrRejected, &smithy.GenericAPIError{Code: "ValidationException"}), true},
		{"transient", fmt.Errorf("put profile 1: %w", &smithy.GenericAPIError{Code: "ThrottlingException"}), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, IsRejected(tt.err))
		})
	}
}
