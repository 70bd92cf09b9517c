package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/lib/pq"
)

// hub fans wake-ups out to in-process watchers by device id.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

func newHub() *hub { return &hub{subs: map[string]map[chan struct{}]struct{}{}} }

func (h *hub) watch(deviceID string) (<-chan struct{}, func()) {
	// One slot: a watcher needs to know that something happened, not how
	// often, so wake-ups coalesce and a slow watcher never blocks a sender.
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	m := h.subs[deviceID]
	if m == nil {
		m = map[chan struct{}]struct{}{}
		h.subs[deviceID] = m
	}
	m[ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[deviceID], ch)
			if len(h.subs[deviceID]) == 0 {
				delete(h.subs, deviceID)
			}
			h.mu.Unlock()
		})
	}
}

func (h *hub) wake(deviceID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[deviceID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// wakeAll is for when notifications may have been lost (a listener
// reconnect): every watcher looks again.
func (h *hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.subs {
		for ch := range m {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// WatchInstructions implements server.InstructionStore. Watchers share the
// Store's one listener connection, so waiting holds no pool connection.
func (s *Store) WatchInstructions(deviceID string) (<-chan struct{}, func()) {
	return s.hub.watch(deviceID)
}

// listen starts the Store's single LISTEN connection and the goroutine that
// dispatches its notifications to watchers.
func (s *Store) listen(ctx context.Context) error {
	s.listener = pq.NewListener(s.cfg.URL, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventDisconnected, pq.ListenerEventConnectionAttemptFailed:
			s.log.WithError(err).Warn("instruction listener disconnected")
		case pq.ListenerEventReconnected:
			s.log.Info("instruction listener reconnected")
		}
	})
	errc := make(chan error, 1)
	go func() {
		err := s.listener.Listen(notifyChannel)
		if err == nil {
			err = s.listener.Listen(revokeChannel)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		if err != nil {
			return unavailable("Open", err)
		}
	case <-ctx.Done():
		return unavailable("Open", ctx.Err())
	}
	go func() {
		for n := range s.listener.NotificationChannel() {
			switch {
			case n == nil: // reconnected: anything may have been missed
				s.hub.wakeAll()
				s.revoked.notify("")
			case n.Channel == revokeChannel:
				s.revoked.notify(n.Extra)
			default:
				s.hub.wake(n.Extra)
			}
		}
	}()
	return nil
}
