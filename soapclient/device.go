package soapclient

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rmsproject/rms/generated/device"
	"github.com/rmsproject/rms/wssec"
)

// DeviceConfig configures a DeviceService client.
type DeviceConfig struct {
	Config
	// Signer signs every request with the device's key. Required.
	Signer *wssec.Signer
	// ServerVerifier checks the server's signature on every response; see
	// NewServerVerifier. Required unless InsecureSkipResponseVerify.
	ServerVerifier *wssec.Verifier
	// InsecureSkipResponseVerify accepts unsigned responses, for tools and
	// load generators that do not act on what they receive. An agent must
	// never set it: it would obey instructions from anyone on the path.
	InsecureSkipResponseVerify bool
}

// Device is a DeviceService client. It is safe for concurrent use.
type Device struct {
	cfg DeviceConfig
}

// NewDevice validates cfg, fills its defaults and returns a client.
func NewDevice(cfg DeviceConfig) (*Device, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("soapclient.NewDevice: %w", err)
	}
	switch {
	case cfg.Signer == nil:
		return nil, errors.New("soapclient.NewDevice: Signer is required")
	case cfg.ServerVerifier == nil && !cfg.InsecureSkipResponseVerify:
		return nil, errors.New("soapclient.NewDevice: ServerVerifier is required (or InsecureSkipResponseVerify, for tools)")
	case cfg.InsecureSkipResponseVerify:
		cfg.Logger.Warn("server response signatures are not verified")
	}
	return &Device{cfg: cfg}, nil
}

// NewServerVerifier returns the verifier a device client needs for server
// responses: signatures must chain to roots (the CA of the server's
// signing certificate) with the server-auth key usage, so no device
// certificate can sign a "server" answer; the server's signing
// certificates, if given, resolve the key identifiers it sends; and an
// in-memory replay guard refuses a response seen before.
func NewServerVerifier(roots *x509.CertPool, now func() time.Time, serverCerts ...*x509.Certificate) (*wssec.Verifier, error) {
	return wssec.NewVerifier(wssec.VerifierConfig{
		Roots:        roots,
		KeyUsage:     x509.ExtKeyUsageServerAuth,
		Certificates: wssec.NewCertSet(serverCerts...),
		// Given certificates are pinned: another certificate from the same
		// CA (a balancer's, a public CA's) does not speak for the server.
		Pinned: serverCerts,
		Replay: &wssec.MemoryReplayGuard{Now: now},
		Now:    now,
	})
}

// NewDeviceFor builds the usual client of one device: its certificate
// presented over TLS, its key signing every request, answers verified
// against roots and the pinned server certificates. base is the server's
// base URL (the client posts to base/soap/device); cfg carries anything
// else (proxy, timeouts), with URL and RootCAs filled here, and
// Certificates too unless a test presents another identity over TLS.
func NewDeviceFor(base string, roots *x509.CertPool, serverCerts []*x509.Certificate, cert *x509.Certificate, key crypto.Signer, cfg Config) (*Device, error) {
	signer, err := wssec.NewSigner(wssec.SignerConfig{Certificate: cert, Key: key})
	if err != nil {
		return nil, fmt.Errorf("soapclient.NewDeviceFor: %w", err)
	}
	verifier, err := NewServerVerifier(roots, cfg.Now, serverCerts...)
	if err != nil {
		return nil, fmt.Errorf("soapclient.NewDeviceFor: %w", err)
	}
	cfg.URL = strings.TrimSuffix(base, "/") + "/soap/device"
	cfg.RootCAs = roots
	if len(cfg.Certificates) == 0 {
		cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}
	}
	return NewDevice(DeviceConfig{Config: cfg, Signer: signer, ServerVerifier: verifier})
}

// DeviceAction is the SOAPAction of a DeviceService operation.
func DeviceAction(op string) string { return NSDevice + "/" + op }

// Heartbeat reports state and metrics; the answer says when to come back.
func (d *Device) Heartbeat(ctx context.Context, req *device.Heartbeat) (*device.HeartbeatResponse, error) {
	return deviceCall[device.HeartbeatResponse](ctx, d, "Heartbeat", req)
}

