//go:build !nopac

package soapclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dop251/goja"
	"github.com/sirupsen/logrus"
)

// errPACTimeout is the cause of an evaluation that ran out of time.
var errPACTimeout = errors.New("the PAC script did not finish in time")

// maxPACCacheHosts bounds the answer cache; a client talks to one server,
// so more hosts than this means something is generating names.
const maxPACCacheHosts = 256

// pac evaluates a proxy auto-config script with goja, a JavaScript engine
// in pure Go, so PAC files written for browsers (which use the full
// language) work unchanged and no interpreter has to be installed.
type pac struct {
	source  string // file path or URL, for messages and reloading
	client  *http.Client
	timeout time.Duration
	ttl     time.Duration
	refresh time.Duration
	creds   *url.Userinfo
	now     func() time.Time
	log     *logrus.Entry

	// mu serialises evaluations (a goja.Runtime is single-threaded) and
	// guards everything below.
	mu     sync.Mutex
	script string    // the source last read successfully
	readAt time.Time // when the source was last read or tried
	vm     *pacVM    // nil: compile script before the next evaluation
	cache  map[string]pacAnswer
}

type pacAnswer struct {
	proxy *url.URL // nil: DIRECT
	until time.Time
}

// pacVM is one runtime with the script loaded. Each has its own context
// for the helper functions' DNS lookups, so an abandoned runtime (stuck in
// a native call) never shares state with its successor.
type pacVM struct {
	rt   *goja.Runtime
	find goja.Callable
	ctx  context.Context
	now  func() time.Time
}

func newPAC(p ProxyConfig, client *http.Client, now func() time.Time, log *logrus.Entry) (*pac, error) {
	pc := &pac{
		source:  p.PAC,
		client:  client,
		timeout: orDefault(p.PACTimeout, DefaultPACTimeout),
		ttl:     orDefault(p.PACCacheTTL, DefaultPACCacheTTL),
		refresh: orDefault(p.PACRefresh, DefaultPACRefresh),
		creds:   p.PACCredentials,
		now:     now,
		log:     log.WithField("pac", p.PAC),
		cache:   map[string]pacAnswer{},
	}
	if !isURL(p.PAC) {
		// A local file is read now, so a wrong path or a broken script
		// stops the program at start instead of failing every request.
		pc.mu.Lock()
		defer pc.mu.Unlock()
		if err := pc.load(context.Background()); err != nil {
			return nil, err
		}
	}
	return pc, nil
}

// orDefault returns d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (p *pac) errorf(format string, args ...any) error {
	return &ProxyError{Proxy: "PAC " + p.source, Err: fmt.Errorf(format, args...)}
}

// proxyFor is the http.Transport Proxy function: the script's answer for
// the request's scheme, host and port, cached per host for ttl.
func (p *pac) proxyFor(req *http.Request) (*url.URL, error) {
	// Like browsers, the script sees no path or query of an https URL:
	// it needs only the host, and the answer is cached per host.
	target := req.URL.Scheme + "://" + req.URL.Host + "/"
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.script == "" || now.Sub(p.readAt) >= p.refresh {
		if err := p.load(req.Context()); err != nil {
			if p.script == "" {
				return nil, err
			}
			p.log.WithError(err).Warn("cannot read the PAC script again; keeping the previous one")
		}
	}
	if a, ok := p.cache[target]; ok && now.Before(a.until) {
		return a.proxy, nil
	}
	answer, err := p.evaluate(req.Context(), target, req.URL.Hostname())
	if err != nil {
		return nil, err
	}
	proxy, err := parsePACAnswer(answer, p.creds)
	if err != nil {
		return nil, p.errorf("FindProxyForURL(%q, %q): %w", target, req.URL.Hostname(), err)
	}
	if len(p.cache) >= maxPACCacheHosts {
		clear(p.cache)
	}
	p.cache[target] = pacAnswer{proxy: proxy, until: now.Add(p.ttl)}
	p.log.WithFields(logrus.Fields{"url": target, "answer": answer}).Debug("PAC answer")
	return proxy, nil
}

// load reads and compiles the script; on success it replaces the runtime
// and forgets cached answers. The caller holds mu.
func (p *pac) load(ctx context.Context) error {
	p.readAt = p.now()
	src, err := p.read(ctx)
	if err != nil {
		return p.errorf("%w", err)
	}
	vm, err := p.compile(ctx, src)
	if err != nil {
		return err
	}
	p.script, p.vm = src, vm
	clear(p.cache)
	return nil
}

func (p *pac) read(ctx context.Context) (string, error) {
	var body io.Reader
	if isURL(p.source) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.source, nil)
		if err != nil {
			return "", err
		}
		resp, err := p.client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("fetching the script: %s", resp.Status)
		}
		body = resp.Body
	} else {
		f, err := os.Open(p.source)
		if err != nil {
			return "", err
		}
		defer f.Close()
		body = f
	}
	b, err := io.ReadAll(io.LimitReader(body, MaxPACBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading the script: %w", err)
	}
	if len(b) > MaxPACBytes {
		return "", fmt.Errorf("the script is larger than %d bytes", MaxPACBytes)
	}
	return string(b), nil
}

