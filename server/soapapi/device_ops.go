package soapapi

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/rmsproject/rms/generated/device"
	"github.com/rmsproject/rms/server"
)

// headerOf returns the DeviceRequest fields every request type embeds.
func headerOf(req any) *device.DeviceRequest {
	switch r := req.(type) {
	case *device.Heartbeat:
		return r.DeviceRequest
	case *device.ReportAlarms:
		return r.DeviceRequest
	case *device.RequestInstructions:
		return r.DeviceRequest
	case *device.ReportInstructionResult:
		return r.DeviceRequest
	case *device.BeginUpload:
		return r.DeviceRequest
	case *device.UploadChunk:
		return r.DeviceRequest
	case *device.CommitUpload:
		return r.DeviceRequest
	case *device.ReportAuditEvents:
		return r.DeviceRequest
	}
	return nil
}

// Count limits per message, beyond the byte cap.
const (
	MaxAlarmsPerMessage = 100
	MaxEventsPerMessage = 200
)

func attrs(in []*device.NameValue) []server.Attr {
	out := make([]server.Attr, 0, len(in))
	for _, nv := range in {
		if nv != nil {
			out = append(out, server.Attr{Name: nv.Name, Value: nv.Value})
		}
	}
	return out
}

func heartbeat(a *API, ctx context.Context, c *deviceCall, req *device.Heartbeat) (any, error) {
	hb := server.Heartbeat{MessageRef: c.ref, ReceivedAt: a.cfg.Now(), Properties: attrs(req.Property), Replay: c.replay}
	if req.State != nil {
		hb.State = server.HealthState(*req.State)
		switch hb.State {
		case server.StateOK, server.StateWarning, server.StateError, server.StateMaintenance, server.StateOffline:
		default:
			return nil, server.Errorf(server.CodeMalformed, "unknown state %q", hb.State)
		}
	}
	for _, m := range req.Metric {
		if m != nil {
			hb.Metrics = append(hb.Metrics, server.Metric{Name: m.Name, Value: m.Value, Unit: m.Unit})
		}
	}
	ack, err := a.cfg.Ingest.Heartbeat(ctx, hb)
	if err != nil {
		return nil, err
	}
	if ack.Replayed {
		return nil, errReplay
	}
	return &device.HeartbeatResponse{DeviceResponse: response(c), ServerTime: xsdTime(a.cfg.Now()),
		NextIntervalSeconds: int32(ack.IntervalSeconds), InstructionsPending: ack.InstructionsPending}, nil
}

func reportAlarms(a *API, ctx context.Context, c *deviceCall, req *device.ReportAlarms) (any, error) {
	if len(req.Alarm) > MaxAlarmsPerMessage {
		return nil, server.Errorf(server.CodeTooLarge, "at most %d alarms per message", MaxAlarmsPerMessage)
	}
	reports := make([]server.AlarmReport, 0, len(req.Alarm))
	for _, al := range req.Alarm {
		if al == nil || al.Code == "" || al.Severity == nil || goTime(al.RaisedAt).IsZero() {
			return nil, server.Errorf(server.CodeMalformed, "every alarm needs a code, a severity and raisedAt")
		}
		if server.Severity(*al.Severity).Rank() == 0 {
			return nil, server.Errorf(server.CodeMalformed, "unknown severity %q", *al.Severity)
		}
		reports = append(reports, server.AlarmReport{Code: al.Code, Severity: server.Severity(*al.Severity), Text: al.Text,
			RaisedAt: goTime(al.RaisedAt), ClearedAt: goTime(al.ClearedAt), Context: attrs(al.Context)})
	}
	n, err := a.cfg.Store.ReportAlarms(ctx, c.ref, reports, a.cfg.Now())
	if err != nil {
		return nil, err
	}
	return &device.ReportAlarmsResponse{DeviceResponse: response(c), Accepted: int32(n)}, nil
}

func requestInstructions(a *API, ctx context.Context, c *deviceCall, req *device.RequestInstructions) (any, error) {
	if req.WaitSeconds < 0 || req.WaitSeconds > 25 || req.MaxInstructions < 0 || req.MaxInstructions > 100 {
		return nil, server.Errorf(server.CodeMalformed, "waitSeconds must be 0..25 and maxInstructions 0..100")
	}
	got, err := a.cfg.Poller.Poll(ctx, c.ref, int(req.MaxInstructions), time.Duration(req.WaitSeconds)*time.Second)
	if err != nil {
		return nil, err
	}
	resp := &device.RequestInstructionsResponse{DeviceResponse: response(c)}
	for _, in := range got {
		out := &device.Instruction{Id: in.ID, Type: in.Type, ExpiresAt: xsdTime(in.ExpiresAt)}
		for _, p := range in.Parameters {
			out.Parameter = append(out.Parameter, &device.NameValue{Name: p.Name, Value: p.Value})
		}
		resp.Instruction = append(resp.Instruction, out)
	}
	return resp, nil
}

// MaxResultOutput bounds the output kept with an instruction result.
const MaxResultOutput = 16 << 10

