// Package runner is the agent's engine: for every device it serves, one
// loop polls the adapter and queues heartbeats and alarms, one sender
// drains that device's outbox in order, and one long-poll fetches
// instructions and hands them to executors.
//
// Everything that must reach the server goes through the durable outbox
// first (stored, then sent, then deleted once acknowledged), so a lost
// network, a crash or a power cut loses nothing; each message keeps its
// messageId across attempts and is signed afresh on every one, so the
// server applies it once and never refuses it as stale. Instructions are
// acted on only when soapclient verified the server's signature on the
// response that carried them.
package runner
