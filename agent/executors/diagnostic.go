package executors

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/rmsproject/rms/agent"
)

type runDiagnostic struct{ cfg Config }

// capped keeps the first MaxOutput bytes written to it and counts the rest,
// so a chatty command cannot fill the agent's memory.
type capped struct {
	buf     bytes.Buffer
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p) // the command must not see a short write: that would kill it
	room := MaxOutput - c.buf.Len()
	if room < len(p) {
		c.dropped += len(p) - max(room, 0)
		p = p[:max(room, 0)]
	}
	c.buf.Write(p)
	return n, nil
}

func (e *runDiagnostic) Execute(ctx context.Context, _ string, in agent.Instruction) agent.Result {
	name := in.Parameters["name"]
	d, ok := e.cfg.Diagnostics[name]
	if !ok {
		names := make([]string, 0, len(e.cfg.Diagnostics))
		for n := range e.cfg.Diagnostics {
			names = append(names, n)
		}
		sort.Strings(names)
		return rejected("no diagnostic named %q is configured (configured: %s)", name, strings.Join(names, ", "))
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Command[0], d.Command[1:]...)
	// Its own process group, so a timeout kills what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	out := &capped{}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	text := validUTF8(out.buf.String())
	if out.dropped > 0 || len(text) > MaxOutput {
		text = truncated(text)
	}
	res := agent.Result{Status: "succeeded", Output: text}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res = failed("%s timed out after %s\n%s", name, timeout, text)
	case errors.As(err, &exitErr):
		res.Status, res.ExitCode = "failed", exitErr.ExitCode()
	case err != nil:
		res = failed("%s could not run: %v", name, err)
	}
	return res
}
