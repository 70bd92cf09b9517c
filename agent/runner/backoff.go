package runner

import (
	"math/rand/v2"
	"time"
)

// Backoff is jittered exponential backoff: Min, doubling, capped at Max;
// each wait is drawn from [d, 1.5d] (never below Min, never above Max) so
// a fleet that lost the server at the same moment does not come back in
// lockstep.
type Backoff struct {
	Min, Max time.Duration
	attempt  int
}

// Next returns the wait before the next attempt. A server's retry-after
// hint longer than the computed wait wins.
func (b *Backoff) Next(retryAfter time.Duration) time.Duration {
	d := b.Min << min(b.attempt, 30)
	if d <= 0 || d > b.Max {
		d = b.Max
	}
	b.attempt++
	wait := min(d+rand.N(d/2+1), b.Max)
	return max(wait, min(retryAfter, b.Max))
}

// Reset starts over after a success.
func (b *Backoff) Reset() { b.attempt = 0 }
