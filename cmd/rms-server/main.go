package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	golog "log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

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
	"github.com/rmsproject/rms/wssec"
	"github.com/rmsproject/rms/wssec/pki"
)

// defaultGCPercent trades memory the server has plenty of (its heap is tens
// of MiB) for CPU it has little of: at GOGC=100 a loaded server spends a
// tenth of its time marking; at 400, measured, it serves 9% more heartbeats.
// GOGC in the environment still wins.
const defaultGCPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rms-server:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "rms-server:", err)
		os.Exit(1)
	}
}

func newLogger(cfg *config, out io.Writer) (*logrus.Entry, error) {
	l := logrus.New()
	l.SetOutput(out)
	if cfg.LogFormat == "json" {
		l.SetFormatter(&logrus.JSONFormatter{})
	}
	lvl, err := logrus.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	l.SetLevel(lvl)
	return logrus.NewEntry(l), nil
}

// tlsConfig allows TLS 1.2 with AES-256-GCM suites only, and TLS 1.3. It
// asks for a client certificate but does not demand one, because operators
// authenticate with passwords; the device endpoint demands a verified one.
func tlsConfig(cfg *config) (*tls.Config, *x509.CertPool, *x509.Certificate, *tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("server certificate: %w", err)
	}
	pool, _, err := pki.LoadPool(cfg.ClientCA)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("client CA: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		},
	}, pool, leaf, &pair, nil
}

// services is everything run wires together, for orderly shutdown.
type services struct {
	store   *sqlstore.Store
	ingest  *ingest.Ingester
	audit   *auditlog.Log
	replay  *replay.Guard
	metrics *metrics.Metrics
}

func (s *services) close() {
	// Writers first, so what they hold lands before the store closes.
	if s.ingest != nil {
		s.ingest.Close()
	}
	if s.replay != nil {
		s.replay.Close()
	}
	if s.audit != nil {
		s.audit.Close()
	}
	if s.store != nil {
		_ = s.store.Close()
	}
}

func run(ctx context.Context, cfg *config, stdout io.Writer, getenv func(string) string) error {
	log, err := newLogger(cfg, os.Stderr)
	if err != nil {
		return err
	}
	tlsCfg, caPool, serverCert, pair, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	store, err := sqlstore.Open(ctx, sqlstore.Config{URL: cfg.DB, Logger: log.WithField("component", "store")})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	svc := &services{store: store}
	defer svc.close()

	var poll *poller.Poller
	svc.metrics = metrics.New(func() float64 {
		if poll == nil {
			return 0
		}
		return float64(poll.Waiting())
	})
	if poll, err = poller.New(store, nil); err != nil {
		return err
	}
	if svc.audit, err = auditlog.New(store, batch.Config{Observe: svc.metrics.BatchObserver("audit")}, nil); err != nil {
		return err
	}
	if svc.ingest, err = ingest.New(ingest.Config{Store: store, Batch: batch.Config{
		Observe: svc.metrics.BatchObserver("heartbeat")}}); err != nil {
		return err
	}
	if svc.replay, err = replay.New(store, batch.Config{Observe: svc.metrics.BatchObserver("replay")}); err != nil {
		return err
	}
	system := func(action, detail string) {
		e := server.AuditEntry{Actor: "system", Action: action, Outcome: server.OutcomeSuccess, Detail: detail}
		if err := svc.audit.Record(context.WithoutCancel(ctx), e); err != nil {
			log.WithError(err).Error("audit record lost")
		}
	}
	for _, m := range store.Migrated() {
		system("server.migrate", m)
	}
	if err := firstAdmin(ctx, store, stdout, getenv, system); err != nil {
		return err
	}
	up, err := uploads.New(uploads.Config{Dir: cfg.DataDir, Store: store})
	if err != nil {
		return err
	}
	authn, err := auth.New(auth.Config{Users: store})
	if err != nil {
		return err
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return errors.New("server key cannot sign")
	}
	signer, err := wssec.NewSigner(wssec.SignerConfig{Certificate: serverCert, Key: key})
	if err != nil {
		return fmt.Errorf("server signing key: %w", err)
	}
	verifier := func(maxBytes int) (*wssec.Verifier, error) {
		return wssec.NewVerifier(wssec.VerifierConfig{Roots: caPool, Limits: wssec.Limits{MaxBytes: maxBytes}})
	}
	statusVerifier, err := verifier(soapapi.MaxStatusBytes)
	if err != nil {
		return err
	}
	bulkVerifier, err := verifier(soapapi.MaxBulkBytes)
	if err != nil {
		return err
	}
	api, err := soapapi.New(soapapi.Config{Store: store, Ingest: svc.ingest, Poller: poll, Uploads: up, Auditor: svc.audit,
		Auth: authn, Metrics: svc.metrics, Verifier: statusVerifier, BulkVerifier: bulkVerifier, Replay: svc.replay,
		Signer: signer, AutoRegister: !cfg.RequireRegistration, PublicURL: cfg.PublicURL, Logger: log})
	if err != nil {
		return err
	}
	defer api.Close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second, // a slow body is cut off
		WriteTimeout:      60 * time.Second, // above the 25 s long-poll
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		// HTTP/1.1 only: SOAP 1.1 is defined over it, and HTTP/2 would
		// demand an AES-128 suite that the TLS 1.2 policy leaves out.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		// TLS handshake noise from scanners goes to debug, not to the log.
		ErrorLog: golog.New(log.WithField("component", "http").WriterLevel(logrus.DebugLevel), "", 0),
	}
	system("server.start", fmt.Sprintf("listen=%s store=%s registration=%s", ln.Addr(), store.Dialect(), registration(cfg)))
	fmt.Fprintf(stdout, "rms-server listening on https://%s (store: %s)\n", ln.Addr(), store.Dialect())
	log.WithFields(logrus.Fields{"listen": ln.Addr().String(), "store": store.Dialect()}).Info("serving")

	go housekeeping(ctx, store, log)
	if cfg.Pprof != "" {
		go servePprof(cfg.Pprof, log)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	poll.Close()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.WithError(err).Warn("requests still running at shutdown were cut off")
	}
	system("server.stop", "signal")
	return nil
}

