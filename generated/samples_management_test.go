package generated_test

import (
	"github.com/rmsproject/rms/generated/management"
)

func summary() *management.DeviceSummary {
	return &management.DeviceSummary{
		DeviceId: "dev-0001", DisplayName: "CT scanner, room 2", Customer: "St. Elsewhere Hospital",
		Site: "Main campus", Model: "Aquila CT 128", State: ptr(management.HealthStateWarning),
		LastSeen: at("2026-03-14T09:26:53Z"), OpenAlarms: 1,
	}
}

func minimalSummary() *management.DeviceSummary {
	return &management.DeviceSummary{DeviceId: "dev-0002", State: ptr(management.HealthStateOffline)}
}

func alarm() *management.Alarm {
	return &management.Alarm{
		AlarmId: "alm-000913", DeviceId: "dev-0001", Code: "TEMP_HIGH", Severity: ptr(management.SeverityMajor),
		Text: "Detector temperature above 45 C", State: ptr(management.AlarmStateAcknowledged),
		RaisedAt: at("2026-03-14T09:27:01Z"), AcknowledgedBy: "a.operator", AcknowledgedAt: at("2026-03-14T09:30:00Z"),
		Comment: "Engineer on site at 11:00",
		Context: []*management.NameValue{{Name: "sensor", Value: "detector-1"}, {Name: "reading", Value: "46.8"}},
	}
}

func clearedAlarm() *management.Alarm {
	return &management.Alarm{
		AlarmId: "alm-000914", DeviceId: "dev-0001", Code: "DOOR_OPEN", Severity: ptr(management.SeverityWarning),
		Text: "Service door open", State: ptr(management.AlarmStateCleared),
		RaisedAt: at("2026-03-14T08:58:40Z"), ClearedAt: at("2026-03-14T09:26:59Z"), ClearedBy: "b.engineer",
	}
}

func instruction() *management.Instruction {
	return &management.Instruction{
		InstructionId: "ins-20260314-0007", DeviceId: "dev-0001", Type: "RunDiagnostic",
		Parameter: []*management.NameValue{{Name: "suite", Value: "selftest"}},
		Status:    ptr(management.InstructionStatusFailed), CreatedBy: "a.operator",
		CreatedAt: at("2026-03-14T09:27:00Z"), ExpiresAt: at("2026-03-15T09:27:00Z"),
		UpdatedAt: at("2026-03-14T09:31:42Z"), ExitCode: 3, Output: "detector: FAIL (46.8 C > 45.0 C)",
	}
}

func queuedInstruction() *management.Instruction {
	return &management.Instruction{
		InstructionId: "ins-20260314-0009", DeviceId: "dev-0001", Type: "RestartAgent",
		Status: ptr(management.InstructionStatusQueued), CreatedBy: "a.operator",
		CreatedAt: at("2026-03-14T09:40:00Z"), ExpiresAt: at("2026-03-15T09:40:00Z"),
	}
}

func upload() *management.Upload {
	return &management.Upload{
		UploadId: "upl-7f3a9c", DeviceId: "dev-0001", Name: "agent-20260314.log.gz",
		Kind: ptr(management.UploadKindLog), State: ptr(management.UploadStateCommitted),
		Size: 1843200, Received: 1843200, Sha256: shaFile, Compression: ptr(management.CompressionGzip),
		CreatedAt: at("2026-03-14T09:40:00Z"), CommittedAt: at("2026-03-14T09:41:17Z"),
		InstructionId: "ins-20260314-0008",
	}
}

