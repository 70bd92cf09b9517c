package poller

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmsproject/rms/server"
)

// MaxWait is the longest a poll may wait: below common proxy and load
// balancer idle timeouts (30 s and up).
const MaxWait = 25 * time.Second

// Poller implements server.InstructionPoller.
type Poller struct {
	store   server.InstructionStore
	now     func() time.Time
	waiting atomic.Int64
	// closing ends every wait at once when the server shuts down, so a
	// graceful stop does not sit out 25-second polls.
	closing   chan struct{}
	closeOnce sync.Once
}

var _ server.InstructionPoller = (*Poller)(nil)

// New returns a Poller. now may be nil (time.Now).
func New(store server.InstructionStore, now func() time.Time) (*Poller, error) {
	if store == nil {
		return nil, errors.New("poller.New: store is required")
	}
	if now == nil {
		now = time.Now
	}
	return &Poller{store: store, now: now, closing: make(chan struct{})}, nil
}

// Close ends every waiting poll now (each answers with what is pending,
// usually nothing) and makes later polls answer without waiting.
func (p *Poller) Close() { p.closeOnce.Do(func() { close(p.closing) }) }

// Waiting is the number of polls waiting right now (for metrics).
func (p *Poller) Waiting() int64 { return p.waiting.Load() }

// Poll implements server.InstructionPoller. The claim, which records the
// answer under the message id, happens once: when something is pending or
// when the wait is over. Checking for pending work before that is a plain
// read, so a woken poll does not find its empty first answer recorded.
func (p *Poller) Poll(ctx context.Context, ref server.MessageRef, limit int, wait time.Duration) ([]server.Instruction, error) {
	if limit <= 0 {
		limit = 10
	}
	wait = min(max(wait, 0), MaxWait)
	wake, stop := p.store.WatchInstructions(ref.DeviceID)
	defer stop()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	counted := false
	defer func() {
		if counted {
			p.waiting.Add(-1)
		}
	}()
	// A repeated poll (its answer was lost or refused) gets the recorded
	// answer now; waiting would find nothing, since that answer's
	// instructions are no longer queued.
	if again, err := p.store.ClaimedBefore(ctx, ref); err != nil {
		return nil, err
	} else if again {
		return p.store.ClaimInstructions(ctx, ref, limit, p.now())
	}
	for {
		pending, err := p.store.HasPendingInstructions(ctx, ref.DeviceID, p.now())
		if err != nil {
			return nil, err
		}
		if pending || wait == 0 {
			return p.store.ClaimInstructions(ctx, ref, limit, p.now())
		}
		if !counted {
			counted = true
			p.waiting.Add(1)
		}
		select {
		case <-wake:
		case <-deadline.C:
			wait = 0
		case <-p.closing:
			wait = 0
		case <-ctx.Done():
			return nil, server.Wrap(server.CodeUnavailable, "poll was interrupted", ctx.Err())
		}
	}
}
