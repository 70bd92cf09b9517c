package soapclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/net/http/httpproxy"
)

// ProxyMode says how a client finds its way out of a customer network.
type ProxyMode int

const (
	// ProxyDirect connects straight to the server. It is the zero value on
	// purpose: an agent goes through a proxy only when configured to, and
	// never because of a stray HTTPS_PROXY in its environment.
	ProxyDirect ProxyMode = iota
	// ProxyFixed sends everything through ProxyConfig.URL.
	ProxyFixed
	// ProxyPAC asks a proxy auto-config script, per host, which way to go.
	ProxyPAC
	// ProxyEnvironment follows HTTPS_PROXY, https_proxy and NO_PROXY, read
	// when the client is built (http.ProxyFromEnvironment semantics,
	// including that loopback addresses are never proxied).
	ProxyEnvironment
)

// Defaults of ProxyConfig's PAC settings.
const (
	// DefaultPACTimeout bounds one run of a PAC script, DNS lookups made
	// by its helper functions included.
	DefaultPACTimeout = time.Second
	// DefaultPACCacheTTL is how long a host's PAC answer is reused: the
	// agent talks to one server every minute, and a script (with its DNS
	// lookups) per request would cost more than the message.
	DefaultPACCacheTTL = 5 * time.Minute
	// DefaultPACRefresh is how often a PAC file or URL is read again.
	DefaultPACRefresh = time.Hour
	// MaxPACBytes bounds a PAC script; real ones are a few KiB.
	MaxPACBytes = 1 << 20
	// pacFetchTimeout bounds fetching a PAC URL.
	pacFetchTimeout = 30 * time.Second
)

// ProxyConfig says how requests reach the server. Whatever the route, the
// traffic to the server stays HTTPS end to end: an HTTP proxy only relays
// a CONNECT tunnel and a SOCKS5 proxy a TCP stream, so the server's pinned
// CA, the client certificate, keep-alive and session resumption are the
// same as for a direct connection. ParseProxy builds one from a config
// file string.
type ProxyConfig struct {
	Mode ProxyMode
	// URL is the proxy of ProxyFixed: http://, https:// (TLS to the proxy
	// itself) or socks5:// (socks5h:// is a synonym: the proxy always
	// resolves the server's name), with an explicit port and optional
	// user:password, which only the proxy ever sees (Proxy-Authorization
	// on the CONNECT request, or SOCKS5 user/password authentication).
	URL *url.URL
	// PAC is the script of ProxyPAC: a file path or an http(s):// URL. A
	// file is read when the client is built, so a typo fails at once; a
	// URL is fetched (directly, never through a proxy) on the first
	// request, so an agent starts even while the PAC server is away.
	PAC string
	// PACCredentials, if set, are presented to every proxy a PAC script
	// names; a script can only name host:port.
	PACCredentials *url.Userinfo
	// RootCAs verify an https:// proxy and an https:// PAC URL; nil means
	// the system roots. They are not the server's pinned CA: the proxy
	// belongs to the customer's IT, the server to us.
	RootCAs *x509.CertPool
	// PACTimeout bounds one run of the script (default 1 s).
	PACTimeout time.Duration
	// PACCacheTTL is how long one host's answer is reused (default 5 min).
	PACCacheTTL time.Duration
	// PACRefresh is how often the script is read again (default 1 h); if
	// that fails the previous script stays in use.
	PACRefresh time.Duration
}

// ProxyError is a failure of the proxy route rather than of the server: a
// proxy that refused the tunnel, a PAC script that failed or could not be
// fetched. It arrives wrapped in a *TransportError, so it is retryable.
type ProxyError struct {
	// Proxy names the proxy (password redacted) or the PAC source.
	Proxy string
	Err   error
}

func (e *ProxyError) Error() string { return "proxy " + e.Proxy + ": " + e.Err.Error() }

func (e *ProxyError) Unwrap() error { return e.Err }

// proxyForms is what ParseProxy accepts, for its error messages.
const proxyForms = `want "direct", "env", "pac:FILE-OR-URL", or a proxy URL http://[user:pass@]host:port, https://… or socks5://…`

