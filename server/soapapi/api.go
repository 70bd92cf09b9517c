package soapapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/metrics"
	"github.com/rmsproject/rms/wssec"
)

// Config wires the adapter to the services. Everything but Logger, Now and
// the limits is required.
type Config struct {
	Store   server.Store
	Ingest  server.Ingest
	Poller  server.InstructionPoller
	Uploads server.Uploads
	Auditor server.Auditor
	Auth    server.Authenticator
	Metrics *metrics.Metrics

	// Verifier checks status messages; BulkVerifier checks UploadChunk,
	// whose envelopes may be larger (see Limits). Both without a replay
	// guard: the pipeline consults Replay itself, after the identity
	// checks, as the security model orders it.
	Verifier     *wssec.Verifier
	BulkVerifier *wssec.Verifier
	Replay       wssec.ReplayGuard
	// Signer signs every response and fault sent to a device.
	Signer *wssec.Signer

	// AutoRegister lets devices with CA-issued certificates register on
	// first contact; when false they must be pre-registered.
	AutoRegister bool
	// MaxManagementBytes caps a management request (default 256 KiB).
	MaxManagementBytes int
	// AdmitCacheTTL is how long a device's admission (registered, serial not
	// revoked) is remembered in memory (default 30s). Revocations clear it
	// at once through the store's notifications; the TTL bounds how long a
	// missed notification could matter.
	AdmitCacheTTL time.Duration
	// PublicURL, if set, is the base URL (scheme and host) written into
	// served WSDLs instead of the address each client used.
	PublicURL string

	Logger *logrus.Entry
	Now    func() time.Time
}

// Limits on requests. The bulk limit admits one upload chunk (256 KiB raw,
// base64 on the wire) with its envelope.
const (
	MaxStatusBytes        = wssec.DefaultMaxBytes
	MaxBulkBytes          = 512 << 10
	DefaultManagementSize = 256 << 10
)

func (c *Config) validate() error {
	if c.Store == nil || c.Ingest == nil || c.Poller == nil || c.Uploads == nil || c.Auditor == nil ||
		c.Auth == nil || c.Metrics == nil || c.Verifier == nil || c.BulkVerifier == nil || c.Replay == nil || c.Signer == nil {
		return errors.New("soapapi: Store, Ingest, Poller, Uploads, Auditor, Auth, Metrics, Verifier, BulkVerifier, Replay and Signer are required")
	}
	if c.MaxManagementBytes <= 0 {
		c.MaxManagementBytes = DefaultManagementSize
	}
	if c.AdmitCacheTTL <= 0 {
		c.AdmitCacheTTL = 30 * time.Second
	}
	if c.Logger == nil {
		l := logrus.New()
		l.SetOutput(nopWriter{})
		c.Logger = logrus.NewEntry(l)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// API serves both endpoints.
type API struct {
	cfg        Config
	log        *logrus.Entry
	device     *contract
	management *contract

	admitMu sync.Mutex
	admit   map[string]admission
	// admitGen counts revocations, so an admission read from the store
	// before a revocation is not cached after it.
	admitGen  uint64
	stopWatch func()
}

type admission struct {
	serial string
	until  time.Time
}

// New checks cfg and loads the contracts.
func New(cfg Config) (*API, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dev, err := loadContract("device.wsdl", "device.xsd", "https://localhost:8443/soap/device")
	if err != nil {
		return nil, err
	}
	mgmt, err := loadContract("management.wsdl", "management.xsd", "https://localhost:8443/soap/manage")
	if err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, log: cfg.Logger.WithField("component", "soapapi"), device: dev, management: mgmt,
		admit: map[string]admission{}}
	// A revocation on any replica reaches this one's admission cache at
	// once (the store relays it through LISTEN/NOTIFY on PostgreSQL).
	a.stopWatch = cfg.Store.WatchRevocations(a.forgetSerial)
	return a, nil
}

// Close stops listening for revocations.
func (a *API) Close() { a.stopWatch() }

// Handler routes the SOAP endpoints and the operational ones: /healthz
// (the process serves), /readyz (the store answers and is migrated) and
// /metrics.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/soap/device", a.serveDevice)
	mux.HandleFunc("/soap/manage", a.serveManagement)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.cfg.Store.Ping(ctx); err != nil {
			a.cfg.Metrics.StoreError("ping")
			http.Error(w, "not ready: "+server.MessageOf(err), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", a.cfg.Metrics.Handler())
	return mux
}

// exchange is what differs between the two endpoints' request handling;
// API.exchange does the rest the same way for both.
type exchange struct {
	service  string // "device" or "management": metrics label
	title    string // the WSDL service name, for the 405 text
	contract *contract
	// handle answers a POST with the response envelope.
	handle func(r *http.Request) ([]byte, error)
	// op names the operation once handle returned (for metrics).
	op func() string
	// fault renders an error as the service's fault envelope.
	fault func(error) []byte
	// audit records the request's outcome.
	audit  func(ctx context.Context, err error)
	fields func() logrus.Fields
}

// exchange serves GET ?wsdl|?xsd and POSTed SOAP: every POST gets an
// answer or a fault (413 for an oversized body, 500 otherwise, with the
// connection closed after an oversized one), an audit record and a metric.
func (a *API) exchange(w http.ResponseWriter, r *http.Request, x exchange) {
	if r.Method == http.MethodGet && x.contract.serve(w, r, endpointURL(r, a.cfg.PublicURL)) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, x.title+" takes SOAP over POST; GET ?wsdl for its contract", http.StatusMethodNotAllowed)
		return
	}
	start := a.cfg.Now()
	body, err := x.handle(r)
	code := server.CodeOf(err)
	status := http.StatusOK
	if err != nil {
		// A client that hung up is not the server's trouble.
		if (code == server.CodeInternal || code == server.CodeUnavailable) && r.Context().Err() == nil {
			a.log.WithError(err).WithFields(x.fields()).Warn(x.service + " request failed")
		}
		status = faultStatus(code)
		body = x.fault(err)
		if code == server.CodeTooLarge {
			w.Header().Set("Connection", "close")
		}
	}
	x.audit(r.Context(), err)
	writeXML(w, status, body)
	a.cfg.Metrics.Request(x.service, x.op(), string(code), a.cfg.Now().Sub(start))
}
