// Package executors runs the instructions an operator sends: named
// diagnostics from the configuration (never a command the server names),
// uploads of allow-listed files (redacted and compressed first, resumable),
// allow-listed settings, the heartbeat interval, and a restart. Anything
// else is rejected with the reason, by the runner.
package executors
