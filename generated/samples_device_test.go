package generated_test

import (
	"encoding/base64"

	"github.com/rmsproject/rms/generated/device"
)

// sample is one message type with two values: full uses every field with
// realistic values; zero keeps only what the schema requires, with booleans
// false, numbers 0 and lists empty, to prove zero values survive.
type sample struct {
	full, zero any
}

const (
	msgID   = "3f2b8c1e-9d4a-4e7b-8a61-5c0d2e9f7a13"
	sha     = "89ae10ee601ff70e9380675aef8047d99e8b98e34d428455a2227529b5d66022"
	shaFile = "5d41402abc4b2a76b9719d911017c592e3b0c44298fc1c149afbf4c8996fb924"
	sha0    = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func devReq(gateway bool) *device.DeviceRequest {
	r := &device.DeviceRequest{MessageId: msgID, SentAt: at("2026-03-14T09:26:53Z")}
	if gateway {
		r.DeviceId = "dev-0042"
	}
	return r
}

func devResp() *device.DeviceResponse {
	return &device.DeviceResponse{MessageId: msgID}
}

// chunk is base64 text: the generated []byte field carries it verbatim.
var chunk = []byte(base64.StdEncoding.EncodeToString([]byte("2026-03-14T09:38:12Z INFO agent: heartbeat ok (12 ms)\n")))

var deviceSamples = map[string]sample{
	"Heartbeat": {
		full: &device.Heartbeat{
			DeviceRequest: devReq(true),
			State:         ptr(device.HealthStateWarning),
			Metric: []*device.Metric{
				{Name: "cpu", Value: 12.5, Unit: "%"},
				{Name: "temp", Value: -3.25, Unit: "C"},
				{Name: "uptime", Value: 864210, Unit: "s"},
				{Name: "errors", Value: 0},
			},
			Property: []*device.NameValue{
				{Name: "fw", Value: "1.2.3"},
				{Name: "site.note", Value: ""},
			},
		},
		zero: &device.Heartbeat{DeviceRequest: devReq(false), State: ptr(device.HealthStateOk)},
	},
	"HeartbeatResponse": {
		full: &device.HeartbeatResponse{
			DeviceResponse:      devResp(),
			ServerTime:          at("2026-03-14T09:26:53.250Z"),
			NextIntervalSeconds: 60,
			InstructionsPending: true,
		},
		zero: &device.HeartbeatResponse{DeviceResponse: devResp(), ServerTime: at("2026-03-14T09:26:53Z")},
	},
	"ReportAlarms": {
		full: &device.ReportAlarms{
			DeviceRequest: devReq(false),
			Alarm: []*device.Alarm{
				{
					Code: "TEMP_HIGH", Severity: ptr(device.SeverityMajor),
					Text:     "Detector temperature above 45 C",
					RaisedAt: at("2026-03-14T09:27:01Z"),
					Context: []*device.NameValue{
						{Name: "sensor", Value: "detector-1"},
						{Name: "reading", Value: "46.8"},
					},
				},
				{
					Code: "DOOR_OPEN", Severity: ptr(device.SeverityWarning),
					Text:      "Service door open",
					RaisedAt:  at("2026-03-14T08:58:40Z"),
					ClearedAt: at("2026-03-14T09:26:59Z"),
				},
			},
		},
		zero: &device.ReportAlarms{DeviceRequest: devReq(false)},
	},
	"ReportAlarmsResponse": {
		full: &device.ReportAlarmsResponse{DeviceResponse: devResp(), Accepted: 2},
		zero: &device.ReportAlarmsResponse{DeviceResponse: devResp()},
	},
	"RequestInstructions": {
		full: &device.RequestInstructions{DeviceRequest: devReq(true), WaitSeconds: 25, MaxInstructions: 4},
		zero: &device.RequestInstructions{DeviceRequest: devReq(false)},
	},
	"RequestInstructionsResponse": {
		full: &device.RequestInstructionsResponse{
			DeviceResponse: devResp(),
			Instruction: []*device.Instruction{
				{
					Id: "ins-20260314-0007", Type: "RunDiagnostic",
					Parameter: []*device.NameValue{{Name: "suite", Value: "selftest"}},
					ExpiresAt: at("2026-03-15T09:27:00Z"),
				},
				{
					Id: "ins-20260314-0008", Type: "UploadFile",
					Parameter: []*device.NameValue{
						{Name: "path", Value: "/var/log/rms/agent.log"},
						{Name: "compression", Value: "gzip"},
					},
					ExpiresAt: at("2026-03-15T09:27:00Z"),
				},
				{Id: "ins-20260314-0009", Type: "RestartAgent", ExpiresAt: at("2026-03-14T10:00:00Z")},
			},
		},
		zero: &device.RequestInstructionsResponse{DeviceResponse: devResp()},
	},
	"ReportInstructionResult": {
		full: &device.ReportInstructionResult{
			DeviceRequest: devReq(false),
			InstructionId: "ins-20260314-0007",
			Status:        ptr(device.InstructionStatusFailed),
			ExitCode:      3,
			Output:        "selftest: 12 checks, 11 passed\ndetector: FAIL (46.8 C > 45.0 C)\n<end>",
			FinishedAt:    at("2026-03-14T09:31:40Z"),
		},
		zero: &device.ReportInstructionResult{
			DeviceRequest: devReq(false),
			InstructionId: "ins-20260314-0007",
			Status:        ptr(device.InstructionStatusAccepted),
		},
	},
	"ReportInstructionResultResponse": {
		full: &device.ReportInstructionResultResponse{DeviceResponse: devResp(), Cancel: true},
		zero: &device.ReportInstructionResultResponse{DeviceResponse: devResp()},
	},
	"BeginUpload": {
		full: &device.BeginUpload{
			DeviceRequest: devReq(false),
			Name:          "agent-20260314.log.gz",
			Kind:          ptr(device.UploadKindLog),
			Size:          1843200,
			Sha256:        shaFile,
			Compression:   ptr(device.CompressionGzip),
			InstructionId: "ins-20260314-0008",
		},
		zero: &device.BeginUpload{
			DeviceRequest: devReq(false),
			Name:          "empty.audit",
			Kind:          ptr(device.UploadKindAudit),
			Sha256:        sha0,
			Compression:   ptr(device.CompressionNone),
		},
	},
	"BeginUploadResponse": {
		full: &device.BeginUploadResponse{DeviceResponse: devResp(), UploadId: "upl-7f3a9c", NextOffset: 262144, MaxChunkBytes: 262144},
		zero: &device.BeginUploadResponse{DeviceResponse: devResp(), UploadId: "upl-7f3a9c"},
	},
	"UploadChunk": {
		full: &device.UploadChunk{DeviceRequest: devReq(false), UploadId: "upl-7f3a9c", Offset: 262144, Sha256: sha, Data: chunk},
		zero: &device.UploadChunk{DeviceRequest: devReq(false), UploadId: "upl-7f3a9c", Sha256: sha, Data: chunk},
	},
	"UploadChunkResponse": {
		full: &device.UploadChunkResponse{DeviceResponse: devResp(), NextOffset: 262200},
		zero: &device.UploadChunkResponse{DeviceResponse: devResp()},
	},
	"CommitUpload": {
		full: &device.CommitUpload{DeviceRequest: devReq(true), UploadId: "upl-7f3a9c"},
		zero: &device.CommitUpload{DeviceRequest: devReq(false), UploadId: "upl-7f3a9c"},
	},
	"CommitUploadResponse": {
		full: &device.CommitUploadResponse{DeviceResponse: devResp(), Size: 1843200, Sha256: shaFile},
		zero: &device.CommitUploadResponse{DeviceResponse: devResp(), Sha256: sha0},
	},
	"ReportAuditEvents": {
		full: &device.ReportAuditEvents{
			DeviceRequest: devReq(false),
			Event: []*device.AuditEvent{
				{
					Sequence: 0, Time: at("2026-03-14T09:00:00Z"), Actor: "agent", Action: "agent.start",
					Outcome: ptr(device.AuditOutcomeSuccess), Hash: shaFile,
				},
				{
					Sequence: 1, Time: at("2026-03-14T09:31:02Z"), Actor: "technician:t.meyer", Action: "session.open",
					Outcome: ptr(device.AuditOutcomeDenied), Detail: "remote session refused: no approval",
					PrevHash: shaFile, Hash: sha,
				},
			},
		},
		zero: &device.ReportAuditEvents{DeviceRequest: devReq(false)},
	},
	"ReportAuditEventsResponse": {
		full: &device.ReportAuditEventsResponse{DeviceResponse: devResp(), LastSequence: 1},
		zero: &device.ReportAuditEventsResponse{DeviceResponse: devResp()},
	},
	"FaultDetail": {
		full: &device.FaultDetail{
			Code: ptr(device.FaultCodeUNAVAILABLE), Retryable: true, RetryAfterSeconds: 30,
			Message: "store unavailable, retry later",
		},
		zero: &device.FaultDetail{Code: ptr(device.FaultCodeBAD_SIGNATURE)},
	},
}
