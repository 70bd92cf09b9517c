package soapclient_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/soapclient"
	"github.com/rmsproject/rms/wssec"
	"github.com/rmsproject/rms/wssec/pki"
)

type identity struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (id identity) tls() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{id.cert.Raw}, PrivateKey: id.key, Leaf: id.cert}
}

func (id identity) signer() *wssec.Signer {
	s, err := wssec.NewSigner(wssec.SignerConfig{Certificate: id.cert, Key: id.key})
	Expect(err).NotTo(HaveOccurred())
	return s
}

// tickingSigner signs with a clock that advances a second per signature.
// The Timestamp has one-second resolution, so two signatures of the same
// request within a second are one message to a replay guard; an agent's
// re-sends are seconds apart, the specs' are microseconds.
func (id identity) tickingSigner() *wssec.Signer {
	var mu sync.Mutex
	t := time.Now()
	s, err := wssec.NewSigner(wssec.SignerConfig{Certificate: id.cert, Key: id.key, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}})
	Expect(err).NotTo(HaveOccurred())
	return s
}

// testPKI is the committed fixture PKI: one CA issues the server's
// certificate (TLS and response signing) and the devices'.
type testPKI struct {
	roots                         *x509.CertPool
	server, dev1, dev2, rogueDev1 identity
}

func loadPKI() *testPKI {
	GinkgoHelper()
	load := func(name string) identity {
		c, k, err := pki.LoadKeyPair(fixtures.Path("pki", name+".crt"), fixtures.Path("pki", name+".key"))
		Expect(err).NotTo(HaveOccurred())
		return identity{c, k}
	}
	roots, _, err := pki.LoadPool(filepath.Join(fixtures.Path("pki"), pki.CACert))
	Expect(err).NotTo(HaveOccurred())
	return &testPKI{roots: roots, server: load("server"), dev1: load("devices/dev-0001"),
		dev2: load("devices/dev-0002"), rogueDev1: load("rogue/dev-0001")}
}

func testLogger() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(GinkgoWriter)
	l.SetLevel(logrus.DebugLevel)
	return logrus.NewEntry(l)
}

// seen is what the fake server observed of one request.
type seen struct {
	action, contentType string
	clientCN            string // from the TLS client certificate
	signer              string // from the envelope signature
	username, password  string
	messageID           string
	sentAt              string
	// proxyAuthorization must stay empty: it is for proxies only.
	proxyAuthorization string
}

// fakeServer is a real TLS endpoint speaking the protocol the way the
// server will: device requests are verified with a wssec.Verifier (and a
// replay guard) and answered with envelopes signed by the server key;
// management requests are read with wssec.ReadUsernameToken. Knobs let a
// spec break one thing at a time.
type fakeServer struct {
	*httptest.Server
	p        *testPKI
	verifier *wssec.Verifier

	mu   sync.Mutex
	seen []seen
	// signer signs device responses (default: the server's key, ticking,
	// since the server re-signs the answer it repeats for a re-sent message).
	signer *wssec.Signer
	// echoID chooses the messageId a device response answers with.
	echoID func(string) string
	// opName chooses the response element name for a device operation.
	opName func(string) string
	// afterSign alters the signed response bytes.
	afterSign func([]byte) []byte
	// replay sends the previous signed response again instead of a new one.
	replay bool
	last   []byte
	// override answers instead of the protocol handler.
	override http.HandlerFunc
}

func newFakeServer(p *testPKI, clientAuth tls.ClientAuthType) *fakeServer {
	v, err := wssec.NewVerifier(wssec.VerifierConfig{Roots: p.roots, Replay: &wssec.MemoryReplayGuard{}})
	Expect(err).NotTo(HaveOccurred())
	s := &fakeServer{p: p, verifier: v, signer: p.server.tickingSigner(),
		echoID: func(id string) string { return id }, opName: func(op string) string { return op }}
	mux := http.NewServeMux()
	mux.HandleFunc("/soap/device", s.device)
	mux.HandleFunc("/soap/management", s.management)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		o := s.override
		s.mu.Unlock()
		if o != nil {
			o(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{p.server.tls()}, ClientAuth: clientAuth, ClientCAs: p.roots}
	s.StartTLS()
	DeferCleanup(s.Close)
	return s
}

func (s *fakeServer) set(f func(s *fakeServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *fakeServer) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.seen...)
}

