package soapclient_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures/testproxy"
	"github.com/rmsproject/rms/generated/device"
	"github.com/rmsproject/rms/soapclient"
)

// reachAs makes the client call srv as https://host:port, as if host were
// the server's DNS name: the client's own dialer and the test proxies send
// that name to 127.0.0.1, and TLS checks the name the fixture certificate
// carries (localhost). It is how one test server stands for the several
// hosts a PAC script tells apart.
func reachAs(p *testPKI, srv *fakeServer, host string) func(*soapclient.DeviceConfig) {
	return func(c *soapclient.DeviceConfig) {
		_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
		Expect(err).NotTo(HaveOccurred())
		c.URL = "https://" + net.JoinHostPort(host, port) + "/soap/device"
		c.TLS = &tls.Config{RootCAs: p.roots, Certificates: []tls.Certificate{p.dev1.tls()}, ServerName: "localhost"}
		var d net.Dialer
		c.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if h, port, err := net.SplitHostPort(addr); err == nil && h == host {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return d.DialContext(ctx, network, addr)
		}
	}
}

func withProxy(pc soapclient.ProxyConfig) func(*soapclient.DeviceConfig) {
	return func(c *soapclient.DeviceConfig) { c.ProxyConfig = pc }
}

func parsedProxy(s string) soapclient.ProxyConfig {
	GinkgoHelper()
	pc, err := soapclient.ParseProxy(s)
	Expect(err).NotTo(HaveOccurred())
	return pc
}

func beat(d *soapclient.Device) error {
	_, err := d.Heartbeat(ctx(), &device.Heartbeat{})
	return err
}

// expectProxyError checks err is a retryable *ProxyError saying says and
// never showing the password.
func expectProxyError(err error, says ...string) {
	GinkgoHelper()
	GinkgoWriter.Println("the error:", err)
	var pe *soapclient.ProxyError
	Expect(errors.As(err, &pe)).To(BeTrue(), "%T: %v", err, err)
	for _, s := range says {
		Expect(err.Error()).To(ContainSubstring(s))
	}
	Expect(err.Error()).NotTo(ContainSubstring("s3cret"))
	Expect(soapclient.Retryable(err)).To(BeTrue())
}

// stepClock is a clock that moves only when a spec says so.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func writePAC(script string) string {
	GinkgoHelper()
	path := filepath.Join(GinkgoT().TempDir(), "proxy.pac")
	Expect(os.WriteFile(path, []byte(script), 0o600)).To(Succeed())
	return path
}

