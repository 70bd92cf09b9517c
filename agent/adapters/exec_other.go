//go:build !unix

package adapters

import "os/exec"

// killGroup: without process groups only the command itself is killed
// (exec.CommandContext's default).
func killGroup(*exec.Cmd) {}
