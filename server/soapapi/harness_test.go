package soapapi_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/auditlog"
	"github.com/rmsproject/rms/server/auth"
	"github.com/rmsproject/rms/server/batch"
	"github.com/rmsproject/rms/server/ingest"
	"github.com/rmsproject/rms/server/metrics"
	"github.com/rmsproject/rms/server/poller"
	"github.com/rmsproject/rms/server/replay"
	"github.com/rmsproject/rms/server/soapapi"
	"github.com/rmsproject/rms/server/sqlstore"
	"github.com/rmsproject/rms/server/uploads"
	"github.com/rmsproject/rms/soapclient"
	"github.com/rmsproject/rms/wssec"
	"github.com/rmsproject/rms/wssec/pki"
)

// harness is the server of cmd/rms-server/main.go in process: the same
// services over a temporary SQLite store, behind real TLS with the test
// PKI, so every limit is exercised through the wire without a build.
type harness struct {
	srv   *httptest.Server
	store *sqlstore.Store
	URL   string
	// TS lends the testserver client helpers (they need only the URL).
	TS *testserver.Server
}

// startServer wires the services exactly as run() in main.go does, with
// the defaults the binary uses (auto-registration on).
func startServer() *harness {
	GinkgoHelper()
	ctx := context.Background()
	dir := GinkgoT().TempDir()

	pair, err := tls.LoadX509KeyPair(fixtures.Path("pki", "server.crt"), fixtures.Path("pki", "server.key"))
	Expect(err).NotTo(HaveOccurred())
	serverCert, err := x509.ParseCertificate(pair.Certificate[0])
	Expect(err).NotTo(HaveOccurred())
	caPool, _, err := pki.LoadPool(fixtures.Path("pki", "ca.crt"))
	Expect(err).NotTo(HaveOccurred())

	store, err := sqlstore.Open(ctx, sqlstore.Config{URL: "sqlite:" + filepath.Join(dir, "rms.db")})
	Expect(err).NotTo(HaveOccurred())
	var poll *poller.Poller
	m := metrics.New(func() float64 {
		if poll == nil {
			return 0
		}
		return float64(poll.Waiting())
	})
	poll, err = poller.New(store, nil)
	Expect(err).NotTo(HaveOccurred())
	audit, err := auditlog.New(store, batch.Config{Observe: m.BatchObserver("audit")}, nil)
	Expect(err).NotTo(HaveOccurred())
	in, err := ingest.New(ingest.Config{Store: store, Batch: batch.Config{Flushers: 1, Observe: m.BatchObserver("heartbeat")}})
	Expect(err).NotTo(HaveOccurred())
	guard, err := replay.New(store, batch.Config{Flushers: 1, Observe: m.BatchObserver("replay")})
	Expect(err).NotTo(HaveOccurred())

	hash, err := auth.HashPassword(testserver.AdminPassword)
	Expect(err).NotTo(HaveOccurred())
	Expect(store.CreateUser(ctx, server.User{Name: "admin", Role: server.RoleAdmin, PasswordHash: hash, CreatedAt: time.Now()})).To(Succeed())

	up, err := uploads.New(uploads.Config{Dir: filepath.Join(dir, "data"), Store: store})
	Expect(err).NotTo(HaveOccurred())
	authn, err := auth.New(auth.Config{Users: store})
	Expect(err).NotTo(HaveOccurred())
	signer, err := wssec.NewSigner(wssec.SignerConfig{Certificate: serverCert, Key: pair.PrivateKey.(crypto.Signer)})
	Expect(err).NotTo(HaveOccurred())
	verifier := func(maxBytes int) *wssec.Verifier {
		v, err := wssec.NewVerifier(wssec.VerifierConfig{Roots: caPool, Limits: wssec.Limits{MaxBytes: maxBytes}})
		Expect(err).NotTo(HaveOccurred())
		return v
	}
	api, err := soapapi.New(soapapi.Config{Store: store, Ingest: in, Poller: poll, Uploads: up, Auditor: audit,
		Auth: authn, Metrics: m, Verifier: verifier(soapapi.MaxStatusBytes), BulkVerifier: verifier(soapapi.MaxBulkBytes),
		Replay: guard, Signer: signer, AutoRegister: true})
	Expect(err).NotTo(HaveOccurred())

	srv := httptest.NewUnstartedServer(api.Handler())
	srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    caPool,
	}
	srv.StartTLS()
	// Reverse order of start, as main.go's services.close: the server
	// first, then the writers, so what they hold lands before the store
	// closes.
	DeferCleanup(func() {
		poll.Close()
		srv.Close()
		in.Close()
		guard.Close()
		audit.Close()
		Expect(store.Close()).To(Succeed())
	})
	return &harness{srv: srv, store: store, URL: srv.URL, TS: &testserver.Server{URL: srv.URL}}
}

// device is a DeviceService client for a fixture device.
func (h *harness) device(name string) *soapclient.Device {
	GinkgoHelper()
	return h.TS.Device(name)
}

// manager is a ManagementService client logged in as admin.
func (h *harness) manager() *soapclient.Management {
	GinkgoHelper()
	return h.TS.Manager()
}

