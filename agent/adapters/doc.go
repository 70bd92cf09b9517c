// Package adapters reads devices for the agent: each adapter turns one
// kind of device interface into agent.Samples (state, metrics, properties
// and error-code events) and names the log files the agent may upload.
//
//   - simulator: a believable imaging system or lab analyser, for demos,
//     load runs and tests, with drifting metrics, counters, thresholds,
//     random error codes raised and cleared, and a growing, rotated log
//     that contains fake patient identifiers (so the redaction filter is
//     exercised end to end).
//   - exec: runs a configured command (argv, no shell) each poll and reads
//     key=value lines from its output.
//   - file: reads a status file in the same key=value format and tails log
//     files for error-code patterns.
//
// The key=value format, one item per line (blank lines and lines starting
// with '#' are ignored; anything else that does not parse is counted and
// logged, never fatal):
//
//	state=ok|warning|error|maintenance|offline
//	metric.NAME=VALUE[ UNIT]          e.g. metric.tube.temp=41.5 C
//	property.NAME=VALUE               e.g. property.fw=4.12.3
//	error=CODE[ SEVERITY[ TEXT...]]   e.g. error=E-101 critical Tube overheating
//	clear=CODE
//
// NAME follows the wire rules ([A-Za-z][A-Za-z0-9._-]{0,63}), CODE too but
// may start with a digit, UNIT is at most 16 bytes, a property value at
// most 1024. SEVERITY is critical, major, minor, warning or info; when the
// second word is not one of them it is part of the text and the
// configured default severity applies. Without a state line the state is
// derived from the active errors (any critical: error; any other:
// warning; none: ok).
//
// An error code is reported once when it becomes active and once when it
// is cleared (by clear=CODE or, with ClearAbsent, by no longer being
// listed), so a script that prints its current errors on every run does
// not flood the server.
//
// Privacy: only the data an adapter is configured to collect leaves the
// device. Collect is an allow-list of metric and property names (exact, or
// path.Match globs such as "tube.*"); an empty list means every metric and
// property the adapter knows (the simulator's fixed set; whatever the
// command or status file reports), which suits a trusted script but should
// be narrowed for vendor software. State and error events always leave
// (they are what remote service is for), but their free text and property
// values pass the redact filter first.
package adapters
