package soapapi

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/wssec/pki"
)

var managementOps = map[string]managementHandler{
	"ListDevices":       manage(listDevices),
	"GetDevice":         manage(getDevice),
	"GetDeviceHistory":  manage(getDeviceHistory),
	"RegisterDevice":    manage(registerDevice),
	"RevokeCertificate": manage(revokeCertificate),
	"ListAlarms":        manage(listAlarms),
	"AcknowledgeAlarm":  manage(acknowledgeAlarm),
	"ClearAlarm":        manage(clearAlarm),
	"QueueInstruction":  manage(queueInstruction),
	"GetInstruction":    manage(getInstruction),
	"ListInstructions":  manage(listInstructions),
	"CancelInstruction": manage(cancelInstruction),
	"ListUploads":       manage(listUploads),
	"FetchUpload":       manage(fetchUpload),
	"QueryAudit":        manage(queryAudit),
}

func page(limit int32, token string) server.Page {
	return server.Page{Limit: int(limit), Token: token}
}

// optional returns nil for the zero value, so empty enums stay absent.
func optional[T ~string](v T) *T {
	if v == "" {
		return nil
	}
	return &v
}

func deref[T ~string](p *T) T {
	if p == nil {
		return ""
	}
	return *p
}

func nameValues(in []server.Attr) []*management.NameValue {
	out := make([]*management.NameValue, 0, len(in))
	for _, a := range in {
		out = append(out, &management.NameValue{Name: a.Name, Value: a.Value})
	}
	return out
}

func metricsOut(in []server.Metric) []*management.Metric {
	out := make([]*management.Metric, 0, len(in))
	for _, m := range in {
		out = append(out, &management.Metric{Name: m.Name, Value: m.Value, Unit: m.Unit})
	}
	return out
}

func summary(d *server.Device) *management.DeviceSummary {
	// The schema requires a state; a pre-registered device that never
	// reported has none yet, and is offline.
	state := management.HealthState(d.State)
	if state == "" {
		state = management.HealthStateOffline
	}
	return &management.DeviceSummary{DeviceId: d.ID, DisplayName: d.DisplayName, Customer: d.Customer, Site: d.Site,
		Model: d.Model, State: &state, LastSeen: xsdTime(d.LastSeen), OpenAlarms: int32(d.OpenAlarms)}
}

func listDevices(a *API, ctx context.Context, c *managementCall, req *management.ListDevices) (any, error) {
	devs, next, err := a.cfg.Store.ListDevices(ctx, server.DeviceFilter{Customer: req.Customer, Site: req.Site,
		State: server.HealthState(deref(req.State)), Search: req.Search}, page(req.Limit, req.PageToken))
	if err != nil {
		return nil, err
	}
	resp := &management.ListDevicesResponse{NextPageToken: next}
	for i := range devs {
		resp.Device = append(resp.Device, summary(&devs[i]))
	}
	return resp, nil
}

func deviceOut(d *server.Device) *management.Device {
	return &management.Device{Summary: summary(d), GatewayId: d.GatewayID,
		AgentVersion: d.AgentVersion, CertificateSubject: d.CertSubject, CertificateExpiresAt: xsdTime(d.CertExpiresAt),
		HeartbeatIntervalSeconds: int32(d.HeartbeatInterval), Metric: metricsOut(d.Metrics), Property: nameValues(d.Properties)}
}

func getDevice(a *API, ctx context.Context, c *managementCall, req *management.GetDevice) (any, error) {
	c.target = req.DeviceId
	d, err := a.cfg.Store.GetDevice(ctx, req.DeviceId)
	if err != nil {
		return nil, err
	}
	return &management.GetDeviceResponse{Device: deviceOut(d)}, nil
}

// MaxDeviceLabel bounds a device's display name, customer, site and model,
// in characters, as the schema does.
const MaxDeviceLabel = 128

