package bench

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The quantiles of a histogram read as PromQL's histogram_quantile reads them: linear within the
// bucket the rank falls in.
func TestHistogramQuantile(t *testing.T) {
	inf := math.Inf(1)
	h := histogram{{0.005, 10}, {0.01, 60}, {0.02, 90}, {0.05, 100}, {inf, 100}}
	tests := []struct {
		name string
		h    histogram
		q    float64
		want time.Duration
	}{
		{"in the first bucket, from 0", h, 0.05, 2500 * time.Microsecond},
		{"the median, within the second bucket", h, 0.5, 9 * time.Millisecond},
		{"p99, within the fourth", h, 0.99, 47 * time.Millisecond},
		{"in +Inf: the highest finite bound", histogram{{0.005, 1}, {inf, 100}}, 0.99, 5 * time.Millisecond},
		{"nothing observed", histogram{{0.005, 0}, {inf, 0}}, 0.99, 0},
		{"the difference of two readings", h.minus(histogram{{0.005, 10}, {0.01, 10}, {0.02, 10}, {0.05, 10}, {inf, 10}}),
			0.5, 9500 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, float64(tt.want), float64(tt.h.quantile(tt.q)), float64(time.Microsecond))
		})
	}
}
