package server

import (
	"context"
	"time"
)

// Store is everything the server keeps. sqlstore implements it on
// PostgreSQL and on SQLite, and one contract suite holds both to it.
//
// Every method that takes a MessageRef applies its effect and records the
// message id in one transaction: a repeat of (DeviceID, MessageID) changes
// nothing and returns what the first call returned, across restarts and
// replicas. Errors are *Error with a Code; store failures are
// CodeUnavailable, so devices retry.
type Store interface {
	DeviceStore
	HeartbeatStore
	AlarmStore
	InstructionStore
	UploadStore
	AuditStore
	UserStore
	ReplayStore

	// Ping reports whether the store is reachable and fully migrated.
	Ping(ctx context.Context) error
	// Housekeep marks expired instructions and drops replay and message
	// records past their retention; it returns the number of instructions
	// it expired.
	Housekeep(ctx context.Context, now time.Time) (expired int, err error)
	Close() error
}

// DeviceStore keeps the device registry and each device's latest status.
type DeviceStore interface {
	// AdmitDevice is called for every verified device request. It returns
	// the device, registering it first when it is unknown and register is
	// true (CodeUnknownDevice when it is unknown and register is false). It
	// records the certificate facts when they changed, and refuses a
	// revoked certificate serial with CodeForbidden.
	AdmitDevice(ctx context.Context, id Identity, register bool, now time.Time) (*Device, error)
	// RegisterDevice pre-registers a device (CodeConflict if it exists).
	RegisterDevice(ctx context.Context, d Device, now time.Time) error
	// RevokeCertificate refuses the serial (hex) from now on.
	RevokeCertificate(ctx context.Context, serial, reason string, now time.Time) error
	// WatchRevocations calls fn with every serial revoked from now on, here
	// or on another replica, so caches of admitted devices drop it at once;
	// "" means notifications may have been missed and every cached
	// admission should go.
	WatchRevocations(fn func(serial string)) (stop func())
	GetDevice(ctx context.Context, id string) (*Device, error)
	ListDevices(ctx context.Context, f DeviceFilter, p Page) ([]Device, string, error)
	DeviceHistory(ctx context.Context, f HistoryFilter, p Page) ([]HistoryEntry, string, error)
}

// DeviceFilter selects devices; empty fields match everything. Search
// matches a substring of the id or display name.
type DeviceFilter struct {
	Customer, Site string
	State          HealthState
	Search         string
}

// HistoryFilter selects one device's heartbeats, oldest first, with
// From <= Time < To (zero bounds are open).
type HistoryFilter struct {
	DeviceID string
	From, To time.Time
}

// HeartbeatStore writes heartbeats in batches.
type HeartbeatStore interface {
	// WriteHeartbeats stores the batch in one transaction and returns one
	// ack per heartbeat, in order. A new heartbeat updates its device's
	// status (state, last seen, latest metrics, merged properties) and
	// appends a history entry; a repeated (DeviceID, MessageID) is skipped
	// and acked with Duplicate. A heartbeat carrying a Replay key already
	// recorded is skipped and acked with Replayed; its key is recorded in
	// the same transaction otherwise. Every ack carries the device's
	// interval and whether instructions wait for it. The device must have
	// been admitted.
	WriteHeartbeats(ctx context.Context, batch []Heartbeat) ([]HeartbeatAck, error)
}

// AlarmStore keeps alarms and their lifecycle.
type AlarmStore interface {
	// ReportAlarms applies a device's alarm reports and returns how many it
	// accepted. A report for a code already active (or acknowledged) on the
	// device is accepted but not stored twice; a report with ClearedAt
	// clears that code's open alarm (ClearedBy "device").
	ReportAlarms(ctx context.Context, ref MessageRef, alarms []AlarmReport, now time.Time) (accepted int, err error)
	GetAlarm(ctx context.Context, id string) (*Alarm, error)
	ListAlarms(ctx context.Context, f AlarmFilter, p Page) ([]Alarm, string, error)
	// AcknowledgeAlarm moves an active alarm to acknowledged (CodeConflict
	// from any other state).
	AcknowledgeAlarm(ctx context.Context, id, user, comment string, now time.Time) (*Alarm, error)
	// ClearAlarm clears an active or acknowledged alarm (CodeConflict when
	// it is already cleared).
	ClearAlarm(ctx context.Context, id, user, comment string, now time.Time) (*Alarm, error)
}

// AlarmFilter selects alarms, newest first.
type AlarmFilter struct {
	DeviceID    string
	State       AlarmState
	MinSeverity Severity
	Since       time.Time // raised at or after
}

