package main_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/fixtures/testserver"
	"github.com/rmsproject/rms/generated/management"
)

// expectedFault reads the "Expected fault: CODE." note attack fixtures
// carry.
var expectedFault = regexp.MustCompile(`Expected fault: ([A-Z_]+)\.`)

type faultEnvelope struct {
	Body struct {
		Fault struct {
			Code   string `xml:"faultcode"`
			String string `xml:"faultstring"`
			Detail struct {
				FaultDetail struct {
					Code    string `xml:"code"`
					Message string `xml:"message"`
				} `xml:"FaultDetail"`
			} `xml:"detail"`
		} `xml:"Fault"`
	} `xml:"Body"`
}

func post(c *http.Client, url string, body []byte) (int, faultEnvelope) {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := c.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	var f faultEnvelope
	Expect(xml.Unmarshal(raw, &f)).To(Succeed(), string(raw))
	return resp.StatusCode, f
}

var _ = Describe("the device endpoint under attack", func() {
	It("refuses every attack fixture with its code, audits it, stores nothing and keeps serving", func() {
		s := testserver.Start(bin, testserver.Options{})
		dev := testserver.DeviceClient("dev-0001")
		files, err := filepath.Glob(fixtures.Path("envelopes", "attacks", "*.xml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(len(files)).To(BeNumerically(">=", 33))
		// Internals that must never reach a fault.
		leak := regexp.MustCompile(`(?i)(sql|goroutine|panic|\.go:\d|/home/|/tmp/|/work/)`)
		for _, f := range files {
			raw, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			want := "MALFORMED" // utf16.xml cannot carry a note a UTF-8 reader finds
			if m := expectedFault.FindSubmatch(raw); m != nil {
				want = string(m[1])
			} else {
				Expect(filepath.Base(f)).To(Equal("utf16.xml"), "%s has no expected-fault note", f)
			}
			status, fault := post(dev, s.URL+"/soap/device", raw)
			By(filepath.Base(f) + " → " + fault.Body.Fault.Detail.FaultDetail.Code)
			Expect(fault.Body.Fault.Detail.FaultDetail.Code).To(Equal(want), filepath.Base(f))
			if want == "TOO_LARGE" {
				Expect(status).To(Equal(http.StatusRequestEntityTooLarge))
			} else {
				Expect(status).To(Equal(http.StatusInternalServerError))
			}
			Expect(fault.Body.Fault.Code).To(Equal("soap:Client"))
			Expect(fault.Body.Fault.String).NotTo(MatchRegexp(leak.String()))
			Expect(fault.Body.Fault.Detail.FaultDetail.Message).NotTo(MatchRegexp(leak.String()))
		}
		ctx := context.Background()
		mgr := s.Manager()
		devices, err := mgr.ListDevices(ctx, &management.ListDevices{})
		Expect(err).NotTo(HaveOccurred())
		Expect(devices.Device).To(BeEmpty(), "a refused request registered a device")

		audit, err := mgr.QueryAudit(ctx, &management.QueryAudit{Actor: "device:dev-0001", Limit: 500})
		Expect(err).NotTo(HaveOccurred())
		denied := 0
		for _, r := range audit.Record {
			if r.Outcome != nil && *r.Outcome == management.AuditOutcomeDenied {
				denied++
			}
		}
		Expect(denied).To(Equal(len(files)))

		// Still serving: a good heartbeat goes through.
		_, err = s.Device("dev-0001").Heartbeat(ctx, heartbeat("ok"))
		Expect(err).NotTo(HaveOccurred())
	})
})
