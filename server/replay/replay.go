package replay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/batch"
	"github.com/rmsproject/rms/wssec"
)

// Guard implements wssec.ReplayGuard over a server.ReplayStore.
type Guard struct {
	c *batch.Committer[server.ReplayRecord, bool]
}

var _ wssec.ReplayGuard = (*Guard)(nil)

// New starts a Guard.
func New(store server.ReplayStore, cfg batch.Config) (*Guard, error) {
	if store == nil {
		return nil, errors.New("replay.New: store is required")
	}
	c, err := batch.New(cfg, store.RecordReplays)
	if err != nil {
		return nil, fmt.Errorf("replay.New: %w", err)
	}
	return &Guard{c: c}, nil
}

// Seen records key until the given time and reports whether it was there.
func (g *Guard) Seen(ctx context.Context, key string, until time.Time) (bool, error) {
	seen, err := g.c.Do(ctx, server.ReplayRecord{Key: key, Until: until})
	if err != nil {
		// Whatever kept the record from being written (an uncoded store
		// error, a closed guard, a flush that panicked) is worth a retry.
		if server.CodeOf(err) == server.CodeInternal {
			err = server.Wrap(server.CodeUnavailable, "replay check is unavailable", err)
		}
		return false, fmt.Errorf("replay.Seen: %w", err)
	}
	return seen, nil
}

// Close records what is pending and stops.
func (g *Guard) Close() { g.c.Close() }
