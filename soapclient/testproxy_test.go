package soapclient_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// testProxy is a real proxy on 127.0.0.1, small enough to live in the
// specs so CI needs no proxy package. It counts the connections it
// accepts and records the targets it relays to, which is how a spec
// proves which route a request took. Every target is relayed to
// 127.0.0.1 at the same port, so specs can name hosts (connect.test)
// that only the proxy "resolves", as a customer's proxy does.
type testProxy struct {
	ln         net.Listener
	user, pass string // required credentials; empty: none
	handshake  func(p *testProxy, c net.Conn, br *bufio.Reader) (upstream net.Conn)

	mu      sync.Mutex
	conns   int
	targets []string
	auth    []string // Proxy-Authorization of each CONNECT
	open    []net.Conn
}

// startConnectProxy starts an HTTP CONNECT proxy; with cert, clients
// speak TLS to it (an https:// proxy).
func startConnectProxy(user, pass string, cert *tls.Certificate) *testProxy {
	p := &testProxy{user: user, pass: pass, handshake: (*testProxy).connect}
	p.listen(cert)
	return p
}

// startSOCKS5Proxy starts a SOCKS5 proxy (RFC 1928, with RFC 1929
// user/password authentication when user is set).
func startSOCKS5Proxy(user, pass string) *testProxy {
	p := &testProxy{user: user, pass: pass, handshake: (*testProxy).socks5}
	p.listen(nil)
	return p
}

func (p *testProxy) listen(cert *tls.Certificate) {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}})
	}
	p.ln = ln
	go p.serve()
	DeferCleanup(p.close)
}

func (p *testProxy) addr() string { return p.ln.Addr().String() }

// url is the proxy's URL with the given scheme and credentials.
func (p *testProxy) url(scheme, user, pass string) string {
	u := url.URL{Scheme: scheme, Host: p.addr()}
	if user != "" {
		u.User = url.UserPassword(user, pass)
	}
	return u.String()
}

func (p *testProxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

func (p *testProxy) relayed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

func (p *testProxy) authSeen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.auth...)
}

func (p *testProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.open {
		_ = c.Close()
	}
}

// track registers c to be closed with the proxy.
func (p *testProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open = append(p.open, c)
}

func (p *testProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns++
		p.mu.Unlock()
		p.track(c)
		go p.relay(c)
	}
}

func (p *testProxy) relay(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	up := p.handshake(p, c, br)
	if up == nil {
		return
	}
	defer up.Close()
	go func() {
		_, _ = io.Copy(up, br)
		_ = up.Close()
	}()
	_, _ = io.Copy(c, up)
}

// dial connects to target's port on 127.0.0.1 and records target.
func (p *testProxy) dial(target string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(target)
	if err != nil {
		return nil, err
	}
	up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return nil, err
	}
	p.track(up)
	p.mu.Lock()
	p.targets = append(p.targets, target)
	p.mu.Unlock()
	return up, nil
}

func (p *testProxy) connect(c net.Conn, br *bufio.Reader) net.Conn {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil
	}
	pa := req.Header.Get("Proxy-Authorization")
	p.mu.Lock()
	p.auth = append(p.auth, pa)
	p.mu.Unlock()
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return nil
	}
	if p.user != "" {
		// Request.BasicAuth parses only Authorization; the syntax is the same.
		probe := http.Request{Header: http.Header{"Authorization": {pa}}}
		u, pw, ok := probe.BasicAuth()
		if !ok || u != p.user || pw != p.pass {
			_, _ = io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\n"+
				"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
			return nil
		}
	}
	up, err := p.dial(req.URL.Host)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return nil
	}
	_, _ = io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	return up
}

// socksReader reads the fixed-size fields of SOCKS messages, remembering
// the first error so the handshake reads as the RFC does.
type socksReader struct {
	r   io.Reader
	err error
}

func (s *socksReader) next(n int) []byte {
	b := make([]byte, n)
	if s.err == nil {
		_, s.err = io.ReadFull(s.r, b)
	}
	return b
}

func (s *socksReader) byte() int { return int(s.next(1)[0]) }

func (p *testProxy) socks5(c net.Conn, br *bufio.Reader) net.Conn {
	r := &socksReader{r: br}
	if r.byte() != 5 {
		return nil
	}
	methods := r.next(r.byte())
	method := byte(0) // no authentication
	if p.user != "" {
		method = 2 // user/password
	}
	if r.err != nil || !bytes.Contains(methods, []byte{method}) {
		_, _ = c.Write([]byte{5, 0xff})
		return nil
	}
	_, _ = c.Write([]byte{5, method})
	if method == 2 {
		_ = r.byte() // sub-negotiation version
		user := string(r.next(r.byte()))
		pass := string(r.next(r.byte()))
		if r.err != nil || user != p.user || pass != p.pass {
			_, _ = c.Write([]byte{1, 1})
			return nil
		}
		_, _ = c.Write([]byte{1, 0})
	}
	head := r.next(4) // version, command, reserved, address type
	var host string
	switch head[3] {
	case 1:
		host = net.IP(r.next(4)).String()
	case 3:
		host = string(r.next(r.byte()))
	case 4:
		host = net.IP(r.next(16)).String()
	}
	port := binary.BigEndian.Uint16(r.next(2))
	reply := func(code byte) { _, _ = c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0}) }
	if r.err != nil || head[1] != 1 || host == "" {
		reply(7) // command not supported
		return nil
	}
	up, err := p.dial(net.JoinHostPort(host, strconv.Itoa(int(port))))
	if err != nil {
		reply(5) // connection refused
		return nil
	}
	reply(0)
	return up
}

// String names the proxy in failure messages.
func (p *testProxy) String() string { return fmt.Sprintf("proxy at %s", p.addr()) }
