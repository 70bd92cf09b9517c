package server

import (
	"context"
	"time"
)

// The services below sit between the SOAP adapter and the Store where more
// than one store call or a file is involved. Store sub-interfaces are
// services too where a single call does the work (alarms, devices, audit
// queries), so the adapter takes those straight from the Store.

// Ingest accepts heartbeats. Heartbeat returns only after the heartbeat is
// durably stored (it may wait for a batch to be written).
type Ingest interface {
	Heartbeat(ctx context.Context, hb Heartbeat) (HeartbeatAck, error)
}

// Auditor appends audit entries to the hash chain. Record returns only after
// the entry is durably stored.
type Auditor interface {
	Record(ctx context.Context, e AuditEntry) error
}

// InstructionPoller hands instructions to devices, waiting for new ones.
type InstructionPoller interface {
	// Poll returns up to max instructions for the device, waiting up to
	// wait for one to be queued when none are pending. A repeated
	// MessageRef returns the first answer.
	Poll(ctx context.Context, ref MessageRef, max int, wait time.Duration) ([]Instruction, error)
}

// Uploads receives device files in chunks and serves them to operators.
type Uploads interface {
	// Begin starts or resumes an upload; the returned Upload's Received is
	// where the device continues. maxChunk is the largest chunk accepted.
	Begin(ctx context.Context, ref MessageRef, u NewUpload) (up *Upload, maxChunk int, err error)
	// Chunk appends data at offset (which must be the upload's Received)
	// after checking its SHA-256 (hex), and returns the next offset once
	// the data is durable.
	Chunk(ctx context.Context, deviceID, uploadID string, offset int64, sha256Hex string, data []byte) (next int64, err error)
	// Commit checks size and whole-file SHA-256 (and, for gzip, that the
	// content decompresses), and marks the upload committed.
	Commit(ctx context.Context, deviceID, uploadID string) (*Upload, error)
	// Read returns up to length bytes of a committed upload's content from
	// offset, and whether that reaches the end.
	Read(ctx context.Context, uploadID string, offset int64, length int) (data []byte, eof bool, up *Upload, err error)
}

// Authenticator checks operator credentials and permissions. Every
// management operation passes through Authorize, the one place that
// decides who may do what.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (*User, error)
	Authorize(u *User, action string) error
}
