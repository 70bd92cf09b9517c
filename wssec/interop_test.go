package wssec_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/fixtures/testenv"
	"github.com/rmsproject/rms/wssec"
)

var _ = Describe("interop with third-party XML Signature implementations", Label("interop"), func() {
	var p *testPKI
	BeforeEach(func() { p = loadTestPKI() })

	Describe("xmlsec1 verifies what we sign", func() {
		xmlsec1 := func(signed []byte, certFile string) (string, error) {
			bin := testenv.RequireTool("xmlsec1")
			f := filepath.Join(GinkgoT().TempDir(), "signed.xml")
			Expect(os.WriteFile(f, signed, 0o644)).To(Succeed())
			out, err := exec.Command(bin, "--verify",
				"--pubkey-cert-pem", certFile,
				"--id-attr:Id", wssec.NSSoap11+":Body",
				"--id-attr:Id", wssec.NSWSU+":Timestamp",
				f).CombinedOutput()
			return string(out), err
		}
		DescribeTable("signature and both references check out",
			func(which string) {
				id := map[string]identity{"dev-0001": p.ecdsa, "dev-0002": p.rsa}[which]
				signed := sign(id, wssec.RefBinarySecurityToken, time.Now(), heartbeat())
				out, err := xmlsec1(signed, fixtures.Path("pki", "devices", which+".crt"))
				Expect(err).NotTo(HaveOccurred(), out)
				Expect(out).To(ContainSubstring("SignedInfo References (ok/all): 2/2"))

				tampered := bytes.Replace(signed, []byte("<state>ok</state>"), []byte("<state>error</state>"), 1)
				out, err = xmlsec1(tampered, fixtures.Path("pki", "devices", which+".crt"))
				Expect(err).To(HaveOccurred(), "xmlsec1 must refuse a tampered body: "+out)
			},
			Entry("ECDSA P-256 (r||s signature value)", "dev-0001"),
			Entry("RSA-2048", "dev-0002"),
		)
	})

	Describe("we verify what third parties sign", func() {
		DescribeTable("python3-xmlsec (WSS4J layout) and zeep's BinarySignature",
			func(mode, device, keyType string) {
				python := testenv.RequirePython("xmlsec", "zeep", "lxml")
				base := fixtures.Path("pki", "devices", device)
				cmd := exec.Command(python, fixtures.Path("..", "scripts", "interop", "wss_sign.py"), mode, base+".key", base+".crt", keyType)
				cmd.Stdin = bytes.NewReader(fixtures.Read("envelopes", "valid", "Heartbeat.xml"))
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				signed, err := cmd.Output()
				Expect(err).NotTo(HaveOccurred(), stderr.String())

				v := p.verifier(func(c *wssec.VerifierConfig) { c.Now = time.Now })
				res, err := v.Verify(context.Background(), signed)
				Expect(err).NotTo(HaveOccurred(), string(signed))
				Expect(res.Identity).To(Equal(device))
				Expect(res.Payload.Local).To(Equal("Heartbeat"))

				tampered := bytes.Replace(signed, []byte("<state>ok</state>"), []byte("<state>error</state>"), 1)
				_, err = v.Verify(context.Background(), tampered)
				Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeBadSignature))
			},
			Entry("xmlsec, RSA-SHA256", "xmlsec", "dev-0002", "rsa"),
			Entry("xmlsec, ECDSA-SHA256", "xmlsec", "dev-0001", "ec"),
			Entry("zeep BinarySignature, RSA-SHA256", "zeep", "dev-0002", "rsa"),
		)
	})
})