// compile runs the script in a fresh runtime with the PAC helpers, within
// the same time bound as a call, since its top level may run code too.
func (p *pac) compile(ctx context.Context, src string) (*pacVM, error) {
	prog, err := goja.Compile(p.source, src, false)
	if err != nil {
		return nil, p.errorf("%w", err)
	}
	vm := &pacVM{rt: goja.New(), now: p.now}
	if err := vm.install(); err != nil {
		return nil, p.errorf("installing the PAC helpers: %w", err)
	}
	if _, err := p.bounded(ctx, vm, func() (goja.Value, error) { return vm.rt.RunProgram(prog) }); err != nil {
		return nil, p.errorf("running the script: %w", err)
	}
	find, ok := goja.AssertFunction(vm.rt.Get("FindProxyForURL"))
	if !ok {
		return nil, p.errorf("the script defines no function FindProxyForURL(url, host)")
	}
	vm.find = find
	return vm, nil
}

// evaluate calls FindProxyForURL. The caller holds mu.
func (p *pac) evaluate(ctx context.Context, target, host string) (string, error) {
	if p.vm == nil {
		vm, err := p.compile(ctx, p.script)
		if err != nil {
			return "", err
		}
		p.vm = vm
	}
	vm := p.vm
	v, err := p.bounded(ctx, vm, func() (goja.Value, error) {
		return vm.find(goja.Undefined(), vm.rt.ToValue(target), vm.rt.ToValue(host))
	})
	if err != nil {
		return "", p.errorf("FindProxyForURL(%q, %q): %w", target, host, err)
	}
	s, ok := v.Export().(string)
	if !ok {
		return "", p.errorf("FindProxyForURL(%q, %q) returned %s, not a string", target, host, v.String())
	}
	return s, nil
}

// bounded runs f on vm for at most the PAC timeout. goja interrupts
// JavaScript between instructions, but not inside a native call (a huge
// regular expression, say); if f does not return within another timeout
// after the interrupt, the runtime is abandoned to its goroutine and the
// next evaluation compiles a fresh one, so a script can slow requests but
// never hang them.
func (p *pac) bounded(parent context.Context, vm *pacVM, f func() (goja.Value, error)) (goja.Value, error) {
	ctx, cancel := context.WithTimeoutCause(parent, p.timeout, errPACTimeout)
	defer cancel()
	vm.ctx = ctx
	type result struct {
		v   goja.Value
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		vm.rt.Interrupt(context.Cause(ctx))
		select {
		case r = <-done:
		case <-time.After(p.timeout):
			if p.vm == vm {
				p.vm = nil
			}
			return nil, fmt.Errorf("%w (stuck in a native call; runtime abandoned)", context.Cause(ctx))
		}
	}
	// Interrupt is only ever called above, so no interrupt can arrive
	// after this and the runtime is clean for the next call.
	vm.rt.ClearInterrupt()
	var ie *goja.InterruptedError
	if errors.As(r.err, &ie) {
		return nil, context.Cause(ctx)
	}
	return r.v, r.err
}

// parsePACAnswer reads "PROXY a:1; SOCKS b:2; DIRECT" and returns the first
// entry this client can use (nil for DIRECT). Later entries are not tried
// when the first proxy fails: net/http dials one route per request, and a
// failed request is retried by the caller (the agent's outbox) anyway,
// while answers are cached for a few minutes only. An empty answer means
// DIRECT, as in browsers.
func parsePACAnswer(answer string, creds *url.Userinfo) (*url.URL, error) {
	if strings.TrimSpace(answer) == "" {
		return nil, nil
	}
	var skipped []string
	for entry := range strings.SplitSeq(answer, ";") {
		fields := strings.Fields(entry)
		if len(fields) == 0 {
			continue
		}
		kind := strings.ToUpper(fields[0])
		if kind == "DIRECT" && len(fields) == 1 {
			return nil, nil
		}
		// SOCKS means SOCKS5 here: SOCKS4 has no authentication and no
		// remote name resolution, and no customer proxy still needs it.
		scheme := map[string]string{"PROXY": "http", "HTTP": "http", "HTTPS": "https", "SOCKS": "socks5", "SOCKS5": "socks5"}[kind]
		if scheme == "" || len(fields) != 2 {
			skipped = append(skipped, strings.TrimSpace(entry))
			continue
		}
		u := &url.URL{Scheme: scheme, Host: fields[1], User: creds}
		if err := checkProxyURL(u); err != nil {
			skipped = append(skipped, strings.TrimSpace(entry))
			continue
		}
		return u, nil
	}
	return nil, fmt.Errorf("no usable entry in %q (not understood: %s)", answer, strings.Join(skipped, ", "))
}