// ReportAlarms reports raised and cleared alarms.
func (d *Device) ReportAlarms(ctx context.Context, req *device.ReportAlarms) (*device.ReportAlarmsResponse, error) {
	return deviceCall[device.ReportAlarmsResponse](ctx, d, "ReportAlarms", req)
}

// RequestInstructions polls for work; the server may hold it for up to
// LongPollWait.
func (d *Device) RequestInstructions(ctx context.Context, req *device.RequestInstructions) (*device.RequestInstructionsResponse, error) {
	return deviceCall[device.RequestInstructionsResponse](ctx, d, "RequestInstructions", req)
}

// ReportInstructionResult reports the outcome of an instruction.
func (d *Device) ReportInstructionResult(ctx context.Context, req *device.ReportInstructionResult) (*device.ReportInstructionResultResponse, error) {
	return deviceCall[device.ReportInstructionResultResponse](ctx, d, "ReportInstructionResult", req)
}

// BeginUpload starts or resumes an upload.
func (d *Device) BeginUpload(ctx context.Context, req *device.BeginUpload) (*device.BeginUploadResponse, error) {
	return deviceCall[device.BeginUploadResponse](ctx, d, "BeginUpload", req)
}

// UploadChunk sends one chunk. req.Data is sent verbatim and must already
// be base64 text (a gowsdl quirk); build the request with NewUploadChunk.
func (d *Device) UploadChunk(ctx context.Context, req *device.UploadChunk) (*device.UploadChunkResponse, error) {
	return deviceCall[device.UploadChunkResponse](ctx, d, "UploadChunk", req)
}

// CommitUpload finishes an upload.
func (d *Device) CommitUpload(ctx context.Context, req *device.CommitUpload) (*device.CommitUploadResponse, error) {
	return deviceCall[device.CommitUploadResponse](ctx, d, "CommitUpload", req)
}

// ReportAuditEvents forwards the agent's local audit trail.
func (d *Device) ReportAuditEvents(ctx context.Context, req *device.ReportAuditEvents) (*device.ReportAuditEventsResponse, error) {
	return deviceCall[device.ReportAuditEventsResponse](ctx, d, "ReportAuditEvents", req)
}

// NewUploadChunk builds an UploadChunk request from raw bytes: Data holds
// their base64 text (what the generated []byte field must carry) and
// Sha256 the lower-case hex SHA-256 of the raw bytes, as the schema asks.
func NewUploadChunk(uploadID string, offset int64, raw []byte) *device.UploadChunk {
	sum := sha256.Sum256(raw)
	return &device.UploadChunk{
		UploadId: uploadID,
		Offset:   offset,
		Sha256:   hex.EncodeToString(sum[:]),
		Data:     EncodeBase64Binary(raw),
	}
}

// EncodeBase64Binary returns the base64 text of raw, for the generated
// types' base64Binary ([]byte) fields, which encoding/xml writes verbatim.
func EncodeBase64Binary(raw []byte) []byte {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	base64.StdEncoding.Encode(out, raw)
	return out
}

// DecodeBase64Binary decodes a generated base64Binary field (such as
// FetchUploadResponse.Data), which holds the text as received.
func DecodeBase64Binary(text []byte) ([]byte, error) {
	out := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(out, text)
	return out[:n], err
}

// deviceCall is every DeviceService operation: sign, send, verify, decode.
func deviceCall[Resp any](ctx context.Context, d *Device, op string, req any) (*Resp, error) {
	envelope, messageID, err := d.sign(op, req)
	if err != nil {
		return nil, err
	}
	r, err := d.cfg.post(ctx, op, DeviceAction(op), envelope)
	if err != nil {
		return nil, err
	}
	out := new(Resp)
	if err := d.decode(ctx, op, messageID, r, out); err != nil {
		d.cfg.Logger.WithFields(map[string]any{"op": op, "messageId": messageID, "error": err}).Warn("device call failed")
		return nil, err
	}
	return out, nil
}

// Sign fills the request's DeviceRequest (see deviceCall) and returns the
// signed envelope, byte for byte what the typed methods would send; with
// SendSigned it lets tests and load generators re-send exact bytes.
func (d *Device) Sign(op string, req any) ([]byte, error) {
	envelope, _, err := d.sign(op, req)
	return envelope, err
}

