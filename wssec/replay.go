package wssec

import (
	"context"
	"sync"
	"time"
)

// MemoryReplayGuard is a ReplayGuard held in process memory, for the agent
// (which checks server responses) and tests. A server with replicas needs
// one backed by its shared store instead. Records are dropped once their
// time passes; past MaxEntries live records it refuses new ones with an
// error (UNAVAILABLE) rather than forgetting any early.
type MemoryReplayGuard struct {
	MaxEntries int              // default 1<<20
	Now        func() time.Time // default time.Now

	mu    sync.Mutex
	seen  map[string]time.Time
	sweep time.Time
}

// ErrReplayGuardFull is returned when the guard holds MaxEntries live records.
var ErrReplayGuardFull = fail(CodeUnavailable, "replay guard is full")

// Seen implements ReplayGuard.
func (g *MemoryReplayGuard) Seen(_ context.Context, key string, until time.Time) (bool, error) {
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	limit := g.MaxEntries
	if limit <= 0 {
		limit = 1 << 20
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[string]time.Time{}
	}
	if t, ok := g.seen[key]; ok && now.Before(t) {
		return true, nil
	}
	if len(g.seen) >= limit || now.Sub(g.sweep) > time.Minute {
		for k, t := range g.seen {
			if !now.Before(t) {
				delete(g.seen, k)
			}
		}
		g.sweep = now
	}
	if len(g.seen) >= limit {
		return false, ErrReplayGuardFull
	}
	g.seen[key] = until
	return false, nil
}
