package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/soapclient"
)

// Device is one device the agent serves: its identity (the client signs
// with its key and presents its certificate) and its adapter. A gateway
// agent has several.
type Device struct {
	ID       string
	Client   *soapclient.Device
	Adapter  agent.Adapter
	Interval time.Duration // heartbeat interval until the server says otherwise; default 60s
}

// Config configures a Runner.
type Config struct {
	Devices   []Device
	Outbox    agent.Outbox
	Audit     agent.AuditLog
	Executors map[string]agent.Executor // by instruction type

	// ImmediateCodes and ImmediateSeverities mark the events that go out
	// at once; the rest ride on the next heartbeat. Default: critical.
	ImmediateCodes      []string
	ImmediateSeverities []agent.Severity

	MinBackoff time.Duration // default 5s
	MaxBackoff time.Duration // default 10m
	PollWait   time.Duration // long-poll wait; default 25s, at most 25s

	Logger *logrus.Entry
	Now    func() time.Time
}

func (c *Config) validate() error {
	if len(c.Devices) == 0 || c.Outbox == nil || c.Audit == nil {
		return errors.New("runner: Devices, Outbox and Audit are required")
	}
	seen := map[string]bool{}
	for i := range c.Devices {
		d := &c.Devices[i]
		if d.ID == "" || d.Client == nil || d.Adapter == nil {
			return fmt.Errorf("runner: device %d needs an id, a client and an adapter", i)
		}
		if seen[d.ID] {
			return fmt.Errorf("runner: device %s is configured twice", d.ID)
		}
		seen[d.ID] = true
		if d.Interval <= 0 {
			d.Interval = 60 * time.Second
		}
	}
	if len(c.ImmediateSeverities) == 0 {
		c.ImmediateSeverities = []agent.Severity{agent.SeverityCritical}
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 5 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Minute
	}
	if c.MaxBackoff < c.MinBackoff {
		return errors.New("runner: MaxBackoff is below MinBackoff")
	}
	if c.PollWait <= 0 || c.PollWait > 25*time.Second {
		c.PollWait = 25 * time.Second
	}
	if c.Logger == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		c.Logger = logrus.NewEntry(l)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Runner runs the loops of every device.
type Runner struct {
	cfg     Config
	log     *logrus.Entry
	devices []*deviceLoop
	// restart is closed when an instruction asked the agent to restart.
	restart     chan struct{}
	restartOnce sync.Once
}

// New validates cfg.
func New(cfg Config) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, log: cfg.Logger.WithField("component", "runner"), restart: make(chan struct{})}
	for i := range cfg.Devices {
		r.devices = append(r.devices, newDeviceLoop(r, cfg.Devices[i]))
	}
	return r, nil
}

// ErrRestart is returned by Run when an instruction asked the agent to
// restart; the service manager starts it again.
var ErrRestart = errors.New("runner: restart requested")

// Run runs until ctx ends (returning nil) or a restart is requested
// (returning ErrRestart). Every loop has stopped when it returns.
func (r *Runner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, d := range r.devices {
		wg.Go(func() { d.poll(ctx) })
		wg.Go(func() { d.send(ctx) })
		wg.Go(func() { d.instructions(ctx) })
	}
	var err error
	select {
	case <-ctx.Done():
	case <-r.restart:
		err = ErrRestart
	}
	cancel()
	wg.Wait()
	return err
}

// RequestRestart makes Run return ErrRestart.
func (r *Runner) RequestRestart() { r.restartOnce.Do(func() { close(r.restart) }) }

// SetInterval changes a device's heartbeat interval (SetHeartbeatInterval).
func (r *Runner) SetInterval(deviceID string, every time.Duration) error {
	for _, d := range r.devices {
		if d.dev.ID == deviceID {
			d.setInterval(every)
			return nil
		}
	}
	return fmt.Errorf("runner: no device %s", deviceID)
}

// audit appends to the local trail and queues the event for forwarding;
// a failure to audit is logged loudly but does not stop the agent.
func (r *Runner) audit(deviceID, actor, action, outcome, detail string) {
	e, err := r.cfg.Audit.Append(agent.AuditEvent{Actor: actor, Action: action, Outcome: outcome, Detail: detail})
	if err != nil {
		r.log.WithError(err).WithField("action", action).Error("local audit failed")
		return
	}
	for _, d := range r.devices {
		if d.dev.ID == deviceID {
			d.queueAudit(e)
			return
		}
	}
}

func (r *Runner) immediate(e agent.Event) bool {
	for _, c := range r.cfg.ImmediateCodes {
		if c == e.Code {
			return true
		}
	}
	for _, s := range r.cfg.ImmediateSeverities {
		if s == e.Severity {
			return true
		}
	}
	return false
}
