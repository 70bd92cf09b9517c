// Command rmsctl is the operator's and integrator's tool for RMS: it makes the
// dev and test PKI, and signs and verifies envelopes with exactly the
// WS-Security checks the server applies (less the replay store and the device
// registry), so third-party envelopes can be checked offline. It also drives
// a running server through the ManagementService (devices, alarms,
// instructions, uploads, audit) and verifies the audit hash chain directly
// in the store.
//
// Usage:
//
//	rmsctl <verb> [<sub-verb>] [flags]
//	rmsctl help [<verb> [<sub-verb>]]
//
// Verbs are listed in a small dispatch table (commands in main.go), one file
// per verb, so later verbs slot in without touching the others. Verbs that
// talk to the server are built with remoteVerb (manage.go), which gives each
// leaf the same --server, --ca, --user (and --json) flags, RMS_SERVER,
// RMS_CA, RMS_USER and RMS_PASSWORD, the password prompt, and the fault
// handling; the verb itself only declares its own flags and its call.
//
// Exit status: 0 on success, 1 when the operation fails (for envelope verify,
// the envelope was refused: "FAULT <CODE>: <reason>" on stderr; for a server
// verb, the server's fault: "rmsctl: <CODE>: <message>"), 2 on a usage error
// (flag values are checked before anything is sent).
package main
