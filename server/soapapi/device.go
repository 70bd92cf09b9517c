package soapapi

import (
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/hooklift/gowsdl/soap"
	"github.com/sirupsen/logrus"

	"github.com/rmsproject/rms/generated/device"
	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/wssec"
	"github.com/rmsproject/rms/wssec/pki"
)

// deviceCall is one device request as it moves through the pipeline.
type deviceCall struct {
	op       string
	identity server.Identity
	result   *wssec.Result
	ref      server.MessageRef
	sentID   string // the messageId as the device wrote it, echoed back
	replay   server.ReplayRecord
	target   string // what the request acted on, for the audit record
}

// deviceHandler decodes and serves one operation; it returns the response
// payload (a generated *...Response).
type deviceHandler func(a *API, ctx context.Context, c *deviceCall) (any, error)

var deviceOps = map[string]deviceHandler{
	"Heartbeat":               handle(heartbeat),
	"ReportAlarms":            handle(reportAlarms),
	"RequestInstructions":     handle(requestInstructions),
	"ReportInstructionResult": handle(reportInstructionResult),
	"BeginUpload":             handle(beginUpload),
	"UploadChunk":             handle(uploadChunk),
	"CommitUpload":            handle(commitUpload),
	"ReportAuditEvents":       handle(reportAuditEvents),
}

// handle adapts a typed handler: it decodes the verified Body into Req,
// checks the DeviceRequest fields, and fills c.ref.
func handle[Req any](fn func(a *API, ctx context.Context, c *deviceCall, req *Req) (any, error)) deviceHandler {
	return func(a *API, ctx context.Context, c *deviceCall) (any, error) {
		req := new(Req)
		if err := c.result.DecodePayload(req); err != nil {
			return nil, server.Errorf(server.CodeMalformed, "%s does not match the schema", c.op)
		}
		h := headerOf(req)
		if err := a.checkHeader(c, h); err != nil {
			return nil, err
		}
		return fn(a, ctx, c, req)
	}
}

var (
	heartbeatName = xml.Name{Space: nsDevice, Local: "Heartbeat"}
	errReplay     = server.Errorf(server.CodeReplay, "this signed message was already received")
)

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (a *API) checkHeader(c *deviceCall, h *device.DeviceRequest) error {
	if h == nil || !uuidPattern.MatchString(h.MessageId) {
		return server.Errorf(server.CodeMalformed, "messageId must be a UUID")
	}
	sent := h.SentAt.ToGoTime()
	if sent.IsZero() {
		// gowsdl's decoder drops unparsable times silently; a missing or
		// bad sentAt both end up here.
		return server.Errorf(server.CodeMalformed, "sentAt must be an xs:dateTime")
	}
	if now := a.cfg.Now(); sent.After(now) {
		// A device clock that ran ahead must not put status in the future
		// (a later, correct heartbeat could not overwrite it); the message
		// itself is still good, so it is taken as sent now.
		sent = now
	}
	if h.DeviceId != "" && h.DeviceId != c.identity.DeviceID {
		// A device acts only for itself; gateways acting for registered
		// children come with the gateway issue.
		return server.Errorf(server.CodeForbidden, "device %s may not act for %s", c.identity.DeviceID, h.DeviceId)
	}
	c.sentID = h.MessageId
	c.ref = server.MessageRef{DeviceID: c.identity.DeviceID, MessageID: strings.ToLower(h.MessageId), SentAt: sent}
	return nil
}

func (a *API) serveDevice(w http.ResponseWriter, r *http.Request) {
	c := &deviceCall{op: "unknown"}
	a.exchange(w, r, exchange{
		service: "device", title: "DeviceService", contract: a.device,
		handle: func(r *http.Request) ([]byte, error) {
			payload, err := a.deviceRequest(r, c)
			if err != nil {
				return nil, err
			}
			return a.signed(payload)
		},
		op:     func() string { return c.op },
		fault:  a.signedFault,
		audit:  func(ctx context.Context, err error) { a.audit(ctx, c, err) },
		fields: func() logrus.Fields { return logrus.Fields{"op": c.op, "device": c.identity.DeviceID} },
	})
}