// sign fills in the request's idempotency key and time when the caller left
// them empty (modifying req, so the caller learns the id it was sent
// under), and keeps a caller-set messageId: the agent's outbox re-sends a
// message with the id it first had, which is what makes the server apply
// it once.
func (d *Device) sign(op string, req any) (envelope []byte, messageID string, err error) {
	hdr, err := embedded[device.DeviceRequest](req)
	if err != nil {
		return nil, "", fmt.Errorf("soapclient %s: %w", op, err)
	}
	if *hdr == nil {
		*hdr = &device.DeviceRequest{}
	}
	if (*hdr).MessageId == "" {
		(*hdr).MessageId = uuid.NewString()
	}
	if (*hdr).SentAt == (DateTime{}) {
		(*hdr).SentAt = NewDateTime(d.cfg.Now())
	}
	body, err := marshalPayload(op, NSDevice, req)
	if err != nil {
		return nil, "", err
	}
	unsigned := make([]byte, 0, len(body)+160)
	unsigned = append(unsigned, `<soap:Envelope xmlns:soap="`+nsSoap11+`"><soap:Body>`...)
	unsigned = append(unsigned, body...)
	unsigned = append(unsigned, `</soap:Body></soap:Envelope>`...)
	envelope, err = d.cfg.Signer.Sign(unsigned)
	if err != nil {
		return nil, "", fmt.Errorf("soapclient %s: sign: %w", op, err)
	}
	return envelope, (*hdr).MessageId, nil
}

var operationName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// SendSigned posts an already signed envelope under op's SOAPAction and
// returns the response as received, unverified: for load generators that
// pre-sign, and for tests that send exact bytes (replays, tampering). The
// error is non-nil only when no complete response arrived.
func (d *Device) SendSigned(ctx context.Context, op string, signedEnvelope []byte) (*Response, error) {
	if !operationName.MatchString(op) {
		return nil, fmt.Errorf("soapclient.SendSigned: %q is not an operation name", op)
	}
	return d.cfg.post(ctx, op, DeviceAction(op), signedEnvelope)
}

// decode turns the response to op into out, or into the error that says
// why it cannot be trusted.
func (d *Device) decode(ctx context.Context, op, messageID string, r *Response, out any) error {
	if r.Fault != nil {
		if !d.cfg.InsecureSkipResponseVerify {
			_, err := d.payload(ctx, r)
			r.Fault.Verified = err == nil
		}
		return r.Fault
	}
	if r.StatusCode != http.StatusOK {
		return httpError(r)
	}
	p, err := d.payload(ctx, r)
	if err != nil {
		return err
	}
	if err := decodeAnswer(p, xml.Name{Space: NSDevice, Local: op + "Response"}, out); err != nil {
		return err
	}
	hdr, err := embedded[device.DeviceResponse](out)
	if err != nil {
		return fmt.Errorf("soapclient %s: %w", op, err)
	}
	if *hdr == nil || (*hdr).MessageId != messageID {
		got := ""
		if *hdr != nil {
			got = (*hdr).MessageId
		}
		return &ResponseError{Reason: fmt.Sprintf("answers messageId %q, not %q", shown(got), messageID)}
	}
	return nil
}

// payload verifies the server's signature and returns the signed Body's
// payload; only with InsecureSkipResponseVerify does it read an unsigned one.
func (d *Device) payload(ctx context.Context, r *Response) (*payload, error) {
	if d.cfg.InsecureSkipResponseVerify {
		p, err := d.cfg.plainPayload(r.Body)
		if err != nil {
			return nil, &ResponseError{Reason: "malformed", Err: err}
		}
		return p, nil
	}
	var opts []wssec.VerifyOption
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		// The server may sign with its TLS certificate and name it by
		// thumbprint; offering it is no trust decision, Verify still
		// checks it against the roots.
		opts = append(opts, wssec.WithCertificates(r.TLS.PeerCertificates[0]))
	}
	res, err := d.cfg.ServerVerifier.Verify(ctx, r.Body, opts...)
	if err != nil {
		return nil, &ResponseError{Reason: "server signature", Err: err}
	}
	return &payload{name: res.Payload, decode: res.DecodePayload}, nil
}
