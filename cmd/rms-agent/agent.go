package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/sirupsen/logrus"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/adapters"
	"github.com/rmsproject/rms/agent/auditlog"
	"github.com/rmsproject/rms/agent/executors"
	"github.com/rmsproject/rms/agent/outbox"
	"github.com/rmsproject/rms/agent/redact"
	"github.com/rmsproject/rms/agent/runner"
	"github.com/rmsproject/rms/soapclient"
	"github.com/rmsproject/rms/wssec/pki"
)

// agentMain runs the agent from a config file, or from flags for one device.
func agentMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rms-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		configPath = fs.String("config", "", "YAML configuration file (deploy/agent.example.yaml)")
		one        deviceConfig
		c          fileConfig
		interval   time.Duration
	)
	fs.StringVar(&c.Server, "server", "", "server base URL, e.g. https://rms.example.com")
	fs.StringVar(&c.CA, "ca", "", "CA certificate that issued the server's TLS certificate (pinned)")
	fs.StringVar(&c.ServerCert, "server-cert", "", "the server's certificate (pinned; its signature on answers is checked)")
	fs.StringVar(&one.Cert, "cert", "", "device certificate")
	fs.StringVar(&one.Key, "key", "", "device private key")
	fs.StringVar(&c.StateDir, "state-dir", "", "state directory (outbox, audit trail, settings)")
	fs.StringVar(&one.Adapter, "adapter", "simulator", "device adapter: simulator, exec or file")
	fs.DurationVar(&interval, "interval", 60*time.Second, "heartbeat interval")
	fs.StringVar(&c.Proxy, "proxy", "", "direct, env, http://…, socks5://… or pac:FILE|URL")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	checkOnly := fs.Bool("check", false, "check the configuration and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	cfg := &c
	if *configPath != "" {
		var err error
		if cfg, err = readConfig(*configPath); err != nil {
			return usageError{err}
		}
	} else {
		c.Interval = duration(interval)
		c.Devices = []deviceConfig{one}
	}
	if err := cfg.check(); err != nil {
		return usageError{err}
	}
	if *checkOnly {
		if err := cfg.deepCheck(); err != nil {
			return usageError{err}
		}
		fmt.Fprintf(stdout, "configuration OK: %d device(s)\n", len(cfg.Devices))
		return nil
	}
	return runAgent(ctx, cfg, stdout, stderr)
}

// agentParts is everything runAgent opens, closed in order on the way out.
type agentParts struct {
	outbox *outbox.Outbox
	audit  *auditlog.Log
	adapts []agent.Adapter
}

func (p *agentParts) close() {
	for _, a := range p.adapts {
		_ = a.Close()
	}
	if p.outbox != nil {
		_ = p.outbox.Close()
	}
	if p.audit != nil {
		_ = p.audit.Close()
	}
}