// ParseProxy reads the proxy setting of a config file:
//
//	""  or "direct"                   no proxy (the default)
//	"env"                             HTTPS_PROXY / NO_PROXY
//	"http://user:pass@proxy:3128"     HTTP CONNECT proxy, basic auth optional
//	"https://proxy:3129"              the same over TLS to the proxy
//	"socks5://user:pass@proxy:1080"   SOCKS5, user/password optional
//	"pac:/etc/rms/proxy.pac"          PAC file
//	"pac:https://wpad.example/x.pac"  PAC URL
//
// Errors never repeat a password.
func ParseProxy(s string) (ProxyConfig, error) {
	p, err := parseProxy(strings.TrimSpace(s))
	if err == nil {
		err = p.check()
	}
	if err != nil {
		return ProxyConfig{}, fmt.Errorf("soapclient.ParseProxy: %w", err)
	}
	return p, nil
}

func parseProxy(s string) (ProxyConfig, error) {
	switch strings.ToLower(s) {
	case "", "direct", "none":
		return ProxyConfig{}, nil
	case "env", "environment":
		return ProxyConfig{Mode: ProxyEnvironment}, nil
	}
	if len(s) >= 4 && strings.EqualFold(s[:4], "pac:") {
		src := strings.TrimPrefix(s[4:], "file://")
		return ProxyConfig{Mode: ProxyPAC, PAC: src}, nil
	}
	if !strings.Contains(s, "://") {
		return ProxyConfig{}, fmt.Errorf("%q is not a proxy setting: %s", s, proxyForms)
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the whole string, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return ProxyConfig{}, fmt.Errorf("not a valid proxy URL: %w", err)
	}
	return ProxyConfig{Mode: ProxyFixed, URL: u}, nil
}

// check validates p; ParseProxy and Config.validate share it, so a config
// built in code gets the same errors as one read from a file.
func (p *ProxyConfig) check() error {
	switch p.Mode {
	case ProxyDirect, ProxyEnvironment:
	case ProxyFixed:
		if p.URL == nil {
			return errors.New("ProxyFixed needs a URL")
		}
		return checkProxyURL(p.URL)
	case ProxyPAC:
		if p.PAC == "" {
			return errors.New("pac: needs a file path or an http(s) URL")
		}
		if isURL(p.PAC) {
			u, err := url.Parse(p.PAC)
			if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				return fmt.Errorf("PAC URL %q: want http:// or https:// with a host", p.PAC)
			}
		}
	default:
		return fmt.Errorf("unknown proxy mode %d", p.Mode)
	}
	if p.PACTimeout < 0 || p.PACCacheTTL < 0 || p.PACRefresh < 0 {
		return errors.New("PAC durations must not be negative")
	}
	return nil
}

func checkProxyURL(u *url.URL) error {
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	case "socks", "socks4", "socks4a":
		return fmt.Errorf("proxy %s: only SOCKS5 is supported (use socks5://)", u.Redacted())
	default:
		return fmt.Errorf("proxy %s: unsupported scheme %q; %s", u.Redacted(), u.Scheme, proxyForms)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return fmt.Errorf("proxy %s: needs host:port (e.g. %s://proxy.example:%d)", u.Redacted(), u.Scheme, defaultProxyPort(u.Scheme))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("proxy %s: bad port %q", u.Redacted(), port)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("proxy %s: a proxy URL has no path, query or fragment", u.Redacted())
	}
	return nil
}

// defaultProxyPort is only a hint in error messages: a port is required,
// since "http://proxy" silently meaning port 80 surprises everyone.
func defaultProxyPort(scheme string) int {
	if strings.HasPrefix(scheme, "socks") {
		return 1080
	}
	return 3128
}

func isURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// String gives the config-file form of p, password redacted, for logs.
func (p ProxyConfig) String() string {
	switch p.Mode {
	case ProxyDirect:
		return "direct"
	case ProxyEnvironment:
		return "env"
	case ProxyPAC:
		return "pac:" + p.PAC
	case ProxyFixed:
		if p.URL != nil {
			return p.URL.Redacted()
		}
	}
	return fmt.Sprintf("ProxyMode(%d)", p.Mode)
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// router turns a ProxyConfig into the Proxy and DialContext of an
// http.Transport. net/http itself speaks CONNECT (with the proxy's
// credentials on the CONNECT request only) and SOCKS5, and keys its
// connection pool by route, so every mode reduces to choosing a proxy URL
// per request. The one thing net/http cannot do is TLS to the proxy with
// other roots than the server's, so an https:// proxy is handed to it as
// http:// and dial wraps connections to that address in TLS itself.
type router struct {
	choose  func(*http.Request) (*url.URL, error)
	dial    dialFunc
	roots   *x509.CertPool
	tlsAddr sync.Map // host:port of https proxies → struct{}
}

func newRouter(p ProxyConfig, dial dialFunc, now func() time.Time, log *logrus.Entry) (*router, error) {
	r := &router{dial: dial, roots: p.RootCAs}
	switch p.Mode {
	case ProxyFixed:
		u := *p.URL
		r.choose = func(*http.Request) (*url.URL, error) { return &u, nil }
	case ProxyEnvironment:
		env := httpproxy.FromEnvironment()
		log.WithFields(logrus.Fields{"https_proxy": redactedURL(env.HTTPSProxy), "no_proxy": env.NoProxy}).Info("proxy from the environment")
		f := env.ProxyFunc()
		r.choose = func(req *http.Request) (*url.URL, error) { return f(req.URL) }
	case ProxyPAC:
		pc, err := newPAC(p, r.pacClient(), now, log)
		if err != nil {
			return nil, err
		}
		r.choose = pc.proxyFor
	default:
		return nil, fmt.Errorf("proxy mode %s needs no router", p)
	}
	return r, nil
}

// pacClient fetches a PAC URL directly: the script is what says which
// proxy to use, so it cannot be fetched through one.
func (r *router) pacClient() *http.Client {
	return &http.Client{
		Timeout: pacFetchTimeout,
		Transport: &http.Transport{
			DialContext:     r.dial,
			TLSClientConfig: &tls.Config{RootCAs: r.roots, MinVersion: tls.VersionTLS12},
		},
	}
}

func redactedURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable)"
}

func (r *router) proxy(req *http.Request) (*url.URL, error) {
	u, err := r.choose(req)
	if err != nil || u == nil {
		return nil, err
	}
	if u.Scheme == "https" {
		r.tlsAddr.Store(u.Host, struct{}{})
		plain := *u
		plain.Scheme = "http"
		return &plain, nil
	}
	return u, nil
}

func (r *router) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := r.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if _, ok := r.tlsAddr.Load(addr); !ok {
		return conn, nil
	}
	host, _, _ := net.SplitHostPort(addr)
	tc := tls.Client(conn, &tls.Config{RootCAs: r.roots, ServerName: host, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, &ProxyError{Proxy: "https://" + addr, Err: fmt.Errorf("TLS to the proxy: %w", err)}
	}
	return tc, nil
}

// connectResponse turns a refused CONNECT into an error that names the
// proxy and, for a 407, the likely fix; net/http alone would say only
// "Proxy Authentication Required". r may be nil (a Config.Proxy hook).
func (r *router) connectResponse(_ context.Context, proxy *url.URL, req *http.Request, resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	name := proxy.Redacted()
	if r != nil {
		if _, ok := r.tlsAddr.Load(proxy.Host); ok {
			name = "https" + strings.TrimPrefix(name, "http")
		}
	}
	hint := ""
	switch {
	case resp.StatusCode != http.StatusProxyAuthRequired:
	case proxy.User == nil:
		hint = " (the proxy wants credentials: add user:password to the proxy URL)"
	default:
		hint = " (the proxy refused the user name or password)"
	}
	return &ProxyError{Proxy: name, Err: fmt.Errorf("CONNECT %s refused: %s%s", req.Host, resp.Status, hint)}
}
