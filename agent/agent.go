package agent

import (
	"context"
	"fmt"
	"time"
)

// Metric is one numeric reading.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Severity of an event, as the device WSDL names them.
type Severity string

// Severities.
const (
	SeverityCritical Severity = "critical"
	SeverityMajor    Severity = "major"
	SeverityMinor    Severity = "minor"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// Event is an error code the adapter saw since its last poll: raised, or
// cleared when Cleared is set.
type Event struct {
	Code     string            `json:"code"`
	Severity Severity          `json:"severity"`
	Text     string            `json:"text,omitempty"`
	Time     time.Time         `json:"time"`
	Cleared  bool              `json:"cleared,omitempty"`
	Context  map[string]string `json:"context,omitempty"`
}

// Sample is what one poll of a device yields. Properties is the full
// current set; the agent sends only the ones that changed.
type Sample struct {
	Time       time.Time
	State      string // ok, warning, error, maintenance or offline
	Metrics    []Metric
	Properties map[string]string
	Events     []Event
}

// Adapter reads a device. Poll is called every interval; it must honour
// ctx and return within it. An adapter reports only what its configuration
// says to collect.
type Adapter interface {
	Poll(ctx context.Context) (Sample, error)
	// LogFiles lists the log files the adapter may upload (absolute paths).
	LogFiles() []string
	Close() error
}

// Kind is what an outbox message is; it decides what may be coalesced or
// dropped when space runs short.
type Kind string

// Message kinds. Heartbeats may be coalesced (only the newest per device
// matters once space is short); the others are never dropped.
const (
	KindHeartbeat Kind = "heartbeat"
	KindAlarms    Kind = "alarms"
	KindResult    Kind = "result"
	KindAudit     Kind = "audit"
)

// Droppable reports whether messages of kind k may be coalesced away.
func (k Kind) Droppable() bool { return k == KindHeartbeat }

// Message is one request waiting in the outbox. Payload is the request
// body element as XML (unsigned: it is signed afresh on every attempt, so
// a message that waited out an outage is not refused as expired); its
// messageId stays the same across attempts, so the server applies it once.
type Message struct {
	Seq       uint64    `json:"seq"` // assigned by the outbox, increasing
	DeviceID  string    `json:"device"`
	Kind      Kind      `json:"kind"`
	Operation string    `json:"op"` // DeviceService operation, e.g. "ReportAlarms"
	MessageID string    `json:"messageId"`
	Created   time.Time `json:"created"`
	Payload   []byte    `json:"payload"`
}

// Outbox is the durable queue between the agent's loops and the network.
type Outbox interface {
	// Put stores m durably (on disk, fsynced) before returning and assigns
	// its Seq. When the outbox is full it first coalesces heartbeats; if
	// the rest alone fill it, Put fails with ErrFull rather than drop any.
	Put(ctx context.Context, m Message) (uint64, error)
	// Pending returns up to n messages of the device, oldest first.
	Pending(deviceID string, n int) ([]Message, error)
	// Ack deletes a message the server acknowledged.
	Ack(seq uint64) error
	// Stats reports how many messages and bytes are held.
	Stats() (messages int, bytes int64)
	// Discard removes a record that cannot be read (Pending failed with a
	// *CorruptError), so the device's messages behind it still go.
	Discard(deviceID string, seq uint64) error
	Close() error
}

// CorruptError is an outbox record that cannot be read back. The sender
// discards it, loudly, rather than let it block every message behind it.
type CorruptError struct {
	Seq    uint64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("outbox record %d cannot be read: %s", e.Seq, e.Reason)
}

// Instruction is a verified instruction from the server.
type Instruction struct {
	ID         string
	Type       string
	Parameters map[string]string
	ExpiresAt  time.Time
}

// Result is an executor's outcome.
type Result struct {
	Status   string // succeeded, failed or rejected
	ExitCode int
	Output   string
	UploadID string
	// Then, if set, runs once the result is durably queued: a restart must
	// not happen before the server is sure to hear that it was asked for.
	Then func()
}

// Executor runs one instruction type.
type Executor interface {
	Execute(ctx context.Context, deviceID string, in Instruction) Result
}

// AuditEvent is one entry of the agent's local audit trail.
type AuditEvent struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`  // "agent", "server", "operator:NAME"
	Action   string    `json:"action"` // e.g. "instruction.run", "instruction.refused"
	Outcome  string    `json:"outcome"`
	Detail   string    `json:"detail,omitempty"`
	PrevHash string    `json:"prev"`
	Hash     string    `json:"hash"`
}

// AuditLog is the agent's local, append-only, hash-chained audit trail.
// The runner also queues every appended event in the outbox, which
// forwards it with ReportAuditEvents.
type AuditLog interface {
	// Append fills Seq, Time (if zero), PrevHash and Hash, writes the
	// event durably and returns it.
	Append(e AuditEvent) (AuditEvent, error)
}