var _ = Describe("ParseProxy", func() {
	DescribeTable("maps a config string to a route",
		func(in string, mode soapclient.ProxyMode, shown string) {
			pc, err := soapclient.ParseProxy(in)
			Expect(err).NotTo(HaveOccurred())
			Expect(pc.Mode).To(Equal(mode))
			Expect(pc.String()).To(Equal(shown))
		},
		Entry("empty: direct", "", soapclient.ProxyDirect, "direct"),
		Entry("direct", " DIRECT ", soapclient.ProxyDirect, "direct"),
		Entry("env", "env", soapclient.ProxyEnvironment, "env"),
		Entry("environment", "environment", soapclient.ProxyEnvironment, "env"),
		Entry("HTTP proxy with basic auth, password redacted", "http://agent:s3cret@proxy.example:3128",
			soapclient.ProxyFixed, "http://agent:xxxxx@proxy.example:3128"),
		Entry("HTTPS proxy", "https://proxy.example:3129", soapclient.ProxyFixed, "https://proxy.example:3129"),
		Entry("SOCKS5 with user/password", "socks5://agent:s3cret@10.0.0.1:1080", soapclient.ProxyFixed, "socks5://agent:xxxxx@10.0.0.1:1080"),
		Entry("socks5h", "socks5h://proxy:1080", soapclient.ProxyFixed, "socks5h://proxy:1080"),
		Entry("PAC file", "pac:/etc/rms/proxy.pac", soapclient.ProxyPAC, "pac:/etc/rms/proxy.pac"),
		Entry("PAC file URL", "pac:file:///etc/rms/proxy.pac", soapclient.ProxyPAC, "pac:/etc/rms/proxy.pac"),
		Entry("PAC URL", "PAC:https://wpad.example/proxy.pac", soapclient.ProxyPAC, "pac:https://wpad.example/proxy.pac"),
	)

	DescribeTable("says what is wrong, never repeating a password",
		func(in, says string) {
			_, err := soapclient.ParseProxy(in)
			Expect(err).To(MatchError(ContainSubstring(says)))
			Expect(err.Error()).NotTo(ContainSubstring("s3cret"))
		},
		Entry("no scheme", "proxy.example:3128", `not a proxy setting: want "direct", "env", "pac:FILE-OR-URL"`),
		Entry("unknown scheme", "ftp://agent:s3cret@proxy:21", `unsupported scheme "ftp"`),
		Entry("SOCKS4", "socks4://proxy:1080", "only SOCKS5"),
		Entry("no port", "http://agent:s3cret@proxy", "needs host:port (e.g. http://proxy.example:3128)"),
		Entry("bad port", "socks5://proxy:99999", `bad port "99999"`),
		Entry("a path", "http://proxy:3128/x", "no path"),
		Entry("an unparsable URL", "http://agent:s3cret@[::1", "not a valid proxy URL"),
		Entry("pac: with nothing", "pac:", "needs a file path or an http(s) URL"),
		Entry("a PAC URL without host", "pac:https://", "PAC URL"),
	)

	DescribeTable("a Config with a proxy is checked too",
		func(mod func(*soapclient.DeviceConfig), says string) {
			p := loadPKI()
			cfg := soapclient.DeviceConfig{Config: soapclient.Config{URL: "https://rms.example/soap/device",
				ProxyConfig: parsedProxy("socks5://proxy:1080")}, InsecureSkipResponseVerify: true, Signer: p.dev1.signer()}
			mod(&cfg)
			_, err := soapclient.NewDevice(cfg)
			Expect(err).To(MatchError(ContainSubstring(says)))
		},
		Entry("not with a Proxy hook too", func(c *soapclient.DeviceConfig) { c.Proxy = http.ProxyFromEnvironment }, "not both"),
		Entry("not with an HTTPClient", func(c *soapclient.DeviceConfig) { c.HTTPClient = http.DefaultClient }, "configure its Transport"),
		Entry("not for plain HTTP", func(c *soapclient.DeviceConfig) {
			c.URL, c.AllowInsecureHTTP = "http://rms.example/soap/device", true
		}, "only used for https URLs"),
		Entry("a fixed mode needs its URL", func(c *soapclient.DeviceConfig) {
			c.ProxyConfig = soapclient.ProxyConfig{Mode: soapclient.ProxyFixed}
		}, "needs a URL"),
	)
})