func registerDevice(a *API, ctx context.Context, c *managementCall, req *management.RegisterDevice) (any, error) {
	c.target = req.DeviceId
	if !pki.ValidDeviceID(req.DeviceId) {
		return nil, server.Errorf(server.CodeMalformed, "deviceId must be 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit")
	}
	for _, v := range []string{req.DisplayName, req.Customer, req.Site, req.Model} {
		if utf8.RuneCountInString(v) > MaxDeviceLabel {
			return nil, server.Errorf(server.CodeTooLarge, "displayName, customer, site and model are limited to %d characters", MaxDeviceLabel)
		}
	}
	now := a.cfg.Now()
	if err := a.cfg.Store.RegisterDevice(ctx, server.Device{ID: req.DeviceId, DisplayName: req.DisplayName,
		Customer: req.Customer, Site: req.Site, Model: req.Model}, now); err != nil {
		return nil, err
	}
	d, err := a.cfg.Store.GetDevice(ctx, req.DeviceId)
	if err != nil {
		return nil, err
	}
	return &management.RegisterDeviceResponse{Device: deviceOut(d)}, nil
}

// MaxRevocationReason bounds the reason given for a revocation.
const MaxRevocationReason = 256

// serialPattern is a certificate serial as an operator may give it: hex,
// either case, possibly padded with leading zeros (openssl x509 -serial).
var serialPattern = regexp.MustCompile(`^[0-9A-Fa-f]{1,64}$`)

// CertSerial normalizes a hex certificate serial to the form the server
// stores (big.Int.Text(16) of the serial: lower case, no leading zeros),
// or returns "" if it is not hex.
func CertSerial(s string) string {
	if !serialPattern.MatchString(s) {
		return ""
	}
	s = strings.TrimLeft(strings.ToLower(s), "0")
	if s == "" {
		return "0"
	}
	return s
}

func revokeCertificate(a *API, ctx context.Context, c *managementCall, req *management.RevokeCertificate) (any, error) {
	serial := CertSerial(req.Serial)
	if serial == "" {
		return nil, server.Errorf(server.CodeMalformed, "serial must be the certificate serial number in hex, at most 64 digits, without separators")
	}
	c.target = serial
	if utf8.RuneCountInString(req.Reason) > MaxRevocationReason {
		return nil, server.Errorf(server.CodeTooLarge, "reason is limited to %d characters", MaxRevocationReason)
	}
	if err := a.cfg.Store.RevokeCertificate(ctx, serial, req.Reason, a.cfg.Now()); err != nil {
		return nil, err
	}
	return &management.RevokeCertificateResponse{Serial: serial}, nil
}

func getDeviceHistory(a *API, ctx context.Context, c *managementCall, req *management.GetDeviceHistory) (any, error) {
	c.target = req.DeviceId
	entries, next, err := a.cfg.Store.DeviceHistory(ctx, server.HistoryFilter{DeviceID: req.DeviceId,
		From: goTime(req.From), To: goTime(req.To)}, page(req.Limit, req.PageToken))
	if err != nil {
		return nil, err
	}
	resp := &management.GetDeviceHistoryResponse{NextPageToken: next}
	for _, e := range entries {
		resp.Entry = append(resp.Entry, &management.HistoryEntry{Time: xsdTime(e.Time),
			State: optional(management.HealthState(e.State)), Metric: metricsOut(e.Metrics), Property: nameValues(e.Properties)})
	}
	return resp, nil
}

func alarmOut(al *server.Alarm) *management.Alarm {
	return &management.Alarm{AlarmId: al.ID, DeviceId: al.DeviceID, Code: al.Code,
		Severity: optional(management.Severity(al.Severity)), Text: al.Text, State: optional(management.AlarmState(al.State)),
		RaisedAt: xsdTime(al.RaisedAt), ClearedAt: xsdTime(al.ClearedAt), AcknowledgedBy: al.AcknowledgedBy,
		AcknowledgedAt: xsdTime(al.AcknowledgedAt), ClearedBy: al.ClearedBy, Comment: al.Comment, Context: nameValues(al.Context)}
}