// signRaw signs a hand-made Body payload as the named fixture device, for
// requests the typed client cannot produce (a missing sentAt, an unknown
// element).
func signRaw(name string, payload []byte) []byte {
	GinkgoHelper()
	cert, key, err := pki.LoadKeyPair(fixtures.Path("pki", "devices", name+".crt"), fixtures.Path("pki", "devices", name+".key"))
	Expect(err).NotTo(HaveOccurred())
	signer, err := wssec.NewSigner(wssec.SignerConfig{Certificate: cert, Key: key})
	Expect(err).NotTo(HaveOccurred())
	env := []byte(`<soap:Envelope xmlns:soap="` + wssec.NSSoap11 + `"><soap:Body>`)
	env = append(env, payload...)
	env = append(env, `</soap:Body></soap:Envelope>`...)
	out, err := signer.Sign(env)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// faultXML is a SOAP 1.1 Fault with the services' FaultDetail.
type faultXML struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
	Detail struct {
		FaultDetail struct {
			Code      string `xml:"code"`
			Retryable bool   `xml:"retryable"`
			Message   string `xml:"message"`
		} `xml:"FaultDetail"`
	} `xml:"detail"`
}

// exchange is one HTTP request and its answer, fault decoded if any.
type exchange struct {
	Status int
	Close  bool // the server asked to close the connection
	Header http.Header
	Body   []byte
	Fault  faultXML
}

// Code is the fault detail's code, "" for a success.
func (e *exchange) Code() string { return e.Fault.Detail.FaultDetail.Code }

// post sends body with the given SOAPAction header (nil: no header).
func post(c *http.Client, method, url string, action *string, body []byte) *exchange {
	GinkgoHelper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	if action != nil {
		req.Header.Set("SOAPAction", *action)
	}
	resp, err := c.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	e := &exchange{Status: resp.StatusCode, Close: resp.Close, Header: resp.Header, Body: raw}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusInternalServerError || resp.StatusCode == http.StatusRequestEntityTooLarge {
		var env struct {
			Body struct {
				Fault *faultXML `xml:"Fault"`
			} `xml:"Body"`
		}
		Expect(xml.Unmarshal(raw, &env)).To(Succeed(), string(raw))
		if env.Body.Fault != nil {
			e.Fault = *env.Body.Fault
		}
	}
	return e
}

func action(s string) *string { return &s }

// lastAudit is the newest audit record. The adapter records before it
// answers, so the record of the request just answered is there.
func (h *harness) lastAudit() server.AuditRecord {
	GinkgoHelper()
	recs, _, err := h.store.QueryAudit(context.Background(), server.AuditFilter{}, server.Page{Limit: 1})
	Expect(err).NotTo(HaveOccurred())
	Expect(recs).NotTo(BeEmpty())
	return recs[0]
}

// expectAudited checks the newest audit record is the refusal of op with
// code, by actor.
func (h *harness) expectAudited(actor, op string, code server.Code) {
	GinkgoHelper()
	r := h.lastAudit()
	Expect(r.Actor).To(Equal(actor))
	Expect(r.Action).To(Equal(op))
	Expect(r.Code).To(Equal(code))
	if server.Retryable(code) {
		Expect(r.Outcome).To(Equal(server.OutcomeFailure))
	} else {
		Expect(r.Outcome).To(Equal(server.OutcomeDenied))
	}
}

// contents counts what device requests can store, so a spec can show a
// refused request stored nothing.
type contents struct {
	Devices, History, Alarms, Uploads, AgentEvents int
	Instructions                                   map[string]server.InstructionStatus
}

func (h *harness) contents() contents {
	GinkgoHelper()
	ctx := context.Background()
	page := server.Page{Limit: server.MaxPageSize}
	devs, _, err := h.store.ListDevices(ctx, server.DeviceFilter{}, page)
	Expect(err).NotTo(HaveOccurred())
	c := contents{Devices: len(devs), Instructions: map[string]server.InstructionStatus{}}
	for _, d := range devs {
		hist, _, err := h.store.DeviceHistory(ctx, server.HistoryFilter{DeviceID: d.ID}, page)
		Expect(err).NotTo(HaveOccurred())
		c.History += len(hist)
	}
	alarms, _, err := h.store.ListAlarms(ctx, server.AlarmFilter{}, page)
	Expect(err).NotTo(HaveOccurred())
	c.Alarms = len(alarms)
	ups, _, err := h.store.ListUploads(ctx, server.UploadFilter{}, page)
	Expect(err).NotTo(HaveOccurred())
	c.Uploads = len(ups)
	for _, u := range ups {
		c.Uploads += int(u.Received) // a moved offset is stored data too
	}
	ins, _, err := h.store.ListInstructions(ctx, server.InstructionFilter{}, page)
	Expect(err).NotTo(HaveOccurred())
	for _, in := range ins {
		c.Instructions[in.ID] = in.Status
	}
	recs, _, err := h.store.QueryAudit(ctx, server.AuditFilter{Actor: "agent:dev-0001"}, page)
	Expect(err).NotTo(HaveOccurred())
	c.AgentEvents = len(recs)
	return c
}