func (a *API) audit(ctx context.Context, c *deviceCall, err error) {
	actor := "device:" + c.identity.DeviceID
	if c.identity.DeviceID == "" {
		actor = "device:unidentified"
	}
	e := server.AuditEntry{Actor: actor, Action: "device." + c.op, Target: c.target}
	if c.ref.MessageID != "" {
		e.Detail = "message " + c.ref.MessageID
	}
	a.record(ctx, e, err)
}

// record appends one audit entry for a finished request; err decides the
// outcome and code.
func (a *API) record(ctx context.Context, e server.AuditEntry, err error) {
	e.Outcome = server.OutcomeSuccess
	if err != nil {
		e.Code = server.CodeOf(err)
		e.Outcome = server.OutcomeDenied
		if server.Retryable(e.Code) {
			e.Outcome = server.OutcomeFailure
		}
		e.Detail = strings.TrimSpace(e.Detail + " " + server.MessageOf(err))
	}
	// The audit write must not be cut short by a client hanging up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if aErr := a.cfg.Auditor.Record(ctx, e); aErr != nil {
		a.cfg.Metrics.StoreError("audit")
		a.log.WithError(aErr).Error("audit record lost")
	}
}

// deviceRequest runs the security pipeline and dispatches.
func (a *API) deviceRequest(r *http.Request, c *deviceCall) (any, error) {
	ctx := r.Context()
	// 1. mTLS identity.
	leaf, err := clientCertificate(r)
	if err != nil {
		return nil, err
	}
	c.identity = server.Identity{
		DeviceID:      leaf.Subject.CommonName,
		CertSubject:   leaf.Subject.String(),
		CertSerial:    strings.ToLower(leaf.SerialNumber.Text(16)),
		CertExpiresAt: leaf.NotAfter,
	}
	if !pki.ValidDeviceID(c.identity.DeviceID) {
		return nil, server.Errorf(server.CodeForbidden, "client certificate does not name a valid device id")
	}
	action := soapAction(r.Header.Get("SOAPAction"))
	if action != "" {
		c.op = strings.TrimPrefix(action, nsDevice+"/")
		if _, known := deviceOps[c.op]; !known {
			c.op = "unknown"
		}
	}
	// 2. Limits: read no further than the cap.
	verifier, limit := a.cfg.Verifier, MaxStatusBytes
	if action == nsDevice+"/UploadChunk" {
		verifier, limit = a.cfg.BulkVerifier, MaxBulkBytes
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return nil, server.Errorf(server.CodeMalformed, "request body could not be read")
	}
	if len(raw) > limit {
		return nil, server.Errorf(server.CodeTooLarge, "request is larger than %d bytes", limit)
	}
	// 3. Strict signature verification (shape, digests, key, chain to the
	// device CA, signature value, timestamp).
	res, err := verifier.Verify(ctx, raw, wssec.WithCertificates(leaf))
	if err != nil {
		return nil, fromWSSec(err)
	}
	c.result = res
	// 4. The signer is the TLS client.
	if res.Identity != c.identity.DeviceID {
		return nil, server.Errorf(server.CodeBadSignature, "message is signed by %q, not by the TLS client %q", res.Identity, c.identity.DeviceID)
	}
	if !res.Certificate.Equal(leaf) {
		c.identity.CertSerial = strings.ToLower(res.Certificate.SerialNumber.Text(16))
	}
	// 5. Registered (or registering) and not revoked.
	if err := a.admitDevice(ctx, c.identity); err != nil {
		return nil, err
	}
	// 6. Not a replay. A heartbeat's record is written with the heartbeat
	// itself (one transaction, not two, on the hottest path); the ingest
	// answers Replayed and nothing of it is stored.
	c.replay = server.ReplayRecord{Key: res.ReplayKey, Until: res.Expires.Add(wssec.DefaultSkew)}
	if res.Payload != heartbeatName {
		seen, err := a.cfg.Replay.Seen(ctx, c.replay.Key, c.replay.Until)
		if err != nil {
			return nil, server.Wrap(server.CodeUnavailable, "replay check is unavailable", err)
		}
		if seen {
			return nil, errReplay
		}
	}
	// 7. Dispatch on the verified Body QName; SOAPAction may only agree.
	if res.Payload.Space != nsDevice {
		return nil, server.Errorf(server.CodeMalformed, "body element is not in namespace %s", nsDevice)
	}
	h, ok := deviceOps[res.Payload.Local]
	if !ok {
		c.op = "unknown"
		return nil, server.Errorf(server.CodeMalformed, "unknown operation %s", res.Payload.Local)
	}
	if action != "" && action != nsDevice+"/"+res.Payload.Local {
		return nil, server.Errorf(server.CodeMalformed, "SOAPAction names a different operation than the body")
	}
	c.op = res.Payload.Local
	return h(a, ctx, c)
}

