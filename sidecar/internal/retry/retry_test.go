package retry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Each delay lies in [d/2, d] for d = Base doubled per attempt, capped at Max.
func TestDelayDoublesWithJitterUpToMax(t *testing.T) {
	b := Backoff{Base: time.Second, Max: 8 * time.Second}
	for attempt, d := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 9: 8 * time.Second} {
		for i := 0; i < 200; i++ {
			got := b.Delay(attempt)
			require.GreaterOrEqual(t, got, d/2, "attempt %d", attempt)
			require.LessOrEqual(t, got, d, "attempt %d", attempt)
		}
	}
}
