package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// FlushFunc writes items in one store call and returns one result per item,
// in order. An error fails every item of the batch.
type FlushFunc[T, R any] func(ctx context.Context, items []T) ([]R, error)

// Config configures a Committer.
type Config struct {
	// MaxItems is the largest batch handed to the flush function
	// (default 500).
	MaxItems int
	// Linger is how long the flusher waits for more items after the first
	// arrives when no flush is running (default 2ms). Zero-load latency
	// pays it once; under load batches fill while the previous flush runs.
	Linger time.Duration
	// Flushers is how many flushes may run at once (default 1). More than
	// one helps a store that can commit in parallel (PostgreSQL); SQLite
	// has one writer anyway.
	Flushers int
	// Timeout bounds one flush call (default 10s).
	Timeout time.Duration
	// Observe, if set, is told the size and outcome of every flush (for
	// metrics).
	Observe func(size int, err error)
}

func (c *Config) validate() error {
	if c.MaxItems < 0 || c.Flushers < 0 || c.Linger < 0 || c.Timeout < 0 {
		return errors.New("batch: negative setting")
	}
	if c.MaxItems == 0 {
		c.MaxItems = 500
	}
	if c.Linger == 0 {
		c.Linger = 2 * time.Millisecond
	}
	if c.Flushers == 0 {
		c.Flushers = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	return nil
}

// ErrClosed is returned for items handed in after Close.
var ErrClosed = errors.New("batch: closed")

type pending[T, R any] struct {
	item T
	done chan outcome[R]
}

type outcome[R any] struct {
	r   R
	err error
}

// Committer collects items and flushes them in batches. It is safe for
// concurrent use.
type Committer[T, R any] struct {
	cfg   Config
	flush FlushFunc[T, R]
	in    chan pending[T, R]
	wg    sync.WaitGroup

	mu     sync.RWMutex
	closed bool
}

// New starts a Committer's flushers.
func New[T, R any](cfg Config, flush FlushFunc[T, R]) (*Committer[T, R], error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if flush == nil {
		return nil, errors.New("batch: flush function is required")
	}
	c := &Committer[T, R]{cfg: cfg, flush: flush, in: make(chan pending[T, R], cfg.MaxItems*cfg.Flushers)}
	for range cfg.Flushers {
		c.wg.Add(1)
		go c.run()
	}
	return c, nil
}

// Do hands in one item and waits until the batch carrying it was flushed.
// If ctx ends first Do returns ctx's error, but the item may still be
// written: callers that need to know must make the write idempotent.
func (c *Committer[T, R]) Do(ctx context.Context, item T) (R, error) {
	var zero R
	p := pending[T, R]{item: item, done: make(chan outcome[R], 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return zero, ErrClosed
	}
	select {
	case c.in <- p:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return zero, ctx.Err()
	}
	select {
	case o := <-p.done:
		return o.r, o.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Close flushes what was handed in and stops the flushers. Do after Close
// returns ErrClosed.
func (c *Committer[T, R]) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.in)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *Committer[T, R]) run() {
	defer c.wg.Done()
	batch := make([]pending[T, R], 0, c.cfg.MaxItems)
	items := make([]T, 0, c.cfg.MaxItems)
	for {
		first, ok := <-c.in
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		batch = c.fill(batch)
		items = items[:0]
		for _, p := range batch {
			items = append(items, p.item)
		}
		c.deliver(batch, items)
	}
}

// fill takes whatever is queued; if that is little, it lingers once so a
// light load still forms batches.
func (c *Committer[T, R]) fill(batch []pending[T, R]) []pending[T, R] {
	timer := (*time.Timer)(nil)
	for len(batch) < c.cfg.MaxItems {
		select {
		case p, ok := <-c.in:
			if !ok {
				return batch
			}
			batch = append(batch, p)
			continue
		default:
		}
		if timer != nil {
			select {
			case p, ok := <-c.in:
				if !ok {
					return batch
				}
				batch = append(batch, p)
				continue
			case <-timer.C:
				return batch
			}
		}
		timer = time.NewTimer(c.cfg.Linger)
		defer timer.Stop()
	}
	return batch
}

func (c *Committer[T, R]) deliver(batch []pending[T, R], items []T) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	results, err := c.call(ctx, items)
	cancel()
	if err == nil && len(results) != len(items) {
		err = fmt.Errorf("batch: flush returned %d results for %d items", len(results), len(items))
	}
	if c.cfg.Observe != nil {
		c.cfg.Observe(len(items), err)
	}
	for i, p := range batch {
		if err != nil {
			p.done <- outcome[R]{err: err}
		} else {
			p.done <- outcome[R]{r: results[i]}
		}
	}
}

// call runs the flush function, turning a panic into an error so one bad
// batch cannot strand its callers.
func (c *Committer[T, R]) call(ctx context.Context, items []T) (results []R, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("batch: flush panicked: %v", r)
		}
	}()
	return c.flush(ctx, items)
}