var _ = Describe("proxies", func() {
	var (
		p   *testPKI
		srv *fakeServer
	)
	BeforeEach(func() {
		p = loadPKI()
		srv = newFakeServer(p, tls.RequireAndVerifyClientCert)
	})
	serverAddr := func() string { return srv.Listener.Addr().String() }

	Describe("HTTP CONNECT with basic auth", func() {
		var proxy *testproxy.Proxy
		BeforeEach(func() { proxy = testproxy.StartConnect("agent", "s3cret", nil) })

		It("tunnels TLS to the server, keeps the tunnel alive, and shows the credentials to the proxy only", func() {
			d := newDevice(p, srv, withProxy(parsedProxy(proxy.URL("http", "agent", "s3cret"))))
			Expect(beat(d)).To(Succeed())
			Expect(beat(d)).To(Succeed())
			Expect(proxy.Connections()).To(Equal(1), "one kept-alive tunnel for both calls")
			Expect(proxy.Relayed()).To(Equal([]string{serverAddr()}))
			Expect(proxy.AuthSeen()).To(Equal([]string{"Basic " + base64.StdEncoding.EncodeToString([]byte("agent:s3cret"))}))
			Expect(srv.requests()).To(HaveLen(2))
			for _, r := range srv.requests() {
				Expect(r.proxyAuthorization).To(BeEmpty())
				Expect(r.clientCN).To(Equal("dev-0001"), "mutual TLS runs inside the tunnel")
			}
		})

		DescribeTable("a refused CONNECT says why",
			func(user, pass, hint string) {
				d := newDevice(p, srv, withProxy(parsedProxy(proxy.URL("http", user, pass))))
				err := beat(d)
				expectProxyError(err, "proxy http://", "CONNECT "+serverAddr()+" refused: 407 Proxy Authentication Required", hint)
				Expect(err.Error()).NotTo(ContainSubstring("wrong"))
				Expect(srv.requests()).To(BeEmpty())
			},
			Entry("wrong password", "agent", "wrong", "the proxy refused the user name or password"),
			Entry("no credentials", "", "", "add user:password to the proxy URL"),
		)
	})

	Describe("HTTPS proxy", func() {
		var proxy *testproxy.Proxy
		BeforeEach(func() {
			cert := p.server.tls() // the fixture certificate names 127.0.0.1
			proxy = testproxy.StartConnect("agent", "s3cret", &cert)
		})

		It("speaks TLS to the proxy with the proxy's roots, and the server's TLS inside", func() {
			pc := parsedProxy(proxy.URL("https", "agent", "s3cret"))
			pc.RootCAs = p.roots
			d := newDevice(p, srv, withProxy(pc))
			Expect(beat(d)).To(Succeed())
			Expect(proxy.Relayed()).To(Equal([]string{serverAddr()}))
			Expect(srv.requests()[0].clientCN).To(Equal("dev-0001"))
		})

		It("does not trust the proxy with the server's pinned CA", func() {
			d := newDevice(p, srv, withProxy(parsedProxy(proxy.URL("https", "agent", "s3cret"))))
			expectProxyError(beat(d), "proxy https://127.0.0.1", "TLS to the proxy", "certificate")
			Expect(proxy.Relayed()).To(BeEmpty())
		})
	})

	Describe("SOCKS5 with user/password", func() {
		var proxy *testproxy.Proxy
		BeforeEach(func() { proxy = testproxy.StartSOCKS5("agent", "s3cret") })

		It("relays the TLS connection, the proxy resolving the server's name", func() {
			d := newDevice(p, srv, reachAs(p, srv, "rms.test"), withProxy(parsedProxy(proxy.URL("socks5", "agent", "s3cret"))))
			Expect(beat(d)).To(Succeed())
			Expect(beat(d)).To(Succeed())
			Expect(proxy.Connections()).To(Equal(1))
			Expect(proxy.Relayed()).To(Equal([]string{"rms.test:" + srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]}))
			Expect(srv.requests()[0].clientCN).To(Equal("dev-0001"))
		})

		It("refuses wrong credentials clearly", func() {
			d := newDevice(p, srv, withProxy(parsedProxy(proxy.URL("socks5", "agent", "wrong"))))
			err := beat(d)
			Expect(err).To(MatchError(ContainSubstring("username/password authentication failed")))
			Expect(soapclient.Retryable(err)).To(BeTrue())
			Expect(srv.requests()).To(BeEmpty())
		})
	})

	Describe("the environment", func() {
		var proxy *testproxy.Proxy
		BeforeEach(func() {
			proxy = testproxy.StartConnect("", "", nil)
			for _, k := range []string{"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD"} {
				GinkgoT().Setenv(k, "")
			}
			GinkgoT().Setenv("HTTPS_PROXY", proxy.URL("http", "", ""))
		})

		It("is ignored unless the config says env", func() {
			d := newDevice(p, srv, reachAs(p, srv, "rms.test"))
			Expect(beat(d)).To(Succeed())
			Expect(proxy.Connections()).To(BeZero())
		})

		It("with env, HTTPS_PROXY is used", func() {
			d := newDevice(p, srv, reachAs(p, srv, "rms.test"), withProxy(parsedProxy("env")))
			Expect(beat(d)).To(Succeed())
			Expect(proxy.Connections()).To(Equal(1))
			Expect(proxy.Relayed()).To(ConsistOf(HavePrefix("rms.test:")))
		})

		It("with env, NO_PROXY is honoured", func() {
			GinkgoT().Setenv("NO_PROXY", "other.example,.test")
			d := newDevice(p, srv, reachAs(p, srv, "rms.test"), withProxy(parsedProxy("env")))
			Expect(beat(d)).To(Succeed())
			Expect(proxy.Connections()).To(BeZero())
			Expect(srv.requests()).To(HaveLen(1))
		})
	})

	Describe("proxy auto-config", func() {
		var connect, socks *testproxy.Proxy
		BeforeEach(func() {
			connect = testproxy.StartConnect("agent", "s3cret", nil)
			socks = testproxy.StartSOCKS5("agent", "s3cret")
		})
		pacConfig := func(src string) soapclient.ProxyConfig {
			return soapclient.ProxyConfig{Mode: soapclient.ProxyPAC, PAC: src,
				PACCredentials: url.UserPassword("agent", "s3cret"), PACTimeout: 200 * time.Millisecond}
		}

		It("sends each host the way the script says, proven by each proxy's count", func() {
			path := writePAC(fmt.Sprintf(`
				function FindProxyForURL(url, host) {
					if (dnsDomainIs(host, "connect.test")) return "PROXY %s; DIRECT";
					if (shExpMatch(url, "https://socks.test:*")) return "SOCKS5 %s";
					if (localHostOrDomainIs(host, "direct.test")) return "DIRECT";
					return "PROXY 127.0.0.1:1";
				}`, connect.Addr(), socks.Addr()))
			call := func(host string) {
				GinkgoHelper()
				d := newDevice(p, srv, reachAs(p, srv, host), withProxy(pacConfig(path)))
				Expect(beat(d)).To(Succeed())
			}

			call("connect.test")
			Expect(connect.Relayed()).To(ConsistOf(HavePrefix("connect.test:")))
			Expect(socks.Connections()).To(BeZero())

			call("socks.test")
			Expect(socks.Relayed()).To(ConsistOf(HavePrefix("socks.test:")))
			Expect(connect.Connections()).To(Equal(1))

			call("direct.test")
			Expect(connect.Connections()).To(Equal(1))
			Expect(socks.Connections()).To(Equal(1))
			Expect(srv.requests()).To(HaveLen(3))
		})

		It("reuses a host's answer for PACCacheTTL, then asks the script again", func() {
			path := writePAC(fmt.Sprintf(`
				var calls = 0;
				function FindProxyForURL(url, host) { return ++calls == 1 ? "DIRECT" : "PROXY %s"; }`, connect.Addr()))
			clock := &stepClock{t: time.Now()}
			d := newDevice(p, srv, withProxy(pacConfig(path)), func(c *soapclient.DeviceConfig) { c.Now = clock.now })
			Expect(beat(d)).To(Succeed())
			Expect(beat(d)).To(Succeed())
			Expect(connect.Connections()).To(BeZero(), "the second call used the cached DIRECT")
			clock.advance(soapclient.DefaultPACCacheTTL)
			Expect(beat(d)).To(Succeed())
			Expect(connect.Connections()).To(Equal(1))
		})

		It("fetches a PAC URL on first use and again after PACRefresh, keeping the old script while the URL fails", func() {
			var script atomic.Value
			var fetches atomic.Int32
			script.Store(`function FindProxyForURL(url, host) { return "DIRECT"; }`)
			pacSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fetches.Add(1)
				s := script.Load().(string)
				if s == "" {
					http.Error(w, "gone", http.StatusNotFound)
					return
				}
				w.Header().Set("Content-Type", "application/x-ns-proxy-autoconfig")
				_, _ = w.Write([]byte(s))
			}))
			DeferCleanup(pacSrv.Close)
			clock := &stepClock{t: time.Now()}
			d := newDevice(p, srv, withProxy(pacConfig(pacSrv.URL+"/proxy.pac")), func(c *soapclient.DeviceConfig) { c.Now = clock.now })
			Expect(fetches.Load()).To(BeZero(), "nothing is fetched before the first request")

			Expect(beat(d)).To(Succeed())
			script.Store(fmt.Sprintf(`function FindProxyForURL(url, host) { return "PROXY %s"; }`, connect.Addr()))
			Expect(beat(d)).To(Succeed())
			Expect(fetches.Load()).To(Equal(int32(1)))
			Expect(connect.Connections()).To(BeZero())

			clock.advance(soapclient.DefaultPACRefresh)
			Expect(beat(d)).To(Succeed())
			Expect(fetches.Load()).To(Equal(int32(2)))
			Expect(connect.Connections()).To(Equal(1))

			script.Store("")
			clock.advance(soapclient.DefaultPACRefresh)
			Expect(beat(d)).To(Succeed(), "the previous script stays in use")
			Expect(fetches.Load()).To(Equal(int32(3)))
		})

		It("fails the request, not the start, while a PAC URL cannot be fetched", func() {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			dead := "http://" + ln.Addr().String() + "/proxy.pac"
			Expect(ln.Close()).To(Succeed())
			d := newDevice(p, srv, withProxy(pacConfig(dead)))
			expectProxyError(beat(d), "proxy PAC "+dead, "connection refused")
			Expect(srv.requests()).To(BeEmpty())
		})

		DescribeTable("a broken script at start is a clear error",
			func(script, says string) {
				cfg := soapclient.DeviceConfig{Config: soapclient.Config{URL: srv.URL + "/soap/device",
					ProxyConfig: pacConfig(writePAC(script))}, Signer: p.dev1.signer(), InsecureSkipResponseVerify: true}
				_, err := soapclient.NewDevice(cfg)
				Expect(err).To(MatchError(ContainSubstring(says)))
				Expect(err).To(MatchError(ContainSubstring("proxy PAC /")))
			},
			Entry("a syntax error", "function FindProxyForURL(url, host) { return 'DIRECT';", "Unexpected end of input"),
			Entry("no FindProxyForURL", "function findProxy(url, host) { return 'DIRECT'; }", "defines no function FindProxyForURL(url, host)"),
			Entry("a top level that never ends", "while (true) {}", "did not finish in time"),
			Entry("a top level that throws", "throw new Error('broken on purpose');", "broken on purpose"),
			Entry("a script over 1 MiB", "//"+strings.Repeat("x", soapclient.MaxPACBytes), "larger than 1048576 bytes"),
		)

		It("a missing PAC file is a clear error at start", func() {
			cfg := soapclient.DeviceConfig{Config: soapclient.Config{URL: srv.URL + "/soap/device",
				ProxyConfig: parsedProxy("pac:/nonexistent/proxy.pac")}, Signer: p.dev1.signer(), InsecureSkipResponseVerify: true}
			_, err := soapclient.NewDevice(cfg)
			Expect(err).To(MatchError(ContainSubstring("proxy PAC /nonexistent/proxy.pac: open /nonexistent/proxy.pac: no such file")))
		})

		DescribeTable("a failing FindProxyForURL fails the request clearly, in bounded time",
			func(body, says string) {
				d := newDevice(p, srv, withProxy(pacConfig(writePAC("function FindProxyForURL(url, host) {"+body+"}"))))
				_, port, _ := net.SplitHostPort(serverAddr())
				expectProxyError(beat(d), `FindProxyForURL("https://127.0.0.1:`+port+`/", "127.0.0.1")`, says)
				Expect(srv.requests()).To(BeEmpty())
				Expect(beat(d)).NotTo(Succeed(), "the runtime is usable again, and still failing")
			},
			Entry("it throws", "throw new Error('no route for you');", "no route for you"),
			Entry("it never returns", "for (;;) {}", "did not finish in time"),
			Entry("it returns no string", "return 42;", "returned 42, not a string"),
			Entry("nothing usable in the answer", "return 'SOCKS4 10.0.0.1:1080; BOGUS; PROXY nohost';",
				`no usable entry in "SOCKS4 10.0.0.1:1080; BOGUS; PROXY nohost"`),
		)

		DescribeTable("answers map to routes; the first usable entry wins",
			func(answer string, via func() *testproxy.Proxy) {
				// The script names the proxies by variables, since they
				// start (on new ports) after the table is built.
				script := fmt.Sprintf("var connectAddr = %q, socksAddr = %q;\n", connect.Addr(), socks.Addr()) +
					"function FindProxyForURL(url, host) { return " + answer + "; }"
				d := newDevice(p, srv, withProxy(pacConfig(writePAC(script))))
				Expect(beat(d)).To(Succeed())
				for _, px := range []*testproxy.Proxy{connect, socks} {
					if px == via() {
						Expect(px.Connections()).To(Equal(1), px.String())
					} else {
						Expect(px.Connections()).To(BeZero(), px.String())
					}
				}
			},
			Entry("PROXY, then DIRECT", `"PROXY " + connectAddr + "; DIRECT"`, func() *testproxy.Proxy { return connect }),
			Entry("HTTP", `"HTTP " + connectAddr`, func() *testproxy.Proxy { return connect }),
			Entry("an unknown entry is skipped", `"QUIC 10.0.0.1:443;SOCKS " + socksAddr`, func() *testproxy.Proxy { return socks }),
			Entry("DIRECT first", `"DIRECT; PROXY " + connectAddr`, func() *testproxy.Proxy { return nil }),
			Entry("empty means DIRECT", `""`, func() *testproxy.Proxy { return nil }),
		)
	})
})
