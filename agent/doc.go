// Package agent holds the RMS agent's domain: what a device adapter reports
// (Sample, Event), the interfaces the agent's parts meet at (Adapter,
// Outbox, Executor, AuditLog), and the message kinds that travel through
// the durable outbox.
//
// The agent runs for years beside a device, only ever connects outward,
// loses nothing when the network or the power goes, and does nothing the
// server did not sign for. Its parts live in sub-packages: adapters
// (simulator, exec, file), outbox (bbolt store-and-forward), auditlog
// (local hash-chained JSON lines), redact (patient-identifier filter),
// executors (instruction handlers) and runner (the loops that tie them to
// soapclient). It never imports server/ and links no database driver but
// its own local store.
package agent