func listAlarms(a *API, ctx context.Context, c *managementCall, req *management.ListAlarms) (any, error) {
	alarms, next, err := a.cfg.Store.ListAlarms(ctx, server.AlarmFilter{DeviceID: req.DeviceId,
		State: server.AlarmState(deref(req.State)), MinSeverity: server.Severity(deref(req.MinSeverity)),
		Since: goTime(req.Since)}, page(req.Limit, req.PageToken))
	if err != nil {
		return nil, err
	}
	resp := &management.ListAlarmsResponse{NextPageToken: next}
	for i := range alarms {
		resp.Alarm = append(resp.Alarm, alarmOut(&alarms[i]))
	}
	return resp, nil
}

// MaxComment bounds an operator's comment on an alarm.
const MaxComment = 1024

func acknowledgeAlarm(a *API, ctx context.Context, c *managementCall, req *management.AcknowledgeAlarm) (any, error) {
	c.target = req.AlarmId
	if len(req.Comment) > MaxComment {
		return nil, server.Errorf(server.CodeTooLarge, "comment is limited to %d bytes", MaxComment)
	}
	al, err := a.cfg.Store.AcknowledgeAlarm(ctx, req.AlarmId, c.user.Name, req.Comment, a.cfg.Now())
	if err != nil {
		return nil, err
	}
	return &management.AcknowledgeAlarmResponse{Alarm: alarmOut(al)}, nil
}

func clearAlarm(a *API, ctx context.Context, c *managementCall, req *management.ClearAlarm) (any, error) {
	c.target = req.AlarmId
	if len(req.Comment) > MaxComment {
		return nil, server.Errorf(server.CodeTooLarge, "comment is limited to %d bytes", MaxComment)
	}
	al, err := a.cfg.Store.ClearAlarm(ctx, req.AlarmId, c.user.Name, req.Comment, a.cfg.Now())
	if err != nil {
		return nil, err
	}
	return &management.ClearAlarmResponse{Alarm: alarmOut(al)}, nil
}

func instructionOut(in *server.Instruction) *management.Instruction {
	return &management.Instruction{InstructionId: in.ID, DeviceId: in.DeviceID, Type: in.Type,
		Parameter: nameValues(in.Parameters), Status: optional(management.InstructionStatus(in.Status)),
		CreatedBy: in.CreatedBy, CreatedAt: xsdTime(in.CreatedAt), ExpiresAt: xsdTime(in.ExpiresAt),
		UpdatedAt: xsdTime(in.UpdatedAt), ExitCode: int32(in.ExitCode), Output: in.Output, UploadId: in.UploadID}
}

// Limits on a queued instruction.
const (
	MaxInstructionParameters = 64
	MaxParameterBytes        = 4096
)

func queueInstruction(a *API, ctx context.Context, c *managementCall, req *management.QueueInstruction) (any, error) {
	c.target = req.DeviceId
	if req.DeviceId == "" || req.Type == "" || len(req.Type) > 64 {
		return nil, server.Errorf(server.CodeMalformed, "deviceId and a type of at most 64 characters are required")
	}
	if len(req.Parameter) > MaxInstructionParameters {
		return nil, server.Errorf(server.CodeTooLarge, "at most %d parameters", MaxInstructionParameters)
	}
	in := server.NewInstruction{DeviceID: req.DeviceId, Type: req.Type, RequestID: req.RequestId, CreatedBy: c.user.Name,
		TTL: time.Duration(req.TtlSeconds) * time.Second}
	for _, p := range req.Parameter {
		if p == nil || p.Name == "" || len(p.Name)+len(p.Value) > MaxParameterBytes {
			return nil, server.Errorf(server.CodeMalformed, "every parameter needs a name, and name and value together at most %d bytes", MaxParameterBytes)
		}
		in.Parameters = append(in.Parameters, server.Attr{Name: p.Name, Value: p.Value})
	}
	if req.TtlSeconds < 0 || in.TTL > server.MaxInstructionTTL {
		return nil, server.Errorf(server.CodeMalformed, "ttlSeconds must be 0..%d", int(server.MaxInstructionTTL.Seconds()))
	}
	got, err := a.cfg.Store.QueueInstruction(ctx, in, a.cfg.Now())
	if err != nil {
		return nil, err
	}
	c.target = got.ID
	return &management.QueueInstructionResponse{Instruction: instructionOut(got)}, nil
}

