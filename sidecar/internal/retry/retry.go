// Package retry is the backoff the sidecar's senders share (the email outbox, the
// storage clean-up): exponential with jitter, bounded.
package retry

import (
	"math/rand/v2"
	"time"
)

// Backoff doubles a delay per attempt from Base up to Max.
type Backoff struct {
	Base, Max time.Duration
}

// Delay before the retry that follows attempt (1 for the first): a random delay in
// [d/2, d), where d is Base doubled attempt-1 times, at most Max. The jitter keeps
// replicas that failed together from retrying together.
func (b Backoff) Delay(attempt int) time.Duration {
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