func reportInstructionResult(a *API, ctx context.Context, c *deviceCall, req *device.ReportInstructionResult) (any, error) {
	if req.InstructionId == "" || req.Status == nil {
		return nil, server.Errorf(server.CodeMalformed, "instructionId and status are required")
	}
	if len(req.Output) > MaxResultOutput {
		return nil, server.Errorf(server.CodeTooLarge, "output is limited to %d bytes", MaxResultOutput)
	}
	switch server.InstructionStatus(*req.Status) {
	case server.InstructionAccepted, server.InstructionRunning, server.InstructionSucceeded, server.InstructionFailed, server.InstructionRejected:
	default:
		return nil, server.Errorf(server.CodeMalformed, "unknown status %q", *req.Status)
	}
	c.target = req.InstructionId
	cancel, err := a.cfg.Store.ReportInstructionResult(ctx, c.ref, server.InstructionResult{
		InstructionID: req.InstructionId, Status: server.InstructionStatus(*req.Status), ExitCode: int(req.ExitCode),
		Output: req.Output, FinishedAt: goTime(req.FinishedAt),
	}, a.cfg.Now())
	if err != nil {
		return nil, err
	}
	return &device.ReportInstructionResultResponse{DeviceResponse: response(c), Cancel: cancel}, nil
}

func beginUpload(a *API, ctx context.Context, c *deviceCall, req *device.BeginUpload) (any, error) {
	u := server.NewUpload{Name: req.Name, Size: req.Size, SHA256: req.Sha256, InstructionID: req.InstructionId,
		Kind: server.UploadLog, Compression: server.CompressionNone}
	if req.Kind != nil {
		u.Kind = server.UploadKind(*req.Kind)
	}
	if req.Compression != nil {
		u.Compression = server.Compression(*req.Compression)
	}
	up, maxChunk, err := a.cfg.Uploads.Begin(ctx, c.ref, u)
	if err != nil {
		return nil, err
	}
	c.target = up.ID
	return &device.BeginUploadResponse{DeviceResponse: response(c), UploadId: up.ID, NextOffset: up.Received,
		MaxChunkBytes: int32(maxChunk)}, nil
}

func uploadChunk(a *API, ctx context.Context, c *deviceCall, req *device.UploadChunk) (any, error) {
	c.target = req.UploadId
	// gowsdl hands base64Binary over as the undecoded text.
	data, err := base64.StdEncoding.DecodeString(string(req.Data))
	if err != nil {
		return nil, server.Errorf(server.CodeMalformed, "data is not base64")
	}
	next, err := a.cfg.Uploads.Chunk(ctx, c.identity.DeviceID, req.UploadId, req.Offset, req.Sha256, data)
	if err != nil {
		return nil, err
	}
	return &device.UploadChunkResponse{DeviceResponse: response(c), NextOffset: next}, nil
}

func commitUpload(a *API, ctx context.Context, c *deviceCall, req *device.CommitUpload) (any, error) {
	c.target = req.UploadId
	up, err := a.cfg.Uploads.Commit(ctx, c.identity.DeviceID, req.UploadId)
	if err != nil {
		return nil, err
	}
	return &device.CommitUploadResponse{DeviceResponse: response(c), Size: up.Size, Sha256: up.SHA256}, nil
}

func reportAuditEvents(a *API, ctx context.Context, c *deviceCall, req *device.ReportAuditEvents) (any, error) {
	if len(req.Event) > MaxEventsPerMessage {
		return nil, server.Errorf(server.CodeTooLarge, "at most %d events per message", MaxEventsPerMessage)
	}
	entries := make([]server.AuditEntry, 0, len(req.Event))
	var last int64
	for _, ev := range req.Event {
		if ev == nil || ev.Action == "" || goTime(ev.Time).IsZero() {
			return nil, server.Errorf(server.CodeMalformed, "every event needs a time and an action")
		}
		e := server.AuditEntry{Time: goTime(ev.Time), Actor: "agent:" + c.identity.DeviceID, Action: "agent." + ev.Action,
			Target: c.identity.DeviceID, Outcome: server.OutcomeSuccess, Detail: ev.Detail}
		if ev.Actor != "" {
			e.Detail = ev.Actor + ": " + e.Detail
		}
		if ev.Outcome != nil {
			// The chain is append-only: an outcome no reader knows would
			// stay in it for good.
			switch e.Outcome = server.AuditOutcome(*ev.Outcome); e.Outcome {
			case server.OutcomeSuccess, server.OutcomeFailure, server.OutcomeDenied:
			default:
				return nil, server.Errorf(server.CodeMalformed, "unknown outcome %q", *ev.Outcome)
			}
		}
		entries = append(entries, e)
		last = max(last, ev.Sequence)
	}
	if _, err := a.cfg.Store.AppendDeviceAudit(ctx, c.ref, entries); err != nil {
		return nil, err
	}
	return &device.ReportAuditEventsResponse{DeviceResponse: response(c), LastSequence: last}, nil
}
