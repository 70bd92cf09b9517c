package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/batch"
)

// Config configures an Ingester.
type Config struct {
	Store server.HeartbeatStore // required
	// Batch tunes the group commit; the defaults (500 items, 2 ms linger)
	// suit both stores.
	Batch batch.Config
	// Limits on one heartbeat.
	MaxMetrics    int // default 256
	MaxProperties int // default 256
}

func (c *Config) validate() error {
	if c.Store == nil {
		return fmt.Errorf("ingest: Store is required")
	}
	if c.MaxMetrics <= 0 {
		c.MaxMetrics = 256
	}
	if c.MaxProperties <= 0 {
		c.MaxProperties = 256
	}
	return nil
}

// Ingester implements server.Ingest.
type Ingester struct {
	cfg Config
	c   *batch.Committer[server.Heartbeat, server.HeartbeatAck]
}

var _ server.Ingest = (*Ingester)(nil)

// New starts an Ingester; Close it to flush and stop.
func New(cfg Config) (*Ingester, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c, err := batch.New(cfg.Batch, cfg.Store.WriteHeartbeats)
	if err != nil {
		return nil, fmt.Errorf("ingest.New: %w", err)
	}
	return &Ingester{cfg: cfg, c: c}, nil
}

// Heartbeat validates hb and returns once it is stored.
func (in *Ingester) Heartbeat(ctx context.Context, hb server.Heartbeat) (server.HeartbeatAck, error) {
	if err := in.check(hb); err != nil {
		return server.HeartbeatAck{}, err
	}
	if hb.ReceivedAt.IsZero() {
		hb.ReceivedAt = time.Now()
	}
	ack, err := in.c.Do(ctx, hb)
	if err != nil {
		if server.CodeOf(err) == server.CodeInternal {
			err = server.Wrap(server.CodeUnavailable, "heartbeat could not be stored", err)
		}
		return server.HeartbeatAck{}, fmt.Errorf("ingest.Heartbeat: %w", err)
	}
	return ack, nil
}

func (in *Ingester) check(hb server.Heartbeat) error {
	switch {
	case hb.DeviceID == "" || hb.MessageID == "":
		return server.Errorf(server.CodeMalformed, "heartbeat needs a device and a message id")
	case len(hb.Metrics) > in.cfg.MaxMetrics:
		return server.Errorf(server.CodeTooLarge, "heartbeat has %d metrics; at most %d are accepted", len(hb.Metrics), in.cfg.MaxMetrics)
	case len(hb.Properties) > in.cfg.MaxProperties:
		return server.Errorf(server.CodeTooLarge, "heartbeat has %d properties; at most %d are accepted", len(hb.Properties), in.cfg.MaxProperties)
	}
	return nil
}

// Close writes what is pending and stops.
func (in *Ingester) Close() { in.c.Close() }
