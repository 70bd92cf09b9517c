package main_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures/testserver"
)

func get(url string) (int, string) {
	GinkgoHelper()
	resp, err := testserver.Client().Get(url)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(b)
}

// metric returns the value of an unlabelled metric from /metrics.
func metric(s *testserver.Server, name string) string {
	GinkgoHelper()
	_, body := get(s.URL + "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

var _ = Describe("contracts and operational endpoints", func() {
	It("serves both WSDLs with addresses and imports that resolve against the serving address", func() {
		s := testserver.Start(bin, testserver.Options{})
		for _, c := range []struct{ path, xsd string }{{"/soap/device", "device"}, {"/soap/manage", "management"}} {
			status, wsdl := get(s.URL + c.path + "?wsdl")
			Expect(status).To(Equal(http.StatusOK))
			Expect(wsdl).To(ContainSubstring(`location="` + s.URL + c.path + `"`))
			Expect(wsdl).To(ContainSubstring(`schemaLocation="` + s.URL + c.path + `?xsd=` + c.xsd + `"`))
			status, xsd := get(s.URL + c.path + "?xsd=" + c.xsd)
			Expect(status).To(Equal(http.StatusOK))
			Expect(xsd).To(ContainSubstring("<xs:schema"))
			status, _ = get(s.URL + c.path + "?xsd=../../etc/passwd")
			Expect(status).To(Equal(http.StatusNotFound))
		}
		status, body := get(s.URL + "/healthz")
		Expect(status).To(Equal(http.StatusOK))
		Expect(body).To(Equal("ok\n"))
		status, _ = get(s.URL + "/readyz")
		Expect(status).To(Equal(http.StatusOK))
		status, body = get(s.URL + "/metrics")
		Expect(status).To(Equal(http.StatusOK))
		Expect(body).To(ContainSubstring("rms_longpolls_waiting"))
		Expect(body).To(ContainSubstring("rms_store_batch_size"))
	})

	It("speaks TLS 1.2 with AES-256-GCM suites and TLS 1.3 only", func() {
		s := testserver.Start(bin, testserver.Options{})
		addr := strings.TrimPrefix(s.URL, "https://")
		dial := func(c *tls.Config) error {
			c.RootCAs = testserver.CAPool()
			conn, err := tls.Dial("tcp", addr, c)
			if err == nil {
				conn.Close()
			}
			return err
		}
		Expect(dial(&tls.Config{MinVersion: tls.VersionTLS13})).To(Succeed())
		Expect(dial(&tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}})).To(Succeed())
		Expect(dial(&tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})).NotTo(Succeed())
		Expect(dial(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})).NotTo(Succeed())
	})
})
