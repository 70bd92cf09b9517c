package main_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/wssec/pki"
)

// --- a TLS-terminating man in the middle ---

// mitm sits between the agent and the server the way a compromised
// corporate TLS-inspection box would: it holds a certificate the agent's
// pinned CA trusts (issued here from fixtures/pki/ca.key), so TLS alone
// does not stop it, and it presents dev-0001's client certificate
// upstream, so the server serves it. What is left to protect the agent is
// the server's signature on each answer. Hooks see every answer body and
// may change it, or act before the agent gets it (a kill -9 after the
// server applied a message but before the agent heard so).
type mitm struct {
	URL string
	srv *http.Server

	mu       sync.Mutex
	onAnswer func(body []byte) []byte

	answers atomic.Int64
}

func startMITM(upstream string) *mitm {
	GinkgoHelper()
	ca, err := pki.LoadAuthority(fixtures.Path("pki"))
	Expect(err).NotTo(HaveOccurred())
	key, err := pki.GenerateKey(pki.ECDSAP256)
	Expect(err).NotTo(HaveOccurred())
	cert, err := pki.Issue(pki.Template{CommonName: "mitm", Hosts: []string{"127.0.0.1", "localhost"},
		Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, key, ca)
	Expect(err).NotTo(HaveOccurred())
	client, err := tls.LoadX509KeyPair(fixtures.Path("pki", "devices", deviceID+".crt"), fixtures.Path("pki", "devices", deviceID+".key"))
	Expect(err).NotTo(HaveOccurred())
	up, err := url.Parse(upstream)
	Expect(err).NotTo(HaveOccurred())

	m := &mitm{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(up)
			// Plain bodies, so a hook can find the bytes it wants.
			r.Out.Header.Del("Accept-Encoding")
		},
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testserver.CAPool(),
			Certificates: []tls.Certificate{client}, MinVersion: tls.VersionTLS12}},
		ModifyResponse: func(resp *http.Response) error {
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				return err
			}
			m.answers.Add(1)
			m.mu.Lock()
			hook := m.onAnswer
			m.mu.Unlock()
			if hook != nil {
				if body = hook(body); body == nil {
					return errors.New("mitm: answer withheld")
				}
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		},
		// Refused dials during an outage and withheld answers are the
		// point of some specs; they belong with the spec's output.
		ErrorLog: log.New(GinkgoWriter, "[mitm] ", 0),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	m.URL = "https://" + ln.Addr().String()
	m.srv = &http.Server{Handler: rp, ErrorLog: log.New(GinkgoWriter, "[mitm] ", 0)}
	tl := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}},
		MinVersion: tls.VersionTLS12})
	go func() { _ = m.srv.Serve(tl) }()
	DeferCleanup(func() { _ = m.srv.Close() })
	return m
}

// hook sets (or with nil removes) the function that sees every answer.
func (m *mitm) hook(fn func(body []byte) []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onAnswer = fn
}

// --- sockets of a process ---

// listeningSockets lists the sockets of pid that accept connections or
// datagrams from anyone: TCP in LISTEN (st 0A), UDP bound to a port with
// no peer, unix sockets with __SO_ACCEPTCON, raw sockets. It reads the
// socket inodes from /proc/PID/fd and looks them up in the tables of the
// process's network namespace (/proc/PID/net/*).
func listeningSockets(pid int) []string {
	GinkgoHelper()
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	fds, err := os.ReadDir(filepath.Join(proc, "fd"))
	Expect(err).NotTo(HaveOccurred())
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(proc, "fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	Expect(inodes).NotTo(BeEmpty(), "the process has no socket at all; it is not talking to the server")
	var found []string
	table := func(name string, inodeCol int, listening func(f []string) bool) {
		b, err := os.ReadFile(filepath.Join(proc, "net", name))
		if errors.Is(err, os.ErrNotExist) {
			return // e.g. no IPv6 in this kernel
		}
		Expect(err).NotTo(HaveOccurred())
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for _, line := range lines[1:] {
			f := strings.Fields(line)
			if len(f) > inodeCol && inodes[f[inodeCol]] && listening(f) {
				found = append(found, name+": "+line)
			}
		}
	}
	tcpListen := func(f []string) bool { return f[3] == "0A" }
	// An unconnected UDP socket with a local port receives from anyone.
	udpBound := func(f []string) bool {
		return !strings.HasSuffix(f[1], ":0000") && strings.Trim(f[2], "0:") == ""
	}
	table("tcp", 9, tcpListen)
	table("tcp6", 9, tcpListen)
	table("udp", 9, udpBound)
	table("udp6", 9, udpBound)
	table("raw", 9, func([]string) bool { return true })
	table("raw6", 9, func([]string) bool { return true })
	// unix: Num RefCount Protocol Flags Type St Inode [Path]
	table("unix", 6, func(f []string) bool {
		flags, err := strconv.ParseUint(f[3], 16, 32)
		return err == nil && flags&0x10000 != 0
	})
	return found
}
