package soapclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/rmsproject/rms/wssec"
)

// Defaults and bounds of Config.
const (
	// DefaultTimeout bounds one call, connection and TLS handshake included.
	DefaultTimeout = 60 * time.Second
	// LongPollWait is the longest a RequestInstructions call may be held
	// by the server; Timeout must exceed it or every idle poll would fail.
	LongPollWait = 25 * time.Second
	// DefaultMaxResponseBytes bounds what is read of a response.
	DefaultMaxResponseBytes = 1 << 20
	// DefaultMaxResponseElements bounds the elements of a response; list
	// answers of the management service hold far more than a request may.
	DefaultMaxResponseElements = 1 << 16
)

// Config is what every client needs to reach an endpoint.
type Config struct {
	// URL of the endpoint, e.g. https://rms.example.com/soap/device.
	URL string
	// AllowInsecureHTTP permits an http:// URL. It exists for tests and
	// for a local TLS-terminating balancer; device signatures still apply,
	// but a management password would travel in clear text.
	AllowInsecureHTTP bool

	// TLS, when set, is used as given (cloned; MinVersion raised to TLS
	// 1.2 and a session cache added if missing). Otherwise one is built
	// from RootCAs and Certificates.
	TLS *tls.Config
	// RootCAs pins the CA that issued the server's TLS certificate; nil
	// means the system roots.
	RootCAs *x509.CertPool
	// Certificates are presented for mutual TLS (a device's certificate).
	Certificates []tls.Certificate

	// HTTPClient, when set, sends every request and the TLS, dialer and
	// proxy settings here are ignored: its Transport is the caller's.
	HTTPClient *http.Client
	// DialContext replaces the TCP dialer (for SOCKS proxies and tests).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ProxyConfig is how requests leave a customer network: direct (the
	// zero value), a fixed HTTP/HTTPS/SOCKS5 proxy, a PAC script, or the
	// environment; see ParseProxy for its config-file form.
	ProxyConfig ProxyConfig
	// Proxy is a lower-level alternative to ProxyConfig: it chooses a
	// proxy per request as http.Transport.Proxy does. nil connects
	// directly, so an agent goes through a proxy only when configured to.
	Proxy func(*http.Request) (*url.URL, error)

	// Timeout bounds each call (default 60 s); it must exceed the 25 s
	// long-poll. Use a context deadline for a shorter single call.
	Timeout time.Duration
	// MaxResponseBytes bounds what is read of any response (default 1 MiB);
	// a larger one is an error and is not read further.
	MaxResponseBytes int64
	// ResponseLimits are applied to every response before parsing; its
	// MaxBytes is always MaxResponseBytes.
	ResponseLimits wssec.Limits

	// Now is the clock for sentAt (default time.Now).
	Now func() time.Time
	// Logger may be nil (no logging).
	Logger *logrus.Entry
}

func (c *Config) validate() error {
	if c.URL == "" {
		return errors.New("URL is required")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("URL: %w", err)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("URL %q has no host", c.URL)
	case u.Scheme == "https":
	case u.Scheme == "http" && c.AllowInsecureHTTP:
	case u.Scheme == "http":
		return fmt.Errorf("URL %q is not https (set AllowInsecureHTTP only for tests)", c.URL)
	default:
		return fmt.Errorf("URL %q: scheme must be https", c.URL)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout <= LongPollWait {
		return fmt.Errorf("Timeout %s must exceed the %s long-poll", c.Timeout, LongPollWait)
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.MaxResponseBytes < 0 {
		return errors.New("MaxResponseBytes is negative")
	}
	c.ResponseLimits.MaxBytes = int(c.MaxResponseBytes)
	if c.ResponseLimits.MaxElements == 0 {
		c.ResponseLimits.MaxElements = DefaultMaxResponseElements
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		c.Logger = logrus.NewEntry(l)
	}
	c.Logger = c.Logger.WithField("component", "soapclient")
	if err := c.ProxyConfig.check(); err != nil {
		return fmt.Errorf("ProxyConfig: %w", err)
	}
	if c.ProxyConfig.Mode != ProxyDirect {
		switch {
		case c.Proxy != nil:
			return errors.New("set ProxyConfig or Proxy, not both")
		case c.HTTPClient != nil:
			return errors.New("ProxyConfig is not used with HTTPClient: configure its Transport instead")
		case u.Scheme != "https":
			// A proxy would see a plain-HTTP request in full; plain HTTP
			// exists for tests and a local balancer, neither of which is
			// reached through a proxy.
			return fmt.Errorf("URL %q: a proxy is only used for https URLs", c.URL)
		}
	}
	if c.HTTPClient == nil {
		t, err := c.transport()
		if err != nil {
			return err
		}
		c.HTTPClient = &http.Client{Transport: t}
	}
	c.Logger.WithField("proxy", c.ProxyConfig.String()).Debug("route to the server")
	return nil
}

// transport keeps connections alive and resumes TLS sessions, since an
// agent sends a small message every minute and a full handshake would cost
// more than the message.
func (c *Config) transport() (*http.Transport, error) {
	dial := c.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	proxy := c.Proxy
	var r *router
	if c.ProxyConfig.Mode != ProxyDirect {
		var err error
		if r, err = newRouter(c.ProxyConfig, dial, c.Now, c.Logger); err != nil {
			return nil, err
		}
		proxy, dial = r.proxy, r.dialContext
	}
	return &http.Transport{
		Proxy:                  proxy,
		OnProxyConnectResponse: r.connectResponse,
		DialContext:            dial,
		TLSClientConfig:        c.tlsConfig(),
		TLSHandshakeTimeout:    15 * time.Second,
		MaxIdleConns:           16,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
	}, nil
}

func (c *Config) tlsConfig() *tls.Config {
	var t *tls.Config
	if c.TLS != nil {
		t = c.TLS.Clone()
	} else {
		t = &tls.Config{
			RootCAs:      c.RootCAs,
			Certificates: c.Certificates,
			// TLS 1.2 only with AES-256-GCM (DESIGN: Security model);
			// TLS 1.3 suites are not configurable and all acceptable.
			CipherSuites: []uint16{
				tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
				tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			},
		}
	}
	if t.MinVersion < tls.VersionTLS12 {
		t.MinVersion = tls.VersionTLS12
	}
	if t.ClientSessionCache == nil {
		t.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	}
	return t
}
