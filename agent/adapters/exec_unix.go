//go:build unix

package adapters

import (
	"os/exec"
	"syscall"
)

// killGroup puts the command in its own process group and makes the
// context's cancellation kill the whole group: a shell script's children
// (sleep, curl, a hung vendor tool) die with it instead of piling up a
// new orphan every poll.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
