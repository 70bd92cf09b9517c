package adapters

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/rmsproject/rms/agent"
)

// ExecConfig configures the exec adapter.
type ExecConfig struct {
	Common `yaml:",inline"`

	// Command is the program and its arguments, run directly (no shell,
	// so nothing in the config is ever interpreted as shell syntax).
	Command []string `json:"command" yaml:"command"`
	Dir     string   `json:"dir,omitempty" yaml:"dir,omitempty"`
	// Env is added to the agent's environment.
	Env []string `json:"env,omitempty" yaml:"env,omitempty"`
	// Timeout bounds one run; default 10s. On expiry the whole process
	// group is killed, so a script's children do not linger.
	Timeout time.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// MaxOutputBytes caps how much stdout is parsed; default 64 KiB. The
	// rest is read and discarded so the command is not blocked on a full
	// pipe.
	MaxOutputBytes int `json:"maxOutputBytes,omitempty" yaml:"max_output_bytes,omitempty"`
	// DefaultSeverity applies to error= lines without one; default major.
	DefaultSeverity agent.Severity `json:"defaultSeverity,omitempty" yaml:"default_severity,omitempty"`
	// ClearAbsent treats each run's output as the full list of active
	// errors: a code no longer listed is cleared.
	ClearAbsent bool `json:"clearAbsent,omitempty" yaml:"clear_absent,omitempty"`
	// LogFiles are the paths or globs the agent may upload.
	LogFiles []string `json:"logFiles,omitempty" yaml:"log_files,omitempty"`
}

const (
	defaultExecTimeout = 10 * time.Second
	defaultMaxOutput   = 64 << 10
	stderrExcerpt      = 512
)

func (c *ExecConfig) validate() (*collectSet, error) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return nil, errors.New("exec: command is empty")
	}
	if c.Timeout < 0 {
		return nil, fmt.Errorf("exec: timeout %s is negative", c.Timeout)
	}
	if c.Timeout == 0 {
		c.Timeout = defaultExecTimeout
	}
	if c.MaxOutputBytes < 0 {
		return nil, fmt.Errorf("exec: maxOutputBytes %d is negative", c.MaxOutputBytes)
	}
	if c.MaxOutputBytes == 0 {
		c.MaxOutputBytes = defaultMaxOutput
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("exec: env entry %q is not KEY=VALUE", kv)
		}
	}
	if err := checkSeverity(&c.DefaultSeverity, agent.SeverityMajor); err != nil {
		return nil, fmt.Errorf("exec: defaultSeverity: %w", err)
	}
	if err := checkGlobs(c.LogFiles); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	return c.setup("exec")
}

// Exec runs a command each poll and reports what it printed.
type Exec struct {
	cfg     ExecConfig
	collect *collectSet
	bad     badLines
	mu      sync.Mutex // one run at a time; the tracker is not shared
	tracker *tracker
}

// NewExec validates cfg and returns the adapter. The command is not run
// until the first Poll.
func NewExec(cfg ExecConfig) (*Exec, error) {
	set, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("adapters.NewExec: %w", err)
	}
	e := &Exec{cfg: cfg, collect: set, tracker: newTracker()}
	e.bad.log = cfg.Logger
	return e, nil
}

// Poll runs the command once. A non-zero exit, a timeout or a start
// failure is a poll error (the agent then reports the device offline);
// lines it cannot parse are not.
func (e *Exec) Poll(ctx context.Context) (agent.Sample, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out, err := e.run(ctx)
	if err != nil {
		return agent.Sample{}, fmt.Errorf("adapters.Exec.Poll: %w", err)
	}
	now := e.cfg.Now()
	st := parseStatus(out, e.cfg.DefaultSeverity, e.bad.report)
	events := e.tracker.apply(st, e.cfg.ClearAbsent, now)
	state := st.state
	if state == "" {
		state = e.tracker.state()
	}
	return finish(agent.Sample{Time: now, State: state, Metrics: st.metrics, Properties: st.props, Events: events},
		e.collect, e.cfg.Redactor), nil
}

func (e *Exec) run(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.cfg.Command[0], e.cfg.Command[1:]...)
	cmd.Dir = e.cfg.Dir
	cmd.Env = append(os.Environ(), e.cfg.Env...)
	cmd.Stdin = nil
	killGroup(cmd)
	// If a grandchild escaped the group and holds the pipes open, Wait
	// still returns this long after the kill.
	cmd.WaitDelay = time.Second

	stdout := &capped{max: e.cfg.MaxOutputBytes}
	stderr := &capped{max: stderrExcerpt}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	out := stdout.buf.Bytes()
	if stdout.dropped > 0 {
		// The last line kept is probably cut short ("metric.x=1" of
		// "metric.x=125"); a wrong value is worse than none.
		out = out[:bytes.LastIndexByte(out, '\n')+1]
		e.cfg.Logger.WithField("dropped_bytes", stdout.dropped).Warn("command output over the cap; the rest was ignored")
	}
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && err != nil:
		return nil, fmt.Errorf("%s: killed after %s (timeout)", e.cfg.Command[0], e.cfg.Timeout)
	case ctx.Err() != nil && err != nil:
		return nil, fmt.Errorf("%s: %w", e.cfg.Command[0], ctx.Err())
	case err != nil:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return nil, fmt.Errorf("%s: exit status %d: %s", e.cfg.Command[0], exitErr.ExitCode(),
				e.cfg.Redactor.Line(stderr.excerpt()))
		}
		return nil, fmt.Errorf("%s: %w", e.cfg.Command[0], err)
	}
	return out, nil
}

// LogFiles lists the configured log files that exist.
func (e *Exec) LogFiles() []string { return logPaths(e.cfg.LogFiles) }

// BadLines is how many output lines did not parse since the start.
func (e *Exec) BadLines() int64 { return e.bad.total() }

// Close has nothing to release: each run ends before Poll returns.
func (e *Exec) Close() error { return nil }

// capped keeps the first max bytes written and counts the rest.
type capped struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
		c.dropped += int64(max(len(p)-room, 0))
	} else {
		c.dropped += int64(len(p))
	}
	return len(p), nil
}

func (c *capped) excerpt() string {
	s := strings.TrimSpace(strings.ToValidUTF8(c.buf.String(), "?"))
	s = strings.Join(strings.Fields(s), " ") // one line for the log
	if c.dropped > 0 {
		s += " …"
	}
	if s == "" {
		return "(no stderr)"
	}
	return s
}