func runAgent(ctx context.Context, cfg *fileConfig, stdout, stderr io.Writer) error {
	log := logrus.New()
	log.SetOutput(stderr)
	if lvl, err := logrus.ParseLevel(cfg.LogLevel); err == nil {
		log.SetLevel(lvl)
	}
	entry := logrus.NewEntry(log).WithField("component", "rms-agent")
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return err
	}
	parts := &agentParts{}
	defer parts.close()
	var err error
	if parts.outbox, err = outbox.Open(filepath.Join(cfg.StateDir, "outbox.db"), outbox.Config{MaxBytes: cfg.OutboxMaxBytes, Logger: entry}); err != nil {
		return err
	}
	if parts.audit, err = auditlog.Open(filepath.Join(cfg.StateDir, "audit"), auditlog.Config{
		MaxFileBytes: cfg.Audit.MaxFileBytes, MaxFiles: cfg.Audit.MaxFiles, Logger: entry}); err != nil {
		return err
	}
	settings, err := executors.OpenSettings(filepath.Join(cfg.StateDir, "settings.json"))
	if err != nil {
		return err
	}
	redactor, err := redact.New(cfg.Redact)
	if err != nil {
		return usageError{fmt.Errorf("redact: %w", err)}
	}
	proxy, err := soapclient.ParseProxy(cfg.Proxy)
	if err != nil {
		return usageError{fmt.Errorf("proxy: %w", err)}
	}
	if cfg.ProxyUser != "" {
		proxy.PACCredentials = url.UserPassword(cfg.ProxyUser, cfg.ProxyPassword)
	}
	trust, err := loadTrust(cfg.CA, cfg.ServerCert)
	if err != nil {
		return err
	}
	var devices []runner.Device
	clients := map[string]*soapclient.Device{}
	for i, dc := range cfg.Devices {
		cert, key, err := pki.LoadKeyPair(dc.Cert, dc.Key)
		if err != nil {
			return fmt.Errorf("devices[%d]: %w", i, err)
		}
		id := dc.ID
		if id == "" {
			id = cert.Subject.CommonName
		}
		client, err := trust.client(cfg.Server, cert, key, proxy)
		if err != nil {
			return fmt.Errorf("device %s: %w", id, err)
		}
		opts := dc.Options
		opts.Logger, opts.Redactor = entry.WithField("device", id), redactor
		adapter, err := adapters.New(dc.Adapter, opts)
		if err != nil {
			return usageError{fmt.Errorf("device %s: %w", id, err)}
		}
		parts.adapts = append(parts.adapts, adapter)
		every := time.Duration(cfg.Interval)
		if v, ok := settings.Get(id, "heartbeat_interval"); ok {
			if n, err := time.ParseDuration(v + "s"); err == nil {
				every = n
			}
		}
		devices = append(devices, runner.Device{ID: id, Client: client, Adapter: adapter, Interval: every})
		clients[id] = client
	}
	var r *runner.Runner
	execs, err := executors.New(executors.Config{
		Diagnostics: diagnostics(cfg.Diagnostics), UploadGlobs: cfg.Uploads,
		Redact: func(dst io.Writer, src io.Reader) error {
			_, err := redactor.Copy(dst, src)
			return err
		},
		StagingDir: filepath.Join(cfg.StateDir, "staging"), Settings: settings, SettableKeys: cfg.Settable,
		Hooks: executors.Hooks{
			Client:      func(id string) *soapclient.Device { return clients[id] },
			SetInterval: func(id string, d time.Duration) error { return r.SetInterval(id, d) },
			Restart:     func() { r.RequestRestart() },
		},
	})
	if err != nil {
		return usageError{err}
	}
	var severities []agent.Severity
	for _, s := range cfg.Immediate.Severities {
		severities = append(severities, agent.Severity(s))
	}
	r, err = runner.New(runner.Config{Devices: devices, Outbox: parts.outbox, Audit: parts.audit, Executors: execs,
		ImmediateCodes: cfg.Immediate.Codes, ImmediateSeverities: severities,
		MinBackoff: time.Duration(cfg.Backoff.Min), MaxBackoff: time.Duration(cfg.Backoff.Max), Logger: entry})
	if err != nil {
		return usageError{err}
	}
	if _, err := parts.audit.Append(agent.AuditEvent{Actor: "agent", Action: "agent.start", Outcome: "success",
		Detail: fmt.Sprintf("%d device(s), server %s", len(devices), cfg.Server)}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rms-agent running: %d device(s) → %s\n", len(devices), cfg.Server)
	stopWatchdog := notifySystemd(ctx, entry)
	err = r.Run(ctx)
	stopWatchdog()
	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
	_, _ = parts.audit.Append(agent.AuditEvent{Actor: "agent", Action: "agent.stop", Outcome: "success", Detail: stopReason(err)})
	if errors.Is(err, runner.ErrRestart) {
		parts.close()
		return restartSelf(entry)
	}
	return err
}

func stopReason(err error) string {
	if errors.Is(err, runner.ErrRestart) {
		return "restart requested by an instruction"
	}
	return "signal"
}

func diagnostics(in map[string]diagnosticConfig) map[string]executors.Diagnostic {
	out := map[string]executors.Diagnostic{}
	for name, d := range in {
		out[name] = executors.Diagnostic{Command: d.Command, Timeout: time.Duration(d.Timeout)}
	}
	return out
}

// notifySystemd tells systemd the agent is ready and pings its watchdog at
// half the configured interval; outside systemd both are no-ops.
func notifySystemd(ctx context.Context, log *logrus.Entry) (stop func()) {
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.WithError(err).Warn("systemd readiness notification failed")
	}
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil || every == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(every / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			}
		}
	}()
	return cancel
}

// restartSelf replaces the process with a fresh copy of itself: under
// systemd the service manager would restart it too, but an agent run by
// hand must come back on its own.
func restartSelf(log *logrus.Entry) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	log.Info("restarting")
	return syscall.Exec(exe, os.Args, os.Environ())
}

// trustAnchors pins the server: its CA for TLS and its certificate for the
// signatures on its answers.
type trustAnchors struct {
	roots       *x509.CertPool
	serverCerts []*x509.Certificate
}

func loadTrust(caPath, serverCertPath string) (*trustAnchors, error) {
	pool, _, err := pki.LoadPool(caPath)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	certs, err := pki.LoadCertificates(serverCertPath)
	if err != nil {
		return nil, fmt.Errorf("server_cert: %w", err)
	}
	return &trustAnchors{roots: pool, serverCerts: certs}, nil
}

func (t *trustAnchors) client(server string, cert *x509.Certificate, key crypto.Signer, proxy soapclient.ProxyConfig) (*soapclient.Device, error) {
	return soapclient.NewDeviceFor(server, t.roots, t.serverCerts, cert, key, soapclient.Config{ProxyConfig: proxy})
}
