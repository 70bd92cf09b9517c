// Command rmsctl is the operator's and integrator's tool for RMS: it makes the
// dev and test PKI, and signs and verifies envelopes with exactly the
// WS-Security checks the server applies (less the replay store and the device
// registry), so third-party envelopes can be checked offline.
//
// Usage:
//
//	rmsctl <verb> [<sub-verb>] [flags]
//	rmsctl help [<verb> [<sub-verb>]]
//
// Verbs are listed in a small dispatch table (commands in main.go), one file
// per verb, so later verbs (devices, alarms, instructions, uploads, audit,
// bench) slot in without touching the others.
//
// Exit status: 0 on success, 1 when the operation fails (for envelope verify,
// the envelope was refused: "FAULT <CODE>: <reason>" on stderr), 2 on a usage
// error.
package main