// servePprof serves the profiler on its own listener, never on the public
// one: profiles reveal internals.
func servePprof(addr string, log *logrus.Entry) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.WithField("addr", addr).Warn("profiler enabled")
	if err := srv.ListenAndServe(); err != nil {
		log.WithError(err).Error("profiler stopped")
	}
}

func registration(cfg *config) string {
	if cfg.RequireRegistration {
		return "pre-registered"
	}
	return "on-first-contact"
}

// housekeeping expires instructions and drops old replay and message
// records. Every replica runs it; the statements are idempotent.
func housekeeping(ctx context.Context, store *sqlstore.Store, log *logrus.Entry) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := store.Housekeep(ctx, time.Now()); err != nil {
				log.WithError(err).Warn("housekeeping failed")
			} else if n > 0 {
				log.WithField("expired", n).Info("instructions expired")
			}
		}
	}
}

func firstAdmin(ctx context.Context, store server.UserStore, stdout io.Writer, getenv func(string) string, system func(string, string)) error {
	n, err := store.CountUsers(ctx)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if n > 0 {
		return nil
	}
	password, generated := getenv("RMS_ADMIN_PASSWORD"), false
	if password == "" {
		if password, err = auth.GeneratePassword(); err != nil {
			return err
		}
		generated = true
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return fmt.Errorf("RMS_ADMIN_PASSWORD: %w", err)
	}
	if err := store.CreateUser(ctx, server.User{Name: "admin", Role: server.RoleAdmin, PasswordHash: hash, CreatedAt: time.Now()}); err != nil {
		if server.CodeOf(err) == server.CodeConflict {
			return nil // another replica created it first
		}
		return fmt.Errorf("users: %w", err)
	}
	if generated {
		fmt.Fprintf(stdout, "created user admin with password %s (shown once; change it or keep it safe)\n", password)
	} else {
		fmt.Fprintln(stdout, "created user admin with the password from RMS_ADMIN_PASSWORD")
	}
	system("user.create", "admin (first start)")
	return nil
}
