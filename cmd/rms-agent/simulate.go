package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rmsproject/rms/agent/adapters"
	"github.com/rmsproject/rms/wssec/pki"
)

// simulate runs N simulated devices in one agent process, as a gateway
// would serve several instruments: one outbox, one audit trail, a
// certificate per device issued from a dev PKI's CA. `make run` uses it.
func simulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rms-agent simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		devices   = fs.Int("devices", 5, "simulated devices")
		server    = fs.String("server", "https://localhost:8443", "server base URL")
		pkiDir    = fs.String("pki", "var/pki", "dev PKI directory (ca.crt, ca.key, server.crt)")
		stateDir  = fs.String("state-dir", "var/agent-sim", "state directory")
		interval  = fs.Duration("interval", 10*time.Second, "heartbeat interval")
		errorRate = fs.Float64("error-rate", 0.02, "chance per poll that a device raises an error code")
		prefix    = fs.String("prefix", "sim", "device id prefix (ids are PREFIX-00001 …)")
		logLevel  = fs.String("log-level", "info", "debug, info, warn or error")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if *devices <= 0 || *devices > 10000 || *interval < time.Second {
		return usageError{errors.New("--devices must be 1..10000 and --interval at least 1s")}
	}
	ca, err := pki.LoadAuthority(*pkiDir)
	if err != nil {
		return fmt.Errorf("dev PKI: %w", err)
	}
	fleet, err := pki.IssueDevices(ca, *prefix, *devices, pki.ECDSAP256)
	if err != nil {
		return err
	}
	// The issued identities live in the state directory so the config
	// below is an ordinary one, readable and reusable.
	keysDir := filepath.Join(*stateDir, "devices")
	if err := os.MkdirAll(keysDir, 0o700); err != nil {
		return err
	}
	cfg := &fileConfig{Server: *server, CA: filepath.Join(*pkiDir, pki.CACert), ServerCert: filepath.Join(*pkiDir, pki.ServerCert),
		StateDir: *stateDir, Interval: duration(*interval), LogLevel: *logLevel}
	cfg.Diagnostics = map[string]diagnosticConfig{"selftest": {Command: []string{"sh", "-c", "echo self-test passed; uptime"}, Timeout: duration(10 * time.Second)}}
	cfg.Uploads = []string{filepath.Join(mustAbs(*stateDir), "logs", "*", "*.log")}
	for _, d := range fleet {
		certPath, keyPath := filepath.Join(keysDir, d.ID+".crt"), filepath.Join(keysDir, d.ID+".key")
		if err := pki.WriteKeyPair(certPath, keyPath, d.Cert, d.Key); err != nil {
			return err
		}
		opts := adapters.Config{}
		opts.Simulator.ErrorRate = *errorRate
		opts.Simulator.LogDir = filepath.Join(mustAbs(*stateDir), "logs", d.ID)
		opts.Simulator.Seed = int64(seedOf(d.Cert) >> 1)
		cfg.Devices = append(cfg.Devices, deviceConfig{ID: d.ID, Cert: certPath, Key: keyPath, Adapter: adapters.KindSimulator, Options: opts})
	}
	if err := cfg.check(); err != nil {
		return usageError{err}
	}
	return runAgent(ctx, cfg, stdout, stderr)
}

func mustAbs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func seedOf(c *x509.Certificate) uint64 {
	var s uint64
	for _, b := range c.SerialNumber.Bytes() {
		s = s*31 + uint64(b)
	}
	return s
}
