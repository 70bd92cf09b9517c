package soapclient

import (
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/rmsproject/rms/generated/device"
)

// The DeviceService types, re-exported. The layout rules let only
// soapclient (besides the server's SOAP adapter and cmd/) import
// generated/, so the agent builds its requests from these aliases: they
// are the generated types themselves, not copies.
type (
	HealthState                     = device.HealthState
	Severity                        = device.Severity
	InstructionStatus               = device.InstructionStatus
	UploadKind                      = device.UploadKind
	Compression                     = device.Compression
	AuditOutcome                    = device.AuditOutcome
	Heartbeat                       = device.Heartbeat
	HeartbeatResponse               = device.HeartbeatResponse
	ReportAlarms                    = device.ReportAlarms
	ReportAlarmsResponse            = device.ReportAlarmsResponse
	RequestInstructions             = device.RequestInstructions
	RequestInstructionsResponse     = device.RequestInstructionsResponse
	ReportInstructionResult         = device.ReportInstructionResult
	ReportInstructionResultResponse = device.ReportInstructionResultResponse
	BeginUpload                     = device.BeginUpload
	BeginUploadResponse             = device.BeginUploadResponse
	UploadChunk                     = device.UploadChunk
	UploadChunkResponse             = device.UploadChunkResponse
	CommitUpload                    = device.CommitUpload
	CommitUploadResponse            = device.CommitUploadResponse
	ReportAuditEvents               = device.ReportAuditEvents
	ReportAuditEventsResponse       = device.ReportAuditEventsResponse
	DeviceRequest                   = device.DeviceRequest
	DeviceResponse                  = device.DeviceResponse
	Metric                          = device.Metric
	NameValue                       = device.NameValue
	Alarm                           = device.Alarm
	Instruction                     = device.Instruction
	AuditEvent                      = device.AuditEvent
)

// The DeviceService enumerations' values.
const (
	HealthStateOk              = device.HealthStateOk
	HealthStateWarning         = device.HealthStateWarning
	HealthStateError           = device.HealthStateError
	HealthStateMaintenance     = device.HealthStateMaintenance
	HealthStateOffline         = device.HealthStateOffline
	SeverityCritical           = device.SeverityCritical
	SeverityMajor              = device.SeverityMajor
	SeverityMinor              = device.SeverityMinor
	SeverityWarning            = device.SeverityWarning
	SeverityInfo               = device.SeverityInfo
	InstructionStatusAccepted  = device.InstructionStatusAccepted
	InstructionStatusRunning   = device.InstructionStatusRunning
	InstructionStatusSucceeded = device.InstructionStatusSucceeded
	InstructionStatusFailed    = device.InstructionStatusFailed
	InstructionStatusRejected  = device.InstructionStatusRejected
	UploadKindLog              = device.UploadKindLog
	UploadKindAudit            = device.UploadKindAudit
	UploadKindDiagnostic       = device.UploadKindDiagnostic
	CompressionNone            = device.CompressionNone
	CompressionGzip            = device.CompressionGzip
	AuditOutcomeSuccess        = device.AuditOutcomeSuccess
	AuditOutcomeFailure        = device.AuditOutcomeFailure
	AuditOutcomeDenied         = device.AuditOutcomeDenied
)

// DateTime is the generated types' xsd:dateTime.
type DateTime = soap.XSDDateTime

// NewDateTime returns t as an xsd:dateTime in UTC with whole seconds, the
// form the schemas expect and the smallest on the wire. A zero t gives the
// zero DateTime, which the generated types leave out of the message.
func NewDateTime(t time.Time) DateTime {
	if t.IsZero() {
		return DateTime{}
	}
	return soap.CreateXsdDateTime(t.UTC().Truncate(time.Second), true)
}
