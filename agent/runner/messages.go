package runner

import (
	"context"
	"encoding/xml"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/soapclient"
)

// newMessage gives req its idempotency key and time now, once: every
// later attempt sends the same messageId and sentAt, signed afresh.
func newMessage(deviceID string, kind agent.Kind, op string, req any, now time.Time) (agent.Message, error) {
	id := uuid.NewString()
	hdr := &soapclient.DeviceRequest{MessageId: id, SentAt: soapclient.NewDateTime(now)}
	switch r := req.(type) {
	case *soapclient.Heartbeat:
		r.DeviceRequest = hdr
	case *soapclient.ReportAlarms:
		r.DeviceRequest = hdr
	case *soapclient.ReportInstructionResult:
		r.DeviceRequest = hdr
	case *soapclient.ReportAuditEvents:
		r.DeviceRequest = hdr
	default:
		return agent.Message{}, fmt.Errorf("runner: %T cannot be queued", req)
	}
	payload, err := xml.Marshal(req)
	if err != nil {
		return agent.Message{}, fmt.Errorf("runner: encode %s: %w", op, err)
	}
	return agent.Message{DeviceID: deviceID, Kind: kind, Operation: op, MessageID: id, Created: now, Payload: payload}, nil
}

// sendMessage decodes a queued request and sends it with its operation;
// the client verifies the server's signed answer.
func sendMessage(ctx context.Context, c *soapclient.Device, m agent.Message) (any, error) {
	switch m.Operation {
	case "Heartbeat":
		return call(ctx, m, c.Heartbeat)
	case "ReportAlarms":
		return call(ctx, m, c.ReportAlarms)
	case "ReportInstructionResult":
		return call(ctx, m, c.ReportInstructionResult)
	case "ReportAuditEvents":
		return call(ctx, m, c.ReportAuditEvents)
	}
	return nil, &soapclient.Fault{Code: "MALFORMED", Message: "unknown queued operation " + m.Operation}
}

func call[Req, Resp any](ctx context.Context, m agent.Message, fn func(context.Context, *Req) (*Resp, error)) (any, error) {
	req := new(Req)
	if err := xml.Unmarshal(m.Payload, req); err != nil {
		// A message that no longer decodes can never be sent.
		return nil, &soapclient.Fault{Code: "MALFORMED", Message: "queued message does not decode: " + err.Error()}
	}
	resp, err := fn(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp, nil
}