var managementSamples = map[string]sample{
	"ListDevices": {
		full: &management.ListDevices{
			Customer: "St. Elsewhere Hospital", Site: "Main campus", State: ptr(management.HealthStateWarning),
			Search: "CT", Limit: 100, PageToken: "eyJhZnRlciI6ImRldi0wMTAwIn0",
		},
		zero: &management.ListDevices{},
	},
	"ListDevicesResponse": {
		full: &management.ListDevicesResponse{
			Device:        []*management.DeviceSummary{summary(), minimalSummary()},
			NextPageToken: "eyJhZnRlciI6ImRldi0wMDAyIn0",
		},
		zero: &management.ListDevicesResponse{},
	},
	"GetDevice": {
		full: &management.GetDevice{DeviceId: "dev-0001"},
		zero: &management.GetDevice{DeviceId: "dev-0002"},
	},
	"GetDeviceResponse": {
		full: &management.GetDeviceResponse{Device: &management.Device{
			Summary: summary(), GatewayId: "gw-0001", AgentVersion: "0.9.0",
			CertificateSubject: "CN=dev-0001,O=RMS Devices", CertificateExpiresAt: at("2027-03-14T00:00:00Z"),
			HeartbeatIntervalSeconds: 60,
			Metric: []*management.Metric{
				{Name: "cpu", Value: 12.5, Unit: "%"}, {Name: "errors"},
			},
			Property: []*management.NameValue{{Name: "fw", Value: "1.2.3"}, {Name: "serial", Value: "AQ-128-00417"}},
		}},
		zero: &management.GetDeviceResponse{Device: &management.Device{Summary: minimalSummary()}},
	},
	"GetDeviceHistory": {
		full: &management.GetDeviceHistory{
			DeviceId: "dev-0001", From: at("2026-03-13T00:00:00Z"), To: at("2026-03-14T00:00:00Z"),
			Limit: 500, PageToken: "eyJiZWZvcmUiOjE3NzM0NDAwMDB9",
		},
		zero: &management.GetDeviceHistory{DeviceId: "dev-0001"},
	},
	"GetDeviceHistoryResponse": {
		full: &management.GetDeviceHistoryResponse{
			Entry: []*management.HistoryEntry{
				{
					Time: at("2026-03-14T09:26:53Z"), State: ptr(management.HealthStateOk),
					Metric:   []*management.Metric{{Name: "cpu", Value: 12.5, Unit: "%"}, {Name: "queue", Value: 0}},
					Property: []*management.NameValue{{Name: "fw", Value: "1.2.3"}},
				},
				{Time: at("2026-03-14T09:25:53Z"), State: ptr(management.HealthStateMaintenance)},
			},
			NextPageToken: "eyJiZWZvcmUiOjE3NzM0ODAzNTN9",
		},
		zero: &management.GetDeviceHistoryResponse{},
	},
	"RegisterDevice": {
		full: &management.RegisterDevice{
			DeviceId: "dev-0042", DisplayName: "Analyser, lab 3", Customer: "St. Elsewhere Hospital",
			Site: "Main campus", Model: "Lyra 9",
		},
		zero: &management.RegisterDevice{DeviceId: "dev-0043"},
	},
	"RegisterDeviceResponse": {
		full: &management.RegisterDeviceResponse{Device: &management.Device{
			Summary: &management.DeviceSummary{
				DeviceId: "dev-0042", DisplayName: "Analyser, lab 3", Customer: "St. Elsewhere Hospital",
				Site: "Main campus", Model: "Lyra 9", State: ptr(management.HealthStateOffline),
			},
		}},
		zero: &management.RegisterDeviceResponse{Device: &management.Device{
			Summary: &management.DeviceSummary{DeviceId: "dev-0043", State: ptr(management.HealthStateOffline)},
		}},
	},
	"RevokeCertificate": {
		full: &management.RevokeCertificate{Serial: "0B7F3A9C2E41D6", Reason: "key compromise: device stolen"},
		zero: &management.RevokeCertificate{Serial: "b7f3a9c2e41d6"},
	},
	"RevokeCertificateResponse": {
		full: &management.RevokeCertificateResponse{Serial: "b7f3a9c2e41d6"},
		zero: &management.RevokeCertificateResponse{Serial: "0"},
	},
	"ListAlarms": {
		full: &management.ListAlarms{
			DeviceId: "dev-0001", State: ptr(management.AlarmStateActive), MinSeverity: ptr(management.SeverityMinor),
			Since: at("2026-03-01T00:00:00Z"), Limit: 50, PageToken: "eyJhZnRlciI6ImFsbS0wMDA5MDAifQ",
		},
		zero: &management.ListAlarms{},
	},
	"ListAlarmsResponse": {
		full: &management.ListAlarmsResponse{Alarm: []*management.Alarm{alarm(), clearedAlarm()}, NextPageToken: "eyJhZnRlciI6ImFsbS0wMDA5MTQifQ"},
		zero: &management.ListAlarmsResponse{},
	},
	"AcknowledgeAlarm": {
		full: &management.AcknowledgeAlarm{AlarmId: "alm-000913", Comment: "Engineer on site at 11:00"},
		zero: &management.AcknowledgeAlarm{AlarmId: "alm-000913"},
	},
	"AcknowledgeAlarmResponse": {
		full: &management.AcknowledgeAlarmResponse{Alarm: alarm()},
		zero: &management.AcknowledgeAlarmResponse{Alarm: &management.Alarm{
			AlarmId: "alm-000915", DeviceId: "dev-0003", Code: "E0", Severity: ptr(management.SeverityInfo),
			Text: "x", State: ptr(management.AlarmStateAcknowledged), RaisedAt: at("2026-03-14T09:00:00Z"),
		}},
	},
	"ClearAlarm": {
		full: &management.ClearAlarm{AlarmId: "alm-000914", Comment: "Door closed by site staff"},
		zero: &management.ClearAlarm{AlarmId: "alm-000914"},
	},
	"ClearAlarmResponse": {
		full: &management.ClearAlarmResponse{Alarm: clearedAlarm()},
		zero: &management.ClearAlarmResponse{Alarm: &management.Alarm{
			AlarmId: "alm-000916", DeviceId: "dev-0003", Code: "E0", Severity: ptr(management.SeverityCritical),
			Text: "x", State: ptr(management.AlarmStateCleared), RaisedAt: at("2026-03-14T09:00:00Z"),
		}},
	},
	"QueueInstruction": {
		full: &management.QueueInstruction{
			DeviceId: "dev-0001", Type: "SetHeartbeatInterval",
			Parameter:  []*management.NameValue{{Name: "seconds", Value: "30"}},
			TtlSeconds: 3600, RequestId: "rmsctl-6a1f0c",
		},
		zero: &management.QueueInstruction{DeviceId: "dev-0001", Type: "RestartAgent"},
	},
	"QueueInstructionResponse": {
		full: &management.QueueInstructionResponse{Instruction: instruction()},
		zero: &management.QueueInstructionResponse{Instruction: queuedInstruction()},
	},
	"GetInstruction": {
		full: &management.GetInstruction{InstructionId: "ins-20260314-0007"},
		zero: &management.GetInstruction{InstructionId: "ins-20260314-0009"},
	},
	"GetInstructionResponse": {
		full: &management.GetInstructionResponse{Instruction: instruction()},
		zero: &management.GetInstructionResponse{Instruction: queuedInstruction()},
	},
	"ListInstructions": {
		full: &management.ListInstructions{
			DeviceId: "dev-0001", Status: ptr(management.InstructionStatusRunning), Limit: 20, PageToken: "eyJwIjoyfQ",
		},
		zero: &management.ListInstructions{},
	},
	"ListInstructionsResponse": {
		full: &management.ListInstructionsResponse{
			Instruction:   []*management.Instruction{instruction(), queuedInstruction()},
			NextPageToken: "eyJwIjozfQ",
		},
		zero: &management.ListInstructionsResponse{},
	},
	"CancelInstruction": {
		full: &management.CancelInstruction{InstructionId: "ins-20260314-0009"},
		zero: &management.CancelInstruction{InstructionId: "i"},
	},
	"CancelInstructionResponse": {
		full: &management.CancelInstructionResponse{Instruction: &management.Instruction{
			InstructionId: "ins-20260314-0009", DeviceId: "dev-0001", Type: "RestartAgent",
			Parameter: []*management.NameValue{{Name: "grace", Value: ""}},
			Status:    ptr(management.InstructionStatusCancelled), CreatedBy: "a.operator",
			CreatedAt: at("2026-03-14T09:40:00Z"), ExpiresAt: at("2026-03-15T09:40:00Z"),
			UpdatedAt: at("2026-03-14T09:42:10Z"),
		}},
		zero: &management.CancelInstructionResponse{Instruction: queuedInstruction()},
	},
	"ListUploads": {
		full: &management.ListUploads{
			DeviceId: "dev-0001", Kind: ptr(management.UploadKindDiagnostic), State: ptr(management.UploadStateReceiving),
			Limit: 10, PageToken: "eyJwIjoyfQ",
		},
		zero: &management.ListUploads{},
	},
	"ListUploadsResponse": {
		full: &management.ListUploadsResponse{
			Upload: []*management.Upload{upload(), {
				UploadId: "upl-80b1d2", DeviceId: "dev-0001", Name: "diag.tar", Kind: ptr(management.UploadKindDiagnostic),
				State: ptr(management.UploadStateReceiving), Size: 4096, Sha256: sha,
				Compression: ptr(management.CompressionNone), CreatedAt: at("2026-03-14T10:00:00Z"),
			}},
			NextPageToken: "eyJwIjozfQ",
		},
		zero: &management.ListUploadsResponse{},
	},
	"FetchUpload": {
		full: &management.FetchUpload{UploadId: "upl-7f3a9c", Offset: 262144, Length: 262144},
		zero: &management.FetchUpload{UploadId: "upl-7f3a9c"},
	},
	"FetchUploadResponse": {
		full: &management.FetchUploadResponse{UploadId: "upl-7f3a9c", Offset: 1843144, Size: 1843200, Eof: true, Data: chunk},
		zero: &management.FetchUploadResponse{UploadId: "upl-7f3a9c"},
	},
	"QueryAudit": {
		full: &management.QueryAudit{
			From: at("2026-03-14T00:00:00Z"), To: at("2026-03-15T00:00:00Z"), Actor: "a.operator",
			Action: "instruction.queue", Target: "device:dev-0001", Limit: 200, PageToken: "eyJzZXEiOjEwMDB9",
		},
		zero: &management.QueryAudit{},
	},
	"QueryAuditResponse": {
		full: &management.QueryAuditResponse{
			Record: []*management.AuditRecord{
				{
					Sequence: 0, Time: at("2026-01-01T00:00:00Z"), Actor: "system", Action: "audit.init",
					Outcome: ptr(management.AuditOutcomeSuccess), Hash: shaFile,
				},
				{
					Sequence: 1, Time: at("2026-03-14T09:27:00Z"), Actor: "a.operator", Action: "instruction.queue",
					Target: "device:dev-0001", Outcome: ptr(management.AuditOutcomeSuccess),
					Detail: "RunDiagnostic ins-20260314-0007", PrevHash: shaFile, Hash: sha,
				},
			},
			NextPageToken: "eyJzZXEiOjJ9",
		},
		zero: &management.QueryAuditResponse{},
	},
	"FaultDetail": {
		full: &management.FaultDetail{
			Code: ptr(management.FaultCodeFORBIDDEN), Message: "user may not see device dev-0009",
		},
		zero: &management.FaultDetail{Code: ptr(management.FaultCodeINTERNAL)},
	},
}
