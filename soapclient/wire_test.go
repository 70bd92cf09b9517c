package soapclient_test

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/generated/device"
	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/soapclient"
)

var _ = Describe("faults and errors", func() {
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
	answer := func(status int, header http.Header, body string) {
		srv.set(func(s *fakeServer) {
			s.override = func(w http.ResponseWriter, r *http.Request) {
				for k, v := range header {
					w.Header()[k] = v
				}
				w.WriteHeader(status)
				_, _ = io.WriteString(w, body)
			}
		})
	}

	DescribeTable("a SOAP fault becomes a *Fault with its detail",
		func(status int, body []byte, want soapclient.Fault, retry bool) {
			answer(status, http.Header{"Content-Type": {"text/xml; charset=utf-8"}}, string(body))
			_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
			var f *soapclient.Fault
			Expect(errors.As(err, &f)).To(BeTrue(), "%T: %v", err, err)
			Expect(*f).To(Equal(want))
			r, after := soapclient.Retryable(err)
			Expect(r).To(Equal(retry))
			Expect(after).To(Equal(want.RetryAfter))
		},
		Entry("REPLAY, not retryable", 500, faultBody(soapclient.NSDevice, "Client", "REPLAY", false, 0, "already received"),
			soapclient.Fault{HTTPStatus: 500, FaultCode: "Client", FaultString: "already received", Code: "REPLAY", Message: "already received"}, false),
		Entry("UNAVAILABLE, retryable after 30 s", 500, faultBody(soapclient.NSDevice, "Server", "UNAVAILABLE", true, 30, "store down"),
			soapclient.Fault{HTTPStatus: 500, FaultCode: "Server", FaultString: "store down", Code: "UNAVAILABLE", Retryable: true, RetryAfter: 30 * time.Second, Message: "store down"}, true),
		Entry("TOO_LARGE with HTTP 413", 413, faultBody(soapclient.NSDevice, "Client", "TOO_LARGE", false, 0, "over 64 KiB"),
			soapclient.Fault{HTTPStatus: 413, FaultCode: "Client", FaultString: "over 64 KiB", Code: "TOO_LARGE", Message: "over 64 KiB"}, false),
		Entry("a management-namespace detail", 500, faultBody(soapclient.NSManagement, "Client", "FORBIDDEN", false, 0, "no"),
			soapclient.Fault{HTTPStatus: 500, FaultCode: "Client", FaultString: "no", Code: "FORBIDDEN", Message: "no"}, false),
		Entry("a Server fault without detail (a balancer, a crash): retryable", 500, faultBody("", "Server", "", false, 0, "oops"),
			soapclient.Fault{HTTPStatus: 500, FaultCode: "Server", FaultString: "oops"}, true),
		Entry("a Client fault without detail: not retryable", 500, faultBody("", "Client", "", false, 0, "bad"),
			soapclient.Fault{HTTPStatus: 500, FaultCode: "Client", FaultString: "bad"}, false),
		Entry("a detail in a foreign namespace is not interpreted", 500, faultBody("urn:other", "Client", "REPLAY", true, 9, "x"),
			soapclient.Fault{HTTPStatus: 500, FaultCode: "Client", FaultString: "x"}, false),
		Entry("a retry hint past a day is capped", 500, faultBody(soapclient.NSDevice, "Server", "UNAVAILABLE", true, 1<<30, "later"),
			soapclient.Fault{HTTPStatus: 500, FaultCode: "Server", FaultString: "later", Code: "UNAVAILABLE", Retryable: true, RetryAfter: 24 * time.Hour, Message: "later"}, true),
		Entry("fault text is shown, never trusted: line breaks, bidi overrides and length are tamed", 500,
			faultBody(soapclient.NSDevice, "Client", "MALFORMED", false, 0, "line1&#10;FAKE&#x202E;LINE&#9;"+strings.Repeat("x", 600)),
			soapclient.Fault{HTTPStatus: 500, FaultCode: "Client", FaultString: tamed, Code: "MALFORMED", Message: tamed}, false),
	)

	DescribeTable("a non-SOAP HTTP error says what happened",
		func(status int, header http.Header, body string, retry bool, after time.Duration, says string) {
			answer(status, header, body)
			_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
			var he *soapclient.HTTPError
			Expect(errors.As(err, &he)).To(BeTrue(), "%T: %v", err, err)
			Expect(he.StatusCode).To(Equal(status))
			Expect(err.Error()).To(ContainSubstring(says))
			r, a := soapclient.Retryable(err)
			Expect(r).To(Equal(retry))
			Expect(a).To(Equal(after))
		},
		Entry("502 from a balancer", 502, http.Header{"Content-Type": {"text/html"}}, "<html><body>Bad Gateway</body></html>", true, time.Duration(0), "502 Bad Gateway"),
		Entry("503 with Retry-After", 503, http.Header{"Retry-After": {"120"}}, "busy", true, 2*time.Minute, "busy"),
		Entry("429", 429, nil, "", true, time.Duration(0), "429"),
		Entry("404: a wrong URL will not heal", 404, nil, "not found", false, time.Duration(0), "404 Not Found"),
		Entry("500 without a SOAP body", 500, nil, "internal", true, time.Duration(0), "500"),
	)

	It("reports a 200 answer holding a signed fault as that fault", func() {
		srv.set(func(s *fakeServer) {
			s.override = func(w http.ResponseWriter, r *http.Request) {
				signed, err := s.signer.Sign(faultBody(soapclient.NSDevice, "Server", "UNAVAILABLE", true, 5, "later"))
				Expect(err).NotTo(HaveOccurred())
				writeXML(w, http.StatusOK, signed)
			}
		})
		_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
		var f *soapclient.Fault
		Expect(errors.As(err, &f)).To(BeTrue(), "%T: %v", err, err)
		Expect(f.Code).To(Equal("UNAVAILABLE"))
		Expect(f.HTTPStatus).To(Equal(200))
	})

	Describe("Retryable for errors that never reached the server", func() {
		It("retries after a deadline, not after the caller cancelled", func() {
			expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			_, err := d.Heartbeat(expired, &device.Heartbeat{})
			Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue(), "%v", err)
			Expect(err.Error()).To(ContainSubstring("timed out"))
			Expect(soapclient.Retryable(err)).To(BeTrue())

			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			_, err = d.Heartbeat(cancelled, &device.Heartbeat{})
			Expect(errors.Is(err, context.Canceled)).To(BeTrue(), "%v", err)
			Expect(soapclient.Retryable(err)).To(BeFalse())
		})

		It("retries when nothing listens", func() {
			dead := httptest.NewUnstartedServer(http.NotFoundHandler())
			addr := dead.Listener.Addr().String()
			dead.Close()
			d := newDevice(p, srv, func(c *soapclient.DeviceConfig) { c.URL = "https://" + addr + "/soap/device" })
			_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
			var te *soapclient.TransportError
			Expect(errors.As(err, &te)).To(BeTrue(), "%T: %v", err, err)
			Expect(err.Error()).To(ContainSubstring("network error"))
			Expect(soapclient.Retryable(err)).To(BeTrue())
		})

		It("does not retry what could not be built", func() {
			_, err := d.Heartbeat(ctx(), nil)
			Expect(soapclient.Retryable(err)).To(BeFalse())
			Expect(soapclient.Retryable(nil)).To(BeFalse())
		})
	})

	Describe("MaxResponseBytes", func() {
		const limit = 64 << 10

		It("refuses a larger answer from a real server, with or without a Content-Length", func() {
			d := newDevice(p, srv, func(c *soapclient.DeviceConfig) { c.MaxResponseBytes = limit })
			for _, announce := range []bool{true, false} {
				srv.set(func(s *fakeServer) {
					s.override = func(w http.ResponseWriter, r *http.Request) {
						body := strings.Repeat("x", 4*limit)
						if announce {
							w.Header().Set("Content-Length", strconv.Itoa(len(body)))
						}
						_, _ = io.WriteString(w, body)
					}
				})
				_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
				Expect(errors.Is(err, soapclient.ErrResponseTooLarge)).To(BeTrue(), "%v", err)
				var re *soapclient.ResponseError
				Expect(errors.As(err, &re)).To(BeTrue())
			}
		})

		DescribeTable("stops reading at the limit",
			func(contentLength int64, maxRead int64) {
				var read atomic.Int64
				client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
					return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: contentLength,
						Body: io.NopCloser(&endless{n: &read}), Request: r}, nil
				})}
				d := newDevice(p, srv, func(c *soapclient.DeviceConfig) { c.HTTPClient, c.MaxResponseBytes = client, limit })
				_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
				Expect(errors.Is(err, soapclient.ErrResponseTooLarge)).To(BeTrue(), "%v", err)
				Expect(read.Load()).To(BeNumerically("<=", maxRead))
			},
			Entry("an endless body of unknown length: one byte past the limit", int64(-1), int64(limit+1)),
			Entry("an announced length over the limit: nothing at all", int64(1<<40), int64(0)),
		)
	})
})

