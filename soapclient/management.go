package soapclient

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/wssec"
)

// ManagementConfig configures a ManagementService client.
type ManagementConfig struct {
	Config
	Username string // required
	Password string
}

// Management is a ManagementService client, authenticating every request
// with a PasswordText UsernameToken (so it refuses to run over plain HTTP
// unless AllowInsecureHTTP says so). Its responses are not signed; TLS is
// what vouches for them. It is safe for concurrent use.
type Management struct {
	cfg ManagementConfig
}

// NewManagement validates cfg, fills its defaults and returns a client.
func NewManagement(cfg ManagementConfig) (*Management, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("soapclient.NewManagement: %w", err)
	}
	if cfg.Username == "" {
		return nil, errors.New("soapclient.NewManagement: Username is required")
	}
	if u, _ := url.Parse(cfg.URL); u.Scheme == "http" {
		cfg.Logger.Warn("the management password is sent over plain HTTP")
	}
	return &Management{cfg: cfg}, nil
}

// ManagementAction is the SOAPAction of a ManagementService operation.
func ManagementAction(op string) string { return NSManagement + "/" + op }

// ListDevices lists the devices the user may see.
func (m *Management) ListDevices(ctx context.Context, req *management.ListDevices) (*management.ListDevicesResponse, error) {
	return manage[management.ListDevicesResponse](ctx, m, "ListDevices", req)
}

// GetDevice returns one device.
func (m *Management) GetDevice(ctx context.Context, req *management.GetDevice) (*management.GetDeviceResponse, error) {
	return manage[management.GetDeviceResponse](ctx, m, "GetDevice", req)
}

// GetDeviceHistory returns a device's heartbeat history.
func (m *Management) GetDeviceHistory(ctx context.Context, req *management.GetDeviceHistory) (*management.GetDeviceHistoryResponse, error) {
	return manage[management.GetDeviceHistoryResponse](ctx, m, "GetDeviceHistory", req)
}

// RegisterDevice pre-registers a device; the server answers CONFLICT if it
// exists.
func (m *Management) RegisterDevice(ctx context.Context, req *management.RegisterDevice) (*management.RegisterDeviceResponse, error) {
	return manage[management.RegisterDeviceResponse](ctx, m, "RegisterDevice", req)
}

// RevokeCertificate revokes a device certificate by its hex serial number.
func (m *Management) RevokeCertificate(ctx context.Context, req *management.RevokeCertificate) (*management.RevokeCertificateResponse, error) {
	return manage[management.RevokeCertificateResponse](ctx, m, "RevokeCertificate", req)
}

// ListAlarms lists alarms.
func (m *Management) ListAlarms(ctx context.Context, req *management.ListAlarms) (*management.ListAlarmsResponse, error) {
	return manage[management.ListAlarmsResponse](ctx, m, "ListAlarms", req)
}

// AcknowledgeAlarm acknowledges an active alarm.
func (m *Management) AcknowledgeAlarm(ctx context.Context, req *management.AcknowledgeAlarm) (*management.AcknowledgeAlarmResponse, error) {
	return manage[management.AcknowledgeAlarmResponse](ctx, m, "AcknowledgeAlarm", req)
}

// ClearAlarm clears an alarm by hand.
func (m *Management) ClearAlarm(ctx context.Context, req *management.ClearAlarm) (*management.ClearAlarmResponse, error) {
	return manage[management.ClearAlarmResponse](ctx, m, "ClearAlarm", req)
}

// QueueInstruction queues an instruction for a device.
func (m *Management) QueueInstruction(ctx context.Context, req *management.QueueInstruction) (*management.QueueInstructionResponse, error) {
	return manage[management.QueueInstructionResponse](ctx, m, "QueueInstruction", req)
}

// GetInstruction returns one instruction with its latest result.
func (m *Management) GetInstruction(ctx context.Context, req *management.GetInstruction) (*management.GetInstructionResponse, error) {
	return manage[management.GetInstructionResponse](ctx, m, "GetInstruction", req)
}

// ListInstructions lists instructions.
func (m *Management) ListInstructions(ctx context.Context, req *management.ListInstructions) (*management.ListInstructionsResponse, error) {
	return manage[management.ListInstructionsResponse](ctx, m, "ListInstructions", req)
}

// CancelInstruction cancels an instruction that is not final yet; the
// server answers CONFLICT once it is.
func (m *Management) CancelInstruction(ctx context.Context, req *management.CancelInstruction) (*management.CancelInstructionResponse, error) {
	return manage[management.CancelInstructionResponse](ctx, m, "CancelInstruction", req)
}

// ListUploads lists uploaded files.
func (m *Management) ListUploads(ctx context.Context, req *management.ListUploads) (*management.ListUploadsResponse, error) {
	return manage[management.ListUploadsResponse](ctx, m, "ListUploads", req)
}

// FetchUpload reads part of an uploaded file; decode the answer's Data
// with DecodeBase64Binary.
func (m *Management) FetchUpload(ctx context.Context, req *management.FetchUpload) (*management.FetchUploadResponse, error) {
	return manage[management.FetchUploadResponse](ctx, m, "FetchUpload", req)
}

// QueryAudit returns server audit records.
func (m *Management) QueryAudit(ctx context.Context, req *management.QueryAudit) (*management.QueryAuditResponse, error) {
	return manage[management.QueryAuditResponse](ctx, m, "QueryAudit", req)
}

// manage is every ManagementService operation: wrap, send, decode.
func manage[Resp any](ctx context.Context, m *Management, op string, req any) (*Resp, error) {
	body, err := marshalPayload(op, NSManagement, req)
	if err != nil {
		return nil, err
	}
	envelope, err := wssec.UsernameEnvelope(body, m.cfg.Username, m.cfg.Password)
	if err != nil {
		return nil, fmt.Errorf("soapclient %s: %w", op, err)
	}
	r, err := m.cfg.post(ctx, op, ManagementAction(op), envelope)
	if err != nil {
		return nil, err
	}
	if r.Fault != nil {
		return nil, r.Fault
	}
	if r.StatusCode != http.StatusOK {
		return nil, httpError(r)
	}
	p, err := m.cfg.plainPayload(r.Body)
	if err != nil {
		return nil, &ResponseError{Reason: "malformed", Err: err}
	}
	out := new(Resp)
	if err := decodeAnswer(p, xml.Name{Space: NSManagement, Local: op + "Response"}, out); err != nil {
		return nil, err
	}
	return out, nil
}