func getInstruction(a *API, ctx context.Context, c *managementCall, req *management.GetInstruction) (any, error) {
	c.target = req.InstructionId
	in, err := a.cfg.Store.GetInstruction(ctx, req.InstructionId)
	if err != nil {
		return nil, err
	}
	return &management.GetInstructionResponse{Instruction: instructionOut(in)}, nil
}

func listInstructions(a *API, ctx context.Context, c *managementCall, req *management.ListInstructions) (any, error) {
	list, next, err := a.cfg.Store.ListInstructions(ctx, server.InstructionFilter{DeviceID: req.DeviceId,
		Status: server.InstructionStatus(deref(req.Status))}, page(req.Limit, req.PageToken))
	if err != nil {
		return nil, err
	}
	resp := &management.ListInstructionsResponse{NextPageToken: next}
	for i := range list {
		resp.Instruction = append(resp.Instruction, instructionOut(&list[i]))
	}
	return resp, nil
}

func cancelInstruction(a *API, ctx context.Context, c *managementCall, req *management.CancelInstruction) (any, error) {
	c.target = req.InstructionId
	in, err := a.cfg.Store.CancelInstruction(ctx, req.InstructionId, a.cfg.Now())
	if err != nil {
		return nil, err
	}
	return &management.CancelInstructionResponse{Instruction: instructionOut(in)}, nil
}

func uploadOut(u *server.Upload) *management.Upload {
	return &management.Upload{UploadId: u.ID, DeviceId: u.DeviceID, Name: u.Name, Kind: optional(management.UploadKind(u.Kind)),
		State: optional(management.UploadState(u.State)), Size: u.Size, Received: u.Received, Sha256: u.SHA256,
		Compression: optional(management.Compression(u.Compression)), CreatedAt: xsdTime(u.CreatedAt),
		CommittedAt: xsdTime(u.CommittedAt), InstructionId: u.InstructionID}
}

func listUploads(a *API, ctx context.Context, c *managementCall, req *management.ListUploads) (any, error) {
	list, next, err := a.cfg.Store.ListUploads(ctx, server.UploadFilter{DeviceID: req.DeviceId,
		Kind: server.UploadKind(deref(req.Kind)), State: server.UploadState(deref(req.State))}, page(req.Limit, req.PageToken))
	if err != nil {
		return nil, err
	}
	resp := &management.ListUploadsResponse{NextPageToken: next}
	for i := range list {
		resp.Upload = append(resp.Upload, uploadOut(&list[i]))
	}
	return resp, nil
}

func fetchUpload(a *API, ctx context.Context, c *managementCall, req *management.FetchUpload) (any, error) {
	c.target = req.UploadId
	data, eof, up, err := a.cfg.Uploads.Read(ctx, req.UploadId, req.Offset, int(req.Length))
	if err != nil {
		return nil, err
	}
	// gowsdl writes []byte verbatim, so the field carries base64 text.
	return &management.FetchUploadResponse{UploadId: up.ID, Offset: req.Offset, Size: up.Size, Eof: eof,
		Data: []byte(base64.StdEncoding.EncodeToString(data))}, nil
}

func queryAudit(a *API, ctx context.Context, c *managementCall, req *management.QueryAudit) (any, error) {
	recs, next, err := a.cfg.Store.QueryAudit(ctx, server.AuditFilter{From: goTime(req.From), To: goTime(req.To),
		Actor: req.Actor, Action: req.Action, Target: req.Target}, page(req.Limit, req.PageToken))
	if err != nil {
		return nil, err
	}
	resp := &management.QueryAuditResponse{NextPageToken: next}
	for _, r := range recs {
		detail := r.Detail
		if r.Code != "" {
			detail = "[" + string(r.Code) + "] " + detail
		}
		resp.Record = append(resp.Record, &management.AuditRecord{Sequence: r.Sequence, Time: xsdTime(r.Time), Actor: r.Actor,
			Action: r.Action, Target: r.Target, Outcome: optional(management.AuditOutcome(r.Outcome)), Detail: detail,
			PrevHash: r.PrevHash, Hash: r.Hash})
	}
	return resp, nil
}