// tamed is what the client shows of a hostile fault text.
var tamed = "line1 FAKE LINE " + strings.Repeat("x", 512-len("line1 FAKE LINE "))

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// endless is a response body that never ends, counting what is read.
type endless struct{ n *atomic.Int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n.Add(int64(len(p)))
	return len(p), nil
}

var _ = Describe("Config", func() {
	var p *testPKI
	BeforeEach(func() { p = loadPKI() })
	signer := func() *soapclient.DeviceConfig {
		v, err := soapclient.NewServerVerifier(p.roots, nil)
		Expect(err).NotTo(HaveOccurred())
		return &soapclient.DeviceConfig{Config: soapclient.Config{URL: "https://rms.example.com/soap/device"}, Signer: p.dev1.signer(), ServerVerifier: v}
	}

	DescribeTable("validates itself",
		func(mod func(*soapclient.DeviceConfig), says string) {
			cfg := signer()
			mod(cfg)
			_, err := soapclient.NewDevice(*cfg)
			if says == "" {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(err).To(MatchError(ContainSubstring(says)))
		},
		Entry("defaults are valid", func(*soapclient.DeviceConfig) {}, ""),
		Entry("no URL", func(c *soapclient.DeviceConfig) { c.URL = "" }, "URL is required"),
		Entry("http:// refused", func(c *soapclient.DeviceConfig) { c.URL = "http://rms.example.com/soap/device" }, "is not https"),
		Entry("http:// allowed explicitly", func(c *soapclient.DeviceConfig) {
			c.URL, c.AllowInsecureHTTP = "http://127.0.0.1:8080/soap/device", true
		}, ""),
		Entry("another scheme", func(c *soapclient.DeviceConfig) { c.URL = "ftp://rms.example.com/" }, "scheme must be https"),
		Entry("no host", func(c *soapclient.DeviceConfig) { c.URL = "https:///soap" }, "no host"),
		Entry("a timeout within the long-poll", func(c *soapclient.DeviceConfig) { c.Timeout = 25 * time.Second }, "must exceed the 25s long-poll"),
		Entry("no Signer", func(c *soapclient.DeviceConfig) { c.Signer = nil }, "Signer is required"),
		Entry("no ServerVerifier", func(c *soapclient.DeviceConfig) { c.ServerVerifier = nil }, "ServerVerifier is required"),
		Entry("no ServerVerifier, explicitly", func(c *soapclient.DeviceConfig) { c.ServerVerifier, c.InsecureSkipResponseVerify = nil, true }, ""),
	)

	It("requires a user name for management", func() {
		_, err := soapclient.NewManagement(soapclient.ManagementConfig{Config: soapclient.Config{URL: "https://rms.example.com/soap/management"}})
		Expect(err).To(MatchError(ContainSubstring("Username is required")))
		_, err = soapclient.NewManagement(soapclient.ManagementConfig{Config: soapclient.Config{URL: "http://rms.example.com/soap/management"}, Username: "u"})
		Expect(err).To(MatchError(ContainSubstring("is not https")))
	})
})

var _ = Describe("Management client", func() {
	var (
		p   *testPKI
		srv *fakeServer
		m   *soapclient.Management
	)
	BeforeEach(func() {
		p = loadPKI()
		srv = newFakeServer(p, tls.NoClientCert)
		m = newManagement(p, srv.URL+"/soap/management", "s3cret <&>")
	})

	DescribeTable("every ManagementService operation carries the UsernameToken and round-trips",
		func(op string, call func(context.Context, *soapclient.Management) (any, error)) {
			resp, err := call(ctx(), m)
			Expect(err).NotTo(HaveOccurred())
			Expect(resp).NotTo(BeNil())
			reqs := srv.requests()
			Expect(reqs).To(HaveLen(1))
			Expect(reqs[0].action).To(Equal(`"urn:rms:management:v1/` + op + `"`))
			Expect(reqs[0].username).To(Equal("operator"))
			Expect(reqs[0].password).To(Equal("s3cret <&>"))
		},
		Entry(nil, "ListDevices", func(c context.Context, m *soapclient.Management) (any, error) {
			r, err := m.ListDevices(c, &management.ListDevices{Limit: 10})
			if err == nil {
				Expect(r.Device[0].DeviceId).To(Equal("dev-0001"))
				Expect(r.NextPageToken).To(Equal("p2"))
			}
			return r, err
		}),
		Entry(nil, "GetDevice", func(c context.Context, m *soapclient.Management) (any, error) {
			r, err := m.GetDevice(c, &management.GetDevice{DeviceId: "dev-0001"})
			if err == nil {
				Expect(r.Device.GatewayId).To(Equal("gw-1"))
			}
			return r, err
		}),
		Entry(nil, "GetDeviceHistory", func(c context.Context, m *soapclient.Management) (any, error) {
			return m.GetDeviceHistory(c, &management.GetDeviceHistory{DeviceId: "dev-0001"})
		}),
		Entry(nil, "RegisterDevice", func(c context.Context, m *soapclient.Management) (any, error) {
			r, err := m.RegisterDevice(c, &management.RegisterDevice{DeviceId: "dev-0042", Model: "Lyra 9"})
			if err == nil {
				Expect(r.Device.Summary.DeviceId).To(Equal("dev-0042"))
				Expect(r.Device.Summary.Model).To(Equal("Lyra 9"))
				Expect(*r.Device.Summary.State).To(Equal(management.HealthStateOffline))
			}
			return r, err
		}),
		Entry(nil, "RevokeCertificate", func(c context.Context, m *soapclient.Management) (any, error) {
			r, err := m.RevokeCertificate(c, &management.RevokeCertificate{Serial: "B7F3A9", Reason: "stolen"})
			if err == nil {
				Expect(r.Serial).To(Equal("b7f3a9"))
			}
			return r, err
		}),
		Entry(nil, "ListAlarms", func(c context.Context, m *soapclient.Management) (any, error) {
			return m.ListAlarms(c, &management.ListAlarms{})
		}),
		Entry(nil, "AcknowledgeAlarm", func(c context.Context, m *soapclient.Management) (any, error) {
			return m.AcknowledgeAlarm(c, &management.AcknowledgeAlarm{})
		}),
		Entry(nil, "ClearAlarm", func(c context.Context, m *soapclient.Management) (any, error) {
			return m.ClearAlarm(c, &management.ClearAlarm{})
		}),
		Entry(nil, "QueueInstruction", func(c context.Context, m *soapclient.Management) (any, error) {
			return m.QueueInstruction(c, &management.QueueInstruction{})
		}),
		Entry(nil, "GetInstruction", func(c context.Context, m *soapclient.Management) (any, error) {
			return m.GetInstruction(c, &management.GetInstruction{})
		}),
		Entry(nil, "ListInstructions", func(c context.Context, m *soapclient.Management) (any, error) {
			return m.ListInstructions(c, &management.ListInstructions{})
		}),
		Entry(nil, "CancelInstruction", func(c context.Context, m *soapclient.Management) (any, error) {
			r, err := m.CancelInstruction(c, &management.CancelInstruction{InstructionId: "ins-1"})
			if err == nil {
				Expect(r.Instruction.InstructionId).To(Equal("ins-1"))
				Expect(*r.Instruction.Status).To(Equal(management.InstructionStatusCancelled))
			}
			return r, err
		}),
		Entry(nil, "ListUploads", func(c context.Context, m *soapclient.Management) (any, error) {
			return m.ListUploads(c, &management.ListUploads{})
		}),
		Entry(nil, "FetchUpload", func(c context.Context, m *soapclient.Management) (any, error) {
			r, err := m.FetchUpload(c, &management.FetchUpload{UploadId: "u-1"})
			if err == nil {
				Expect(r.Eof).To(BeTrue())
				Expect(soapclient.DecodeBase64Binary(r.Data)).To(Equal([]byte("hello")))
			}
			return r, err
		}),
		Entry(nil, "QueryAudit", func(c context.Context, m *soapclient.Management) (any, error) {
			return m.QueryAudit(c, &management.QueryAudit{})
		}),
	)

	It("has a method for every operation of the management WSDL", func() {
		raw, err := os.ReadFile("../wsdl/management.wsdl")
		Expect(err).NotTo(HaveOccurred())
		var w struct {
			Ops []struct {
				Name string `xml:"name,attr"`
			} `xml:"portType>operation"`
		}
		Expect(xml.Unmarshal(raw, &w)).To(Succeed())
		Expect(w.Ops).NotTo(BeEmpty())
		client := reflect.TypeFor[*soapclient.Management]()
		for _, op := range w.Ops {
			_, ok := client.MethodByName(op.Name)
			Expect(ok).To(BeTrue(), "soapclient.Management has no %s", op.Name)
		}
	})

	It("reports a wrong password as the server's FORBIDDEN fault", func() {
		m := newManagement(p, srv.URL+"/soap/management", "wrong")
		_, err := m.ListAlarms(ctx(), &management.ListAlarms{})
		var f *soapclient.Fault
		Expect(errors.As(err, &f)).To(BeTrue(), "%T: %v", err, err)
		Expect(f.Code).To(Equal("FORBIDDEN"))
		Expect(soapclient.Retryable(err)).To(BeFalse())
	})

	It("refuses an answer that is not the operation's response", func() {
		srv.set(func(s *fakeServer) {
			s.override = func(w http.ResponseWriter, r *http.Request) {
				writeXML(w, 200, []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`+
					`<ListAlarmsResponse xmlns="urn:rms:management:v1"/></soap:Body></soap:Envelope>`))
			}
		})
		_, err := m.GetDevice(ctx(), &management.GetDevice{DeviceId: "dev-0001"})
		var re *soapclient.ResponseError
		Expect(errors.As(err, &re)).To(BeTrue(), "%T: %v", err, err)
	})

	It("refuses a DOCTYPE in an answer before parsing it", func() {
		srv.set(func(s *fakeServer) {
			s.override = func(w http.ResponseWriter, r *http.Request) {
				writeXML(w, 200, []byte(`<!DOCTYPE x [<!ENTITY e "boom">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`+
					`<GetDeviceResponse xmlns="urn:rms:management:v1"/></soap:Body></soap:Envelope>`))
			}
		})
		_, err := m.GetDevice(ctx(), &management.GetDevice{DeviceId: "dev-0001"})
		Expect(err).To(MatchError(ContainSubstring("DOCTYPE")))
	})

	It("talks plain HTTP only when allowed (tests, a local TLS-terminating balancer)", func() {
		plain := httptest.NewServer(http.HandlerFunc(srv.management))
		DeferCleanup(plain.Close)
		m := newManagement(p, plain.URL+"/soap/management", "s3cret <&>", func(c *soapclient.ManagementConfig) { c.AllowInsecureHTTP = true })
		r, err := m.GetDevice(ctx(), &management.GetDevice{DeviceId: "dev-0001"})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Device.AgentVersion).To(Equal("1.2.3"))
	})
})