// InstructionStore keeps the instruction queue.
type InstructionStore interface {
	// QueueInstruction queues an instruction for a known device
	// (CodeNotFound otherwise) and wakes its waiting polls on every
	// replica. A repeated RequestID returns the first instruction.
	QueueInstruction(ctx context.Context, in NewInstruction, now time.Time) (*Instruction, error)
	GetInstruction(ctx context.Context, id string) (*Instruction, error)
	ListInstructions(ctx context.Context, f InstructionFilter, p Page) ([]Instruction, string, error)
	// ClaimInstructions hands out up to max queued, unexpired instructions
	// of the device, oldest first, marking them delivered; each is handed
	// out once even with several replicas. Expired ones are marked expired
	// on the way. A repeated MessageRef returns the first answer.
	ClaimInstructions(ctx context.Context, ref MessageRef, max int, now time.Time) ([]Instruction, error)
	// ClaimedBefore reports whether ClaimInstructions already answered ref,
	// so a repeated poll is answered from the record at once instead of
	// waiting for work that was already handed out.
	ClaimedBefore(ctx context.Context, ref MessageRef) (bool, error)
	// HasPendingInstructions reports whether queued, unexpired instructions
	// wait for the device.
	HasPendingInstructions(ctx context.Context, deviceID string, now time.Time) (bool, error)
	// ReportInstructionResult records a device's result on one of its own
	// instructions (CodeNotFound for another device's or an unknown one;
	// CodeConflict once it is final). It returns true when the operator
	// cancelled the instruction, so the device should stop.
	ReportInstructionResult(ctx context.Context, ref MessageRef, r InstructionResult, now time.Time) (cancel bool, err error)
	// CancelInstruction cancels an instruction that is not final yet
	// (CodeNotFound for an unknown one, CodeConflict once it is final):
	// it is no longer handed out, and a device that reports on it
	// afterwards is told to stop.
	CancelInstruction(ctx context.Context, id string, now time.Time) (*Instruction, error)
	// WatchInstructions returns a channel that receives a value whenever an
	// instruction is queued for the device, here or on another replica,
	// until stop is called. It holds no database connection of its own.
	WatchInstructions(deviceID string) (wake <-chan struct{}, stop func())
}

// InstructionFilter selects instructions, newest first.
type InstructionFilter struct {
	DeviceID string
	Status   InstructionStatus
}

// UploadStore keeps upload metadata; the bytes live in files (see uploads).
type UploadStore interface {
	// BeginUpload starts an upload, or resumes the device's unfinished one
	// with the same name, size and SHA-256, returning it with Received at
	// the last durable offset.
	BeginUpload(ctx context.Context, ref MessageRef, u NewUpload, now time.Time) (*Upload, error)
	GetUpload(ctx context.Context, id string) (*Upload, error)
	// AdvanceUpload moves Received from `from` to `to` (CodeConflict if
	// Received is not `from` or the upload is not receiving).
	AdvanceUpload(ctx context.Context, id string, from, to int64) error
	// FinishUpload marks the upload committed or failed.
	FinishUpload(ctx context.Context, id string, state UploadState, now time.Time) (*Upload, error)
	ListUploads(ctx context.Context, f UploadFilter, p Page) ([]Upload, string, error)
}

// UploadFilter selects uploads, newest first.
type UploadFilter struct {
	DeviceID string
	Kind     UploadKind
	State    UploadState
}

// AuditStore keeps the hash-chained audit trail.
type AuditStore interface {
	// AppendAudit appends entries in order in one transaction, chaining
	// each to the one before (see AuditHash); replicas append to one chain.
	AppendAudit(ctx context.Context, entries []AuditEntry) ([]AuditRecord, error)
	// AppendDeviceAudit appends a device's forwarded audit events once per
	// MessageRef, and returns the number appended by the first call.
	AppendDeviceAudit(ctx context.Context, ref MessageRef, entries []AuditEntry) (int, error)
	// QueryAudit lists records, newest first.
	QueryAudit(ctx context.Context, f AuditFilter, p Page) ([]AuditRecord, string, error)
	// ScanAudit calls fn for every record with Sequence >= from, in
	// sequence order, stopping at fn's first error.
	ScanAudit(ctx context.Context, from int64, fn func(AuditRecord) error) error
}

// AuditFilter selects audit records; empty fields match everything.
type AuditFilter struct {
	From, To              time.Time
	Actor, Action, Target string
}

// UserStore keeps operator accounts.
type UserStore interface {
	// CreateUser adds a user (CodeConflict if the name is taken).
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, name string) (*User, error)
	CountUsers(ctx context.Context) (int, error)
}

// ReplayRecord is one signed message's replay key and how long to keep it.
type ReplayRecord struct {
	Key   string
	Until time.Time
}

// ReplayStore remembers signed messages across restarts and replicas.
type ReplayStore interface {
	// RecordReplays records each key and reports, per key in order,
	// whether it was already recorded (a replay).
	RecordReplays(ctx context.Context, records []ReplayRecord) ([]bool, error)
}
