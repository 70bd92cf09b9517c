// Package auditlog is the agent's local audit trail: what the agent did
// and refused to do (instructions run or refused, sessions, restarts), kept
// on the device so customer IT can read it there (`rms-agent audit
// show|verify`) even if the server never hears of it, and tamper-evident
// so that what they read can be trusted.
//
// # Format
//
// Plain JSON lines (one agent.AuditEvent per line): readable with less,
// grep and jq on a device with nothing else installed, and appendable with
// a single write. Each line is written with one write(2) and the file is
// fsynced before Append returns, so an event that was reported appended
// survives a power cut.
//
// # The chain
//
// Every record carries the hash of the one before (PrevHash; the first
// record ever links to Genesis, 64 zeros) and its own Hash, the hex SHA-256
// of a canonical encoding of its fields, not of its JSON line: JSON may be
// re-encoded with other field order, spacing or escaping without changing
// what it says, and a verifier must not depend on one encoder's choices.
// The canonical encoding is the tag "rms-agent-audit-v1" followed by, in
// this order,
//
//	prev, seq (decimal), time (UTC, RFC 3339 with 9 fractional digits),
//	actor, action, outcome, detail
//
// each written as <decimal byte length> ":" <bytes> ";". The length
// prefix means no choice of field contents (a detail holding ";actor:")
// can make two different records encode alike. Strings are made valid
// UTF-8 (each invalid byte becomes U+FFFD, as encoding/json would do) before
// hashing, so the hash is over what the line will say when read back.
//
// Changing any field of any line breaks that line's hash; deleting,
// inserting or reordering lines breaks the sequence or the link. What a
// hash chain without a secret cannot show is a rewrite of the chain from
// some point on, or the removal of its newest records; forwarding events
// to the server (ReportAuditEvents), whose own chain holds them, is what
// covers that.
//
// # Files and rotation
//
// The current file is audit.log. When the next line would take it past
// MaxFileBytes it is renamed to audit-<first seq, 20 digits>.log (so names
// sort in order) and a new audit.log begins; the chain runs on across the
// files. Beyond MaxFiles files in all, the oldest is deleted: the bound on
// a device's disk is MaxFiles × MaxFileBytes. Verification then starts
// from the oldest surviving record, whose PrevHash cannot be checked, and
// says so ("N records checked from seq S").
//
// # Torn writes
//
// A power cut during a write can leave a partial last line. Open cuts
// audit.log back to its last complete line (logging a warning) and
// continues the chain from the last intact record; that record was never
// reported as appended, so nothing promised is lost. A complete line that
// does not parse is not "repaired": that is damage or tampering, and Open
// refuses the log until someone looks (Verify names the line).
package auditlog
