package executors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/soapclient"
)

// MaxOutput bounds the output a result carries (the server keeps 16 KiB).
const MaxOutput = 16 << 10

// Diagnostic is a command an operator may run by name.
type Diagnostic struct {
	Command []string      // argv; no shell
	Timeout time.Duration // default 60s
}

// Hooks are what executors need from the rest of the agent.
type Hooks struct {
	// Client returns the SOAP client of a device (for uploads).
	Client func(deviceID string) *soapclient.Device
	// SetInterval changes a device's heartbeat interval.
	SetInterval func(deviceID string, every time.Duration) error
	// Restart asks the agent to restart.
	Restart func()
}

// Config configures the executor set.
type Config struct {
	Diagnostics map[string]Diagnostic
	// UploadGlobs are the files UploadFile may send (filepath.Match
	// patterns on absolute paths).
	UploadGlobs []string
	// Redact filters a log file before upload (agent/redact's Copy); nil
	// sends files as they are, only right for files that cannot hold
	// patient data.
	Redact func(dst io.Writer, src io.Reader) error
	// StagingDir holds redacted, compressed copies while they upload, so
	// an upload resumes with the same bytes after a restart.
	StagingDir string
	// Settings persists SetConfiguration and SetHeartbeatInterval.
	Settings *Settings
	// SettableKeys are the keys SetConfiguration may change.
	SettableKeys []string
	Hooks        Hooks
	Now          func() time.Time
}

// New returns the executors by instruction type.
func New(cfg Config) (map[string]agent.Executor, error) {
	if cfg.Settings == nil || cfg.Hooks.SetInterval == nil || cfg.Hooks.Restart == nil || cfg.Hooks.Client == nil {
		return nil, errors.New("executors: Settings and every hook are required")
	}
	if len(cfg.UploadGlobs) > 0 && cfg.StagingDir == "" {
		return nil, errors.New("executors: uploads need a StagingDir")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for name, d := range cfg.Diagnostics {
		if len(d.Command) == 0 {
			return nil, fmt.Errorf("executors: diagnostic %q has no command", name)
		}
	}
	return map[string]agent.Executor{
		"RunDiagnostic":        &runDiagnostic{cfg},
		"UploadFile":           &uploadFile{cfg},
		"SetConfiguration":     &setConfiguration{cfg},
		"SetHeartbeatInterval": &setInterval{cfg},
		"RestartAgent":         &restart{cfg},
	}, nil
}

func rejected(format string, args ...any) agent.Result {
	return agent.Result{Status: "rejected", ExitCode: -1, Output: fmt.Sprintf(format, args...)}
}

func failed(format string, args ...any) agent.Result {
	return agent.Result{Status: "failed", ExitCode: -1, Output: capOutput(fmt.Sprintf(format, args...))}
}

// capOutput makes s valid UTF-8 (validUTF8) and cuts it to MaxOutput bytes
// on a character boundary.
func capOutput(s string) string {
	s = validUTF8(s)
	if len(s) <= MaxOutput {
		return s
	}
	return truncated(s)
}

// validUTF8 keeps valid UTF-8 and reads every other byte as Latin-1, the
// likeliest encoding of a device tool's output: XML cannot carry the raw
// bytes, and letting the encoder turn each into a three-byte U+FFFD would
// push a capped output past the server's limit and lose the text.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			r = rune(s[i])
		}
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// truncated cuts valid UTF-8 s to make room for a note saying so.
func truncated(s string) string {
	const note = "\n[output truncated]"
	cut := min(len(s), MaxOutput-len(note))
	for cut > 0 && !utf8.RuneStart(s[cut]) && cut < len(s) {
		cut--
	}
	return s[:cut] + note
}

// Interval bounds for SetHeartbeatInterval.
const (
	MinIntervalSeconds = 10
	MaxIntervalSeconds = 86400
)

type setInterval struct{ cfg Config }

func (e *setInterval) Execute(_ context.Context, deviceID string, in agent.Instruction) agent.Result {
	n, err := strconv.Atoi(in.Parameters["seconds"])
	if err != nil || n < MinIntervalSeconds || n > MaxIntervalSeconds {
		return rejected("parameter seconds must be an integer %d..%d", MinIntervalSeconds, MaxIntervalSeconds)
	}
	if err := e.cfg.Settings.Set(deviceID, "heartbeat_interval", strconv.Itoa(n)); err != nil {
		return failed("could not persist the interval: %v", err)
	}
	if err := e.cfg.Hooks.SetInterval(deviceID, time.Duration(n)*time.Second); err != nil {
		return failed("%v", err)
	}
	return agent.Result{Status: "succeeded", Output: fmt.Sprintf("heartbeat interval is now %ds", n)}
}

type setConfiguration struct{ cfg Config }

func (e *setConfiguration) Execute(_ context.Context, deviceID string, in agent.Instruction) agent.Result {
	if len(in.Parameters) == 0 {
		return rejected("no settings given")
	}
	allowed := map[string]bool{}
	for _, k := range e.cfg.SettableKeys {
		allowed[k] = true
	}
	for k := range in.Parameters {
		if !allowed[k] {
			return rejected("setting %q is not on this agent's allow-list", k)
		}
	}
	if err := e.cfg.Settings.SetAll(deviceID, in.Parameters); err != nil {
		return failed("could not persist the settings: %v", err)
	}
	return agent.Result{Status: "succeeded", Output: fmt.Sprintf("%d setting(s) stored; they apply at the next start", len(in.Parameters))}
}

type restart struct{ cfg Config }

func (e *restart) Execute(context.Context, string, agent.Instruction) agent.Result {
	return agent.Result{Status: "succeeded", Output: "restarting", Then: e.cfg.Hooks.Restart}
}
