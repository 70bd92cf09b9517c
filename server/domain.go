package server

import "time"

// HealthState is a device's self-reported condition.
type HealthState string

// Health states, as in the device WSDL.
const (
	StateOK          HealthState = "ok"
	StateWarning     HealthState = "warning"
	StateError       HealthState = "error"
	StateMaintenance HealthState = "maintenance"
	StateOffline     HealthState = "offline"
)

// Severity of an alarm, most severe first.
type Severity string

// Severities, as in the device WSDL.
const (
	SeverityCritical Severity = "critical"
	SeverityMajor    Severity = "major"
	SeverityMinor    Severity = "minor"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// Rank orders severities: critical is 5, info is 1, anything unknown 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 5
	case SeverityMajor:
		return 4
	case SeverityMinor:
		return 3
	case SeverityWarning:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// AlarmState is where an alarm is in its lifecycle:
// active → acknowledged → cleared, or active → cleared.
type AlarmState string

// Alarm states.
const (
	AlarmActive       AlarmState = "active"
	AlarmAcknowledged AlarmState = "acknowledged"
	AlarmCleared      AlarmState = "cleared"
)

// InstructionStatus is where an instruction is in its lifecycle. queued →
// delivered (handed to the device) → accepted/running → succeeded, failed or
// rejected; queued may become expired (a delivered one is the device's to
// finish, and its result is kept however late); queued may be cancelled.
type InstructionStatus string

// Instruction statuses.
const (
	InstructionQueued    InstructionStatus = "queued"
	InstructionDelivered InstructionStatus = "delivered"
	InstructionAccepted  InstructionStatus = "accepted"
	InstructionRunning   InstructionStatus = "running"
	InstructionSucceeded InstructionStatus = "succeeded"
	InstructionFailed    InstructionStatus = "failed"
	InstructionRejected  InstructionStatus = "rejected"
	InstructionExpired   InstructionStatus = "expired"
	InstructionCancelled InstructionStatus = "cancelled"
)

// Final reports whether no further report can change the status.
func (s InstructionStatus) Final() bool {
	switch s {
	case InstructionSucceeded, InstructionFailed, InstructionRejected, InstructionExpired, InstructionCancelled:
		return true
	}
	return false
}

// UploadKind says what an uploaded file is.
type UploadKind string

// Upload kinds.
const (
	UploadLog        UploadKind = "log"
	UploadAudit      UploadKind = "audit"
	UploadDiagnostic UploadKind = "diagnostic"
)

// UploadState is where an upload is.
type UploadState string

// Upload states.
const (
	UploadReceiving UploadState = "receiving"
	UploadCommitted UploadState = "committed"
	UploadFailed    UploadState = "failed"
)

// Compression of an upload's bytes on the wire and on disk.
type Compression string

// Compressions.
const (
	CompressionNone Compression = "none"
	CompressionGzip Compression = "gzip"
)

// AuditOutcome is how an audited action ended.
type AuditOutcome string

// Audit outcomes.
const (
	OutcomeSuccess AuditOutcome = "success"
	OutcomeFailure AuditOutcome = "failure"
	OutcomeDenied  AuditOutcome = "denied"
)

// Attr is a name/value pair: a device property, an alarm's context, an
// instruction parameter.
type Attr struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Metric is one numeric sample.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Identity is what the device pipeline proved about a caller: the device id
// (certificate CN) and facts of the certificate it signed with.
type Identity struct {
	DeviceID      string
	CertSubject   string
	CertSerial    string // hex, lower case
	CertExpiresAt time.Time
}

// Device is a managed device and its latest known status.
type Device struct {
	ID                string
	DisplayName       string
	Customer          string
	Site              string
	Model             string
	GatewayID         string
	AgentVersion      string
	CertSubject       string
	CertSerial        string
	CertExpiresAt     time.Time
	State             HealthState // "" until the first heartbeat
	LastSeen          time.Time   // zero until the first heartbeat
	HeartbeatInterval int         // seconds the device is told to wait between heartbeats; 0: its own choice
	Metrics           []Metric    // from the latest heartbeat
	Properties        []Attr      // merged: a heartbeat carries only changed properties
	OpenAlarms        int         // active or acknowledged
	CreatedAt         time.Time
}

// MessageRef names one device request: the idempotency key is
// (DeviceID, MessageID).
type MessageRef struct {
	DeviceID  string
	MessageID string
	SentAt    time.Time
}

// Heartbeat is one periodic status report.
type Heartbeat struct {
	MessageRef
	ReceivedAt time.Time
	State      HealthState
	Metrics    []Metric
	Properties []Attr // only the ones that changed since the last heartbeat
	// Replay, when its Key is set, is the signed message's replay record:
	// the store records it in the heartbeat's own transaction and skips
	// the heartbeat if it was recorded before.
	Replay ReplayRecord
}

// HeartbeatAck is the answer to a heartbeat.
type HeartbeatAck struct {
	Replayed  bool // the replay key was recorded before; nothing was written
	Duplicate bool // the message id was applied before; nothing was written
	// IntervalSeconds is the interval an operator set for the device, or 0
	// when none is set and the device keeps its own (60 s by default).
	IntervalSeconds     int
	InstructionsPending bool
}

// HistoryEntry is one stored heartbeat.
type HistoryEntry struct {
	Time       time.Time // the device's sentAt
	State      HealthState
	Metrics    []Metric
	Properties []Attr
}

// AlarmReport is an alarm as a device reports it. A report with ClearedAt set
// clears the active alarm with that code.
type AlarmReport struct {
	Code      string
	Severity  Severity
	Text      string
	RaisedAt  time.Time
	ClearedAt time.Time
	Context   []Attr
}

// Alarm is a stored alarm with its lifecycle.
type Alarm struct {
	ID             string
	DeviceID       string
	Code           string
	Severity       Severity
	Text           string
	State          AlarmState
	RaisedAt       time.Time
	ClearedAt      time.Time
	AcknowledgedBy string
	AcknowledgedAt time.Time
	ClearedBy      string // "device" when the device cleared it, else the operator
	Comment        string
	Context        []Attr
}

// NewInstruction is an operator's request to queue work for a device.
type NewInstruction struct {
	DeviceID   string
	Type       string
	Parameters []Attr
	TTL        time.Duration // default DefaultInstructionTTL, at most MaxInstructionTTL
	RequestID  string        // optional; queueing the same RequestID again returns the first instruction
	CreatedBy  string
}

// Instruction is a queued or finished instruction.
type Instruction struct {
	ID         string
	DeviceID   string
	Type       string
	Parameters []Attr
	Status     InstructionStatus
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UpdatedAt  time.Time
	ExitCode   int
	Output     string
	FinishedAt time.Time
	UploadID   string // an upload the device made while executing it
}

// InstructionResult is a device's report on an instruction.
type InstructionResult struct {
	InstructionID string
	Status        InstructionStatus // accepted, running, succeeded, failed or rejected
	ExitCode      int
	Output        string
	FinishedAt    time.Time
}

// NewUpload is a device's request to start (or resume) an upload.
type NewUpload struct {
	Name          string
	Kind          UploadKind
	Size          int64 // bytes as sent (compressed, if Compression is gzip)
	SHA256        string
	Compression   Compression
	InstructionID string
}

// Upload is a stored upload's metadata. Received is the last durable offset.
type Upload struct {
	ID            string
	DeviceID      string
	Name          string
	Kind          UploadKind
	State         UploadState
	Size          int64
	Received      int64
	SHA256        string
	Compression   Compression
	InstructionID string
	CreatedAt     time.Time
	CommittedAt   time.Time
}

// AuditEntry is an audit record before it is appended.
type AuditEntry struct {
	Time    time.Time
	Actor   string // "device:ID", "user:NAME" or "system"
	Action  string // e.g. "device.Heartbeat", "alarm.acknowledge", "server.start"
	Target  string // what was acted on, e.g. a device or alarm id
	Outcome AuditOutcome
	Code    Code   // the fault code for failures and denials
	Detail  string // short, caller-safe
}

// AuditRecord is an appended audit entry with its place in the hash chain:
// Hash = SHA-256 over PrevHash and the entry's canonical form (see
// AuditHash).
type AuditRecord struct {
	AuditEntry
	Sequence int64
	PrevHash string
	Hash     string
}

// User is an operator account.
type User struct {
	Name         string
	Role         string // "admin" for now
	PasswordHash string // PHC-formatted argon2id
	CreatedAt    time.Time
}

// RoleAdmin is the only role so far; it may do everything.
const RoleAdmin = "admin"

// Page asks for one page of a listing. Token is opaque; "" starts at the
// beginning.
type Page struct {
	Limit int // 1..MaxPageSize; 0 means DefaultPageSize
	Token string
}

// Paging limits.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// Instruction time limits.
const (
	DefaultInstructionTTL = 24 * time.Hour
	MaxInstructionTTL     = 30 * 24 * time.Hour
)
