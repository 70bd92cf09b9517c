package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rmsproject/rms/agent/adapters"
	"github.com/rmsproject/rms/agent/redact"
	"github.com/rmsproject/rms/soapclient"
)

// fileConfig is the YAML configuration; deploy/agent.example.yaml is the
// annotated reference.
type fileConfig struct {
	Server     string   `yaml:"server"`
	CA         string   `yaml:"ca"`
	ServerCert string   `yaml:"server_cert"`
	StateDir   string   `yaml:"state_dir"`
	Interval   duration `yaml:"interval"`
	Proxy      string   `yaml:"proxy"`
	// ProxyUser and ProxyPassword are presented to the proxies a PAC
	// script names (a proxy URL carries its own user:pass).
	ProxyUser     string `yaml:"proxy_user"`
	ProxyPassword string `yaml:"proxy_password"`
	Immediate     struct {
		Codes      []string `yaml:"codes"`
		Severities []string `yaml:"severities"`
	} `yaml:"immediate"`
	Backoff struct {
		Min duration `yaml:"min"`
		Max duration `yaml:"max"`
	} `yaml:"backoff"`
	OutboxMaxBytes int64 `yaml:"outbox_max_bytes"`
	Audit          struct {
		MaxFileBytes int64 `yaml:"max_file_bytes"`
		MaxFiles     int   `yaml:"max_files"`
	} `yaml:"audit"`
	Devices     []deviceConfig              `yaml:"devices"`
	Diagnostics map[string]diagnosticConfig `yaml:"diagnostics"`
	Uploads     []string                    `yaml:"uploads"`
	Settable    []string                    `yaml:"settable"`
	Redact      redact.Config               `yaml:"redact"`
	LogLevel    string                      `yaml:"log_level"`
}

type deviceConfig struct {
	ID      string          `yaml:"id"` // default: the certificate's CN
	Cert    string          `yaml:"cert"`
	Key     string          `yaml:"key"`
	Adapter string          `yaml:"adapter"` // simulator, exec or file
	Options adapters.Config `yaml:"options"` // the adapter's settings (agent/adapters)
}

type diagnosticConfig struct {
	Command []string `yaml:"command"`
	Timeout duration `yaml:"timeout"`
}

// duration reads "60s", "10m".
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (like 60s or 10m)", n.Line, n.Value)
	}
	*d = duration(v)
	return nil
}

func readConfig(path string) (*fileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// check reports what is missing or wrong, all at once.
func (c *fileConfig) check() error {
	var errs []error
	need := func(v, name string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
	}
	need(c.Server, "server")
	need(c.CA, "ca")
	need(c.ServerCert, "server_cert")
	need(c.StateDir, "state_dir")
	if len(c.Devices) == 0 {
		errs = append(errs, errors.New("at least one device is required"))
	}
	for i, d := range c.Devices {
		if d.Cert == "" || d.Key == "" {
			errs = append(errs, fmt.Errorf("devices[%d]: cert and key are required", i))
		}
		switch d.Adapter {
		case "simulator", "exec", "file":
		default:
			errs = append(errs, fmt.Errorf("devices[%d]: adapter must be simulator, exec or file, not %q", i, d.Adapter))
		}
	}
	if c.Interval != 0 && time.Duration(c.Interval) < time.Second {
		errs = append(errs, errors.New("interval must be at least 1s"))
	}
	return errors.Join(errs...)
}

// deepCheck builds what can be built without touching the network or the
// state directory: the redaction patterns, the proxy setting and each
// device's adapter configuration.
func (c *fileConfig) deepCheck() error {
	var errs []error
	if _, err := redact.New(c.Redact); err != nil {
		errs = append(errs, fmt.Errorf("redact: %w", err))
	}
	if _, err := soapclient.ParseProxy(c.Proxy); err != nil {
		errs = append(errs, fmt.Errorf("proxy: %w", err))
	}
	for i, d := range c.Devices {
		a, err := adapters.New(d.Adapter, d.Options)
		if err != nil {
			errs = append(errs, fmt.Errorf("devices[%d]: %w", i, err))
			continue
		}
		_ = a.Close()
	}
	return errors.Join(errs...)
}
