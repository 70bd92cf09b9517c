// Package statefile writes the agent's small state files (settings, log
// tail offsets) so that a power cut leaves the old file or the new one,
// never half of one: temp file in the same directory, fsync, rename, fsync
// of the directory.
package statefile
