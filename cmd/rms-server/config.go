package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// config is everything rms-server is told at start.
type config struct {
	Listen              string
	DB                  string
	PKI                 string
	TLSCert, TLSKey     string
	ClientCA            string
	DataDir             string
	PublicURL           string
	RequireRegistration bool
	ShutdownTimeout     time.Duration
	LogFormat           string
	LogLevel            string
	Pprof               string
}

// flags declares the flags on fs, bound to c.
func (c *config) flags(fs *flag.FlagSet) *string {
	fs.StringVar(&c.Listen, "listen", ":8443", "address to serve HTTPS on")
	fs.StringVar(&c.DB, "db", "sqlite:./var/rms.db", "store: sqlite:PATH or postgres://…")
	fs.StringVar(&c.PKI, "pki", "", "directory made by `rmsctl pki init` (server.crt, server.key, ca.crt)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "server certificate (PEM); overrides --pki")
	fs.StringVar(&c.TLSKey, "tls-key", "", "server private key (PEM); overrides --pki")
	fs.StringVar(&c.ClientCA, "client-ca", "", "device CA certificate(s) (PEM); overrides --pki")
	fs.StringVar(&c.DataDir, "data-dir", "./var/data", "directory for uploaded files")
	fs.StringVar(&c.PublicURL, "public-url", "", "base URL clients use (written into served WSDLs); default: the address each client used")
	fs.BoolVar(&c.RequireRegistration, "require-registration", false, "refuse devices that were not pre-registered (default: CA-issued devices register on first contact)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to let requests finish on SIGTERM")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.Pprof, "pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060) for profiling; off by default")
	return fs.String("config", "", "optional config file of `name: value` lines (names as the flags)")
}

// parseConfig applies, lowest first: defaults, the config file, RMS_*
// environment variables, flags.
func parseConfig(args []string, getenv func(string) string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("rms-server", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	file := c.flags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *file == "" {
		*file = getenv("RMS_CONFIG")
	}
	if *file != "" {
		values, err := readConfigFile(*file)
		if err != nil {
			return nil, err
		}
		for name, v := range values {
			if name == "config" || fs.Lookup(name) == nil {
				return nil, fmt.Errorf("%s: unknown setting %q", *file, name)
			}
			if set[name] || getenv(envName(name)) != "" {
				continue
			}
			if err := fs.Set(name, v); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", *file, name, err)
			}
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && !set[f.Name] && f.Name != "config" && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", envName(f.Name), e)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return c, c.resolve()
}

func envName(flagName string) string {
	return "RMS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// readConfigFile reads `name: value` lines; # starts a comment.
func readConfigFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want `name: value`", path, n)
		}
		value = strings.Trim(strings.TrimSpace(value), `"`)
		out[strings.TrimSpace(name)] = value
	}
	return out, sc.Err()
}

// resolve fills the TLS paths from --pki and checks what must be set.
func (c *config) resolve() error {
	if c.PKI != "" {
		fill := func(p *string, name string) {
			if *p == "" {
				*p = filepath.Join(c.PKI, name)
			}
		}
		fill(&c.TLSCert, "server.crt")
		fill(&c.TLSKey, "server.key")
		fill(&c.ClientCA, "ca.crt")
	}
	if c.TLSCert == "" || c.TLSKey == "" || c.ClientCA == "" {
		return errors.New("TLS is required: give --pki DIR, or --tls-cert, --tls-key and --client-ca")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat)
	}
	if c.ShutdownTimeout <= 0 {
		return errors.New("--shutdown-timeout must be positive")
	}
	return nil
}