func clientCertificate(r *http.Request) (*x509.Certificate, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, server.Errorf(server.CodeForbidden, "a client certificate issued by the device CA is required")
	}
	return r.TLS.VerifiedChains[0][0], nil
}

// soapAction strips the optional quotes; SOAP 1.1 clients differ.
func soapAction(v string) string {
	return strings.Trim(strings.TrimSpace(v), `"`)
}

func fromWSSec(err error) error {
	var we *wssec.Error
	if errors.As(err, &we) {
		return &server.Error{Code: server.Code(we.Code), Message: we.Reason, Err: err}
	}
	return server.Wrap(server.CodeInternal, "verification failed", err)
}

func (a *API) admitDevice(ctx context.Context, id server.Identity) error {
	now := a.cfg.Now()
	a.admitMu.Lock()
	adm, ok := a.admit[id.DeviceID]
	gen := a.admitGen
	a.admitMu.Unlock()
	if ok && adm.serial == id.CertSerial && now.Before(adm.until) {
		return nil
	}
	if _, err := a.cfg.Store.AdmitDevice(ctx, id, a.cfg.AutoRegister, now); err != nil {
		return err
	}
	a.admitMu.Lock()
	if len(a.admit) > 1<<20 {
		clear(a.admit)
	}
	if gen == a.admitGen {
		a.admit[id.DeviceID] = admission{serial: id.CertSerial, until: now.Add(a.cfg.AdmitCacheTTL)}
	}
	a.admitMu.Unlock()
	return nil
}

// forgetSerial drops every cached admission of the certificate serial (all
// of them for ""), so a revocation made on any replica takes effect here at
// once. Revocations are rare, so a scan of the cache is fine.
func (a *API) forgetSerial(serial string) {
	a.admitMu.Lock()
	defer a.admitMu.Unlock()
	a.admitGen++
	for id, adm := range a.admit {
		if serial == "" || adm.serial == serial {
			delete(a.admit, id)
		}
	}
}

func (a *API) signed(payload any) ([]byte, error) {
	env, err := envelope(payload)
	if err != nil {
		return nil, server.Wrap(server.CodeInternal, "response could not be encoded", err)
	}
	out, err := a.cfg.Signer.Sign(env)
	if err != nil {
		return nil, server.Wrap(server.CodeInternal, "response could not be signed", err)
	}
	return out, nil
}

func (a *API) signedFault(err error) []byte {
	env := faultEnvelope(nsDevice, err)
	if out, sErr := a.cfg.Signer.Sign(env); sErr == nil {
		return out
	}
	return env
}

func xsdTime(t time.Time) soap.XSDDateTime {
	if t.IsZero() {
		return soap.XSDDateTime{}
	}
	return soap.CreateXsdDateTime(t.UTC(), true)
}

func goTime(t soap.XSDDateTime) time.Time { return t.ToGoTime() }

func response(c *deviceCall) *device.DeviceResponse {
	return &device.DeviceResponse{MessageId: c.sentID}
}