func (s *fakeServer) record(r *http.Request, x seen) {
	x.action, x.contentType = r.Header.Get("SOAPAction"), r.Header.Get("Content-Type")
	x.proxyAuthorization = r.Header.Get("Proxy-Authorization")
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		x.clientCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, x)
}

// deviceAnswers is what the fake server puts after the messageId of each
// response, so every generated response type is decoded with content.
var deviceAnswers = map[string]string{
	"Heartbeat":               `<serverTime>2026-11-23T10:15:00Z</serverTime><nextIntervalSeconds>60</nextIntervalSeconds><instructionsPending>true</instructionsPending>`,
	"ReportAlarms":            `<accepted>2</accepted>`,
	"RequestInstructions":     `<instruction><id>i-1</id><type>RunDiagnostic</type><parameter name="level" value="full"/></instruction>`,
	"ReportInstructionResult": `<cancel>true</cancel>`,
	"BeginUpload":             `<uploadId>u-1</uploadId><maxChunkBytes>65536</maxChunkBytes>`,
	"CommitUpload":            `<size>11</size><sha256>b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9</sha256>`,
	"ReportAuditEvents":       `<lastSequence>7</lastSequence>`,
}

func (s *fakeServer) device(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var peer []*x509.Certificate
	if r.TLS != nil {
		peer = r.TLS.PeerCertificates
	}
	res, err := s.verifier.Verify(r.Context(), raw, wssec.WithCertificates(peer...))
	if err != nil {
		code := wssec.CodeOf(err)
		writeFault(w, http.StatusInternalServerError, soapclient.NSDevice, "Client", string(code), code == wssec.CodeUnavailable, 0, err.(*wssec.Error).Reason)
		return
	}
	var req struct {
		MessageID string `xml:"messageId"`
		SentAt    string `xml:"sentAt"`
		Data      string `xml:"data"`
		Sha256    string `xml:"sha256"`
	}
	Expect(res.DecodePayload(&req)).To(Succeed())
	s.record(r, seen{signer: res.Identity, messageID: req.MessageID, sentAt: req.SentAt})
	op := res.Payload.Local
	answer := deviceAnswers[op]
	if op == "UploadChunk" {
		// The chunk must arrive as base64 of the raw bytes whose hash it names.
		data, err := base64.StdEncoding.DecodeString(req.Data)
		sum := sha256.Sum256(data)
		if err != nil || hex.EncodeToString(sum[:]) != req.Sha256 {
			writeFault(w, http.StatusInternalServerError, soapclient.NSDevice, "Client", "MALFORMED", false, 0, "chunk hash mismatch")
			return
		}
		answer = fmt.Sprintf("<nextOffset>%d</nextOffset>", len(data))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replay && s.last != nil {
		writeXML(w, http.StatusOK, s.last)
		return
	}
	name := s.opName(op) + "Response"
	env := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
		`<` + name + ` xmlns="urn:rms:device:v1"><messageId>` + s.echoID(req.MessageID) + `</messageId>` + answer +
		`</` + name + `></soap:Body></soap:Envelope>`
	signed, err := s.signer.Sign([]byte(env))
	Expect(err).NotTo(HaveOccurred())
	if s.afterSign != nil {
		signed = s.afterSign(signed)
	}
	s.last = signed
	writeXML(w, http.StatusOK, signed)
}

// managementAnswers use a prefix (as zeep and WCF servers do) where the
// device answers use a default namespace, so both forms are decoded.
var managementAnswers = map[string]string{
	"GetDevice":   `<m:device><m:gatewayId>gw-1</m:gatewayId><m:agentVersion>1.2.3</m:agentVersion></m:device>`,
	"FetchUpload": `<m:uploadId>u-1</m:uploadId><m:size>5</m:size><m:eof>true</m:eof><m:data>aGVsbG8=</m:data>`,
	"ListDevices": `<m:device><m:deviceId>dev-0001</m:deviceId></m:device><m:nextPageToken>p2</m:nextPageToken>`,
	"RegisterDevice": `<m:device><m:summary><m:deviceId>dev-0042</m:deviceId><m:model>Lyra 9</m:model>` +
		`<m:state>offline</m:state></m:summary></m:device>`,
	"RevokeCertificate": `<m:serial>b7f3a9</m:serial>`,
	"CancelInstruction": `<m:instruction><m:instructionId>ins-1</m:instructionId><m:status>cancelled</m:status></m:instruction>`,
}

func (s *fakeServer) management(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	req, err := wssec.ReadUsernameToken(raw, wssec.Limits{})
	if err != nil {
		writeFault(w, http.StatusInternalServerError, soapclient.NSManagement, "Client", string(wssec.CodeOf(err)), false, 0, err.(*wssec.Error).Reason)
		return
	}
	s.record(r, seen{username: req.Username, password: req.Password})
	if req.Username != "operator" || req.Password != "s3cret <&>" {
		writeFault(w, http.StatusInternalServerError, soapclient.NSManagement, "Client", "FORBIDDEN", false, 0, "wrong user name or password")
		return
	}
	name := req.Payload.Local + "Response"
	writeXML(w, http.StatusOK, []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`+
		`<m:`+name+` xmlns:m="urn:rms:management:v1">`+managementAnswers[req.Payload.Local]+
		`</m:`+name+`></soap:Body></soap:Envelope>`))
}

func writeXML(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// faultBody is a SOAP 1.1 fault with a FaultDetail in namespace ns (no
// detail when code is empty).
func faultBody(ns, faultcode, code string, retryable bool, retryAfter int, message string) []byte {
	detail := ""
	if code != "" {
		detail = fmt.Sprintf(`<detail><d:FaultDetail xmlns:d="%s"><d:code>%s</d:code><d:retryable>%t</d:retryable>`+
			`<d:retryAfterSeconds>%d</d:retryAfterSeconds><d:message>%s</d:message></d:FaultDetail></detail>`, ns, code, retryable, retryAfter, message)
	}
	return []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>` +
		`<faultcode>soap:` + faultcode + `</faultcode><faultstring>` + message + `</faultstring>` + detail +
		`</soap:Fault></soap:Body></soap:Envelope>`)
}

func writeFault(w http.ResponseWriter, status int, ns, faultcode, code string, retryable bool, retryAfter int, message string) {
	writeXML(w, status, faultBody(ns, faultcode, code, retryable, retryAfter, message))
}

// newDevice returns a client for dev-0001 against srv, adjusted by mods.
func newDevice(p *testPKI, srv *fakeServer, mods ...func(*soapclient.DeviceConfig)) *soapclient.Device {
	GinkgoHelper()
	verifier, err := soapclient.NewServerVerifier(p.roots, nil, p.server.cert)
	Expect(err).NotTo(HaveOccurred())
	cfg := soapclient.DeviceConfig{
		Config: soapclient.Config{
			URL:          srv.URL + "/soap/device",
			RootCAs:      p.roots,
			Certificates: []tls.Certificate{p.dev1.tls()},
			Logger:       testLogger(),
		},
		Signer:         p.dev1.tickingSigner(),
		ServerVerifier: verifier,
	}
	for _, m := range mods {
		m(&cfg)
	}
	d, err := soapclient.NewDevice(cfg)
	Expect(err).NotTo(HaveOccurred())
	return d
}

func newManagement(p *testPKI, url, password string, mods ...func(*soapclient.ManagementConfig)) *soapclient.Management {
	GinkgoHelper()
	cfg := soapclient.ManagementConfig{
		Config:   soapclient.Config{URL: url, RootCAs: p.roots},
		Username: "operator",
		Password: password,
	}
	for _, m := range mods {
		m(&cfg)
	}
	m, err := soapclient.NewManagement(cfg)
	Expect(err).NotTo(HaveOccurred())
	return m
}

func ptr[T any](v T) *T { return &v }

func ctx() context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	DeferCleanup(cancel)
	return c
}

func x509PoolOf(ids ...identity) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, id := range ids {
		pool.AddCert(id.cert)
	}
	return pool
}
