package soapclient_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/hooklift/gowsdl/soap"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/generated/device"
	"github.com/rmsproject/rms/soapclient"
	"github.com/rmsproject/rms/wssec"
)

// refusedWith asserts err is a *ResponseError whose cause carries code.
func refusedWith(err error, code wssec.Code) {
	GinkgoHelper()
	var re *soapclient.ResponseError
	Expect(errors.As(err, &re)).To(BeTrue(), "want a *ResponseError, got %T: %v", err, err)
	Expect(wssec.CodeOf(re.Err)).To(Equal(code), "%v", err)
	retry, _ := soapclient.Retryable(err)
	Expect(retry).To(BeTrue(), "an untrusted answer may be asked for again")
}

var _ = Describe("Device client", func() {
	var (
		p   *testPKI
		srv *fakeServer
		d   *soapclient.Device
	)
	BeforeEach(func() {
		p = loadPKI()
		srv = newFakeServer(p, tls.RequireAndVerifyClientCert)
		d = newDevice(p, srv)
	})

	DescribeTable("every DeviceService operation round-trips over mTLS with signatures both ways",
		func(op string, call func(context.Context, *soapclient.Device) (any, error), check func(any)) {
			resp, err := call(ctx(), d)
			Expect(err).NotTo(HaveOccurred())
			check(resp)

			reqs := srv.requests()
			Expect(reqs).To(HaveLen(1))
			r := reqs[0]
			Expect(r.action).To(Equal(`"urn:rms:device:v1/` + op + `"`))
			Expect(r.contentType).To(Equal("text/xml; charset=utf-8"))
			Expect(r.clientCN).To(Equal("dev-0001"), "the client certificate is presented")
			Expect(r.signer).To(Equal("dev-0001"))
			id, err := uuid.Parse(r.messageID)
			Expect(err).NotTo(HaveOccurred())
			Expect(id.Version()).To(Equal(uuid.Version(4)))
			sentAt, err := time.Parse(time.RFC3339, r.sentAt)
			Expect(err).NotTo(HaveOccurred())
			Expect(sentAt.Location()).To(Equal(time.UTC))
		},
		Entry(nil, "Heartbeat", func(c context.Context, d *soapclient.Device) (any, error) {
			return d.Heartbeat(c, &device.Heartbeat{State: ptr(device.HealthStateOk), Metric: []*device.Metric{{Name: "cpu", Value: 12.5, Unit: "%"}}})
		}, func(r any) {
			hb := r.(*device.HeartbeatResponse)
			Expect(hb.NextIntervalSeconds).To(Equal(int32(60)))
			Expect(hb.InstructionsPending).To(BeTrue())
			Expect(hb.ServerTime.ToGoTime()).To(Equal(time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC)))
		}),
		Entry(nil, "ReportAlarms", func(c context.Context, d *soapclient.Device) (any, error) {
			return d.ReportAlarms(c, &device.ReportAlarms{Alarm: []*device.Alarm{{Code: "TEMP_HIGH", Severity: ptr(device.SeverityMajor),
				RaisedAt: soap.CreateXsdDateTime(time.Now().UTC(), true)}}})
		}, func(r any) { Expect(r.(*device.ReportAlarmsResponse).Accepted).To(Equal(int32(2))) }),
		Entry(nil, "RequestInstructions", func(c context.Context, d *soapclient.Device) (any, error) {
			return d.RequestInstructions(c, &device.RequestInstructions{WaitSeconds: 20})
		}, func(r any) {
			in := r.(*device.RequestInstructionsResponse).Instruction
			Expect(in).To(HaveLen(1))
			Expect(in[0].Id).To(Equal("i-1"))
			Expect(in[0].Parameter[0].Value).To(Equal("full"))
		}),
		Entry(nil, "ReportInstructionResult", func(c context.Context, d *soapclient.Device) (any, error) {
			return d.ReportInstructionResult(c, &device.ReportInstructionResult{InstructionId: "i-1", Status: ptr(device.InstructionStatusSucceeded)})
		}, func(r any) { Expect(r.(*device.ReportInstructionResultResponse).Cancel).To(BeTrue()) }),
		Entry(nil, "BeginUpload", func(c context.Context, d *soapclient.Device) (any, error) {
			return d.BeginUpload(c, &device.BeginUpload{Name: "log.txt", Kind: ptr(device.UploadKindLog), Size: 11})
		}, func(r any) {
			Expect(r.(*device.BeginUploadResponse).UploadId).To(Equal("u-1"))
			Expect(r.(*device.BeginUploadResponse).MaxChunkBytes).To(Equal(int32(65536)))
		}),
		Entry("UploadChunk (raw bytes base64-encoded by NewUploadChunk, hash checked by the server)", "UploadChunk",
			func(c context.Context, d *soapclient.Device) (any, error) {
				return d.UploadChunk(c, soapclient.NewUploadChunk("u-1", 0, []byte("hello <&> \x00\xff world")))
			}, func(r any) { Expect(r.(*device.UploadChunkResponse).NextOffset).To(Equal(int64(18))) }),
		Entry(nil, "CommitUpload", func(c context.Context, d *soapclient.Device) (any, error) {
			return d.CommitUpload(c, &device.CommitUpload{UploadId: "u-1"})
		}, func(r any) { Expect(r.(*device.CommitUploadResponse).Size).To(Equal(int64(11))) }),
		Entry(nil, "ReportAuditEvents", func(c context.Context, d *soapclient.Device) (any, error) {
			return d.ReportAuditEvents(c, &device.ReportAuditEvents{Event: []*device.AuditEvent{{Sequence: 7, Action: "login",
				Time: soap.CreateXsdDateTime(time.Now().UTC(), true)}}})
		}, func(r any) { Expect(r.(*device.ReportAuditEventsResponse).LastSequence).To(Equal(int64(7))) }),
	)

	It("fills an empty DeviceRequest in place and keeps a caller-set messageId and sentAt", func() {
		fresh := &device.Heartbeat{}
		_, err := d.Heartbeat(ctx(), fresh)
		Expect(err).NotTo(HaveOccurred())
		Expect(fresh.DeviceRequest).NotTo(BeNil())
		Expect(fresh.MessageId).To(Equal(srv.requests()[0].messageID), "the caller learns the id it was sent under")

		sentAt := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		resend := &device.Heartbeat{DeviceRequest: &device.DeviceRequest{MessageId: "6b0f4a52-3c1e-4d8f-9a27-e5b1c8d0f314",
			SentAt: soap.CreateXsdDateTime(sentAt, true)}}
		_, err = d.Heartbeat(ctx(), resend)
		Expect(err).NotTo(HaveOccurred())
		Expect(srv.requests()[1].messageID).To(Equal("6b0f4a52-3c1e-4d8f-9a27-e5b1c8d0f314"))
		Expect(srv.requests()[1].sentAt).To(Equal("2026-11-23T09:00:00Z"))

		// An outbox re-send of the same message is signed afresh, so it is
		// not a replay: the server answers it (again) under the same id.
		_, err = d.Heartbeat(ctx(), resend)
		Expect(err).NotTo(HaveOccurred())
		Expect(srv.requests()[2].messageID).To(Equal("6b0f4a52-3c1e-4d8f-9a27-e5b1c8d0f314"))
	})

	It("serves an agent that knows only soapclient's re-exported types", func() {
		resp, err := d.ReportAlarms(ctx(), &soapclient.ReportAlarms{Alarm: []*soapclient.Alarm{{Code: "TEMP_HIGH",
			Severity: ptr(soapclient.SeverityCritical), RaisedAt: soapclient.NewDateTime(time.Now())}}})
		Expect(err).NotTo(HaveOccurred())
		var _ *soapclient.ReportAlarmsResponse = resp
		Expect(soapclient.NewDateTime(time.Time{})).To(Equal(soapclient.DateTime{}))
	})

	It("resolves the server's signing certificate from the TLS connection when not configured", func() {
		verifier, err := soapclient.NewServerVerifier(p.roots, nil)
		Expect(err).NotTo(HaveOccurred())
		d := newDevice(p, srv, func(c *soapclient.DeviceConfig) { c.ServerVerifier = verifier })
		_, err = d.Heartbeat(ctx(), &device.Heartbeat{})
		Expect(err).NotTo(HaveOccurred())
	})

	Describe("refuses a response it cannot trust", func() {
		It("with a body changed after signing", func() {
			srv.set(func(s *fakeServer) {
				s.afterSign = func(b []byte) []byte { return bytes.Replace(b, []byte("<accepted>2<"), []byte("<accepted>9<"), 1) }
			})
			_, err := d.ReportAlarms(ctx(), &device.ReportAlarms{})
			refusedWith(err, wssec.CodeBadSignature)
		})

		DescribeTable("signed by a key that is not the server's",
			func(which func(*testPKI) identity) {
				srv.set(func(s *fakeServer) {
					s.signer = must(wssec.NewSigner(wssec.SignerConfig{Certificate: which(p).cert, Key: which(p).key, Reference: wssec.RefBinarySecurityToken}))
				})
				_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
				refusedWith(err, wssec.CodeBadSignature)
			},
			Entry("a device certificate from the same CA (client-auth only)", func(p *testPKI) identity { return p.dev2 }),
			Entry("a self-signed certificate", func(p *testPKI) identity { return p.rogueDev1 }),
		)

		It("without a signature", func() {
			srv.set(func(s *fakeServer) {
				s.override = func(w http.ResponseWriter, r *http.Request) {
					writeXML(w, http.StatusOK, []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`+
						`<HeartbeatResponse xmlns="urn:rms:device:v1"><messageId>x</messageId></HeartbeatResponse></soap:Body></soap:Envelope>`))
				}
			})
			_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
			refusedWith(err, wssec.CodeBadSignature)
		})

		It("replayed: the same signed answer twice", func() {
			req := &device.Heartbeat{DeviceRequest: &device.DeviceRequest{MessageId: "6b0f4a52-3c1e-4d8f-9a27-e5b1c8d0f314"}}
			_, err := d.Heartbeat(ctx(), req)
			Expect(err).NotTo(HaveOccurred())
			srv.set(func(s *fakeServer) { s.replay = true })
			_, err = d.Heartbeat(ctx(), req)
			refusedWith(err, wssec.CodeReplay)
		})

		It("answering another messageId", func() {
			srv.set(func(s *fakeServer) { s.echoID = func(string) string { return "00000000-0000-4000-8000-000000000000" } })
			_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
			var re *soapclient.ResponseError
			Expect(errors.As(err, &re)).To(BeTrue(), "%v", err)
			Expect(re.Reason).To(ContainSubstring("messageId"))
		})

		It("holding another operation's response", func() {
			srv.set(func(s *fakeServer) { s.opName = func(string) string { return "Heartbeat" } })
			_, err := d.ReportAlarms(ctx(), &device.ReportAlarms{})
			var re *soapclient.ResponseError
			Expect(errors.As(err, &re)).To(BeTrue(), "%v", err)
			Expect(re.Reason).To(ContainSubstring("expected {urn:rms:device:v1}ReportAlarmsResponse"))
		})
	})

	It("signs exact bytes that SendSigned can send again, which the server refuses as a replay", func() {
		signed, err := d.Sign("Heartbeat", &device.Heartbeat{})
		Expect(err).NotTo(HaveOccurred())

		r, err := d.SendSigned(ctx(), "Heartbeat", signed)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.StatusCode).To(Equal(http.StatusOK))
		Expect(r.Fault).To(BeNil())
		Expect(string(r.Body)).To(ContainSubstring("HeartbeatResponse"))

		r, err = d.SendSigned(ctx(), "Heartbeat", signed)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.StatusCode).To(Equal(http.StatusInternalServerError))
		Expect(r.Fault).NotTo(BeNil())
		Expect(r.Fault.Code).To(Equal("REPLAY"))
		Expect(r.Fault.FaultCode).To(Equal("Client"))
	})

	It("refuses to sign a request under another operation's name", func() {
		_, err := d.Sign("ReportAlarms", &device.Heartbeat{})
		Expect(err).To(MatchError(ContainSubstring("is not a {urn:rms:device:v1}ReportAlarms")))
		_, err = d.Heartbeat(ctx(), nil)
		Expect(err).To(HaveOccurred())
		_, err = d.SendSigned(ctx(), "Heart\"beat", nil)
		Expect(err).To(HaveOccurred())
		Expect(srv.requests()).To(BeEmpty())
	})

	It("works without response verification for tools that ask for it", func() {
		d := newDevice(p, srv, func(c *soapclient.DeviceConfig) { c.ServerVerifier, c.InsecureSkipResponseVerify = nil, true })
		srv.set(func(s *fakeServer) { s.signer = p.dev2.signer() })
		resp, err := d.Heartbeat(ctx(), &device.Heartbeat{})
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.NextIntervalSeconds).To(Equal(int32(60)))
	})

	Describe("TLS", func() {
		It("fails without a client certificate when the server requires one, and says it is TLS", func() {
			d := newDevice(p, srv, func(c *soapclient.DeviceConfig) { c.Certificates = nil })
			_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
			var te *soapclient.TransportError
			Expect(errors.As(err, &te)).To(BeTrue(), "%T: %v", err, err)
			Expect(err.Error()).To(ContainSubstring("TLS"))
			retry, _ := soapclient.Retryable(err)
			Expect(retry).To(BeTrue())
		})

		It("refuses a server whose certificate is not from the pinned CA", func() {
			d := newDevice(p, srv, func(c *soapclient.DeviceConfig) { c.RootCAs = x509PoolOf(p.rogueDev1) })
			_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
			Expect(err).To(MatchError(ContainSubstring("not issued by a trusted CA")))
			Expect(srv.requests()).To(BeEmpty())
		})

		It("resumes the TLS session on a new connection", func() {
			srv.Config.SetKeepAlivesEnabled(false)
			var resumed []bool
			for range 2 {
				signed, err := d.Sign("Heartbeat", &device.Heartbeat{})
				Expect(err).NotTo(HaveOccurred())
				r, err := d.SendSigned(ctx(), "Heartbeat", signed)
				Expect(err).NotTo(HaveOccurred())
				Expect(r.StatusCode).To(Equal(http.StatusOK))
				resumed = append(resumed, r.TLS.DidResume)
			}
			Expect(resumed).To(Equal([]bool{false, true}))
			Expect(srv.requests()[1].clientCN).To(Equal("dev-0001"), "a resumed session still carries the client identity")
		})

		It("uses a given tls.Config, raising its minimum version", func() {
			d := newDevice(p, srv, func(c *soapclient.DeviceConfig) {
				c.TLS = &tls.Config{RootCAs: p.roots, Certificates: []tls.Certificate{p.dev1.tls()}, MinVersion: tls.VersionTLS10}
			})
			_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
			Expect(err).NotTo(HaveOccurred())
		})
	})
})

func must[T any](v T, err error) T {
	GinkgoHelper()
	Expect(err).NotTo(HaveOccurred())
	return v
}
