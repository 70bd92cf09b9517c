package wssec_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/wssec"
	"github.com/rmsproject/rms/wssec/pki"
)

type heartbeatPayload struct {
	MessageID string `xml:"messageId"`
	State     string `xml:"state"`
	Metrics   []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"metric"`
}

var _ = Describe("Sign and Verify", func() {
	var p *testPKI
	ctx := context.Background()
	BeforeEach(func() { p = loadTestPKI() })

	DescribeTable("round trip for every key type and key reference style",
		func(which string, ref wssec.KeyReference) {
			id := map[string]identity{"ecdsa": p.ecdsa, "rsa": p.rsa}[which]
			signed := sign(id, ref, FixtureTime, heartbeat())
			res, err := p.verifier().Verify(ctx, signed)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Identity).To(Equal(id.cert.Subject.CommonName))
			Expect(res.Payload.Space).To(Equal("urn:rms:device:v1"))
			Expect(res.Payload.Local).To(Equal("Heartbeat"))
			Expect(res.Created).To(Equal(FixtureTime))
			var hb heartbeatPayload
			Expect(res.DecodePayload(&hb)).To(Succeed())
			Expect(hb.MessageID).To(Equal("3f2b8c1e-9d4a-4e7b-8a61-5c0d2e9f7a13"))
			Expect(hb.State).To(Equal("ok"))
			Expect(hb.Metrics).To(HaveLen(8))
		},
		Entry("ECDSA P-256, thumbprint", "ecdsa", wssec.RefThumbprint),
		Entry("ECDSA P-256, SKI", "ecdsa", wssec.RefSKI),
		Entry("ECDSA P-256, BinarySecurityToken", "ecdsa", wssec.RefBinarySecurityToken),
		Entry("ECDSA P-256, issuer and serial", "ecdsa", wssec.RefIssuerSerial),
		Entry("RSA-2048, thumbprint", "rsa", wssec.RefThumbprint),
		Entry("RSA-2048, SKI", "rsa", wssec.RefSKI),
		Entry("RSA-2048, BinarySecurityToken", "rsa", wssec.RefBinarySecurityToken),
		Entry("RSA-2048, issuer and serial", "rsa", wssec.RefIssuerSerial),
	)

	It("signs and verifies with ECDSA P-384 (ecdsa-sha384)", func() {
		key, err := pki.GenerateKey(pki.ECDSAP384)
		Expect(err).NotTo(HaveOccurred())
		cert, err := pki.Issue(pki.Template{CommonName: "dev-p384", Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			NotBefore: pkiValidity.from, NotAfter: pkiValidity.to}, key, &pki.Authority{Cert: p.ca.cert, Key: p.ca.key})
		Expect(err).NotTo(HaveOccurred())
		signed := sign(identity{cert, key}, wssec.RefBinarySecurityToken, FixtureTime, heartbeat())
		Expect(string(signed)).To(ContainSubstring(wssec.AlgECDSASHA384))
		res, err := p.verifier().Verify(ctx, signed)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Identity).To(Equal("dev-p384"))
	})

	It("keeps the caller's SOAP prefix and an existing Header", func() {
		env := `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header><x:Trace xmlns:x="urn:x">1</x:Trace></S:Header><S:Body><Ping xmlns="urn:rms:device:v1"/></S:Body></S:Envelope>`
		res, err := p.verifier().Verify(ctx, sign(p.ecdsa, wssec.RefThumbprint, FixtureTime, []byte(env)))
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Payload.Local).To(Equal("Ping"))
		Expect(string(res.Body)).To(Equal(`<S:Body xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" u:Id="B"><Ping xmlns="urn:rms:device:v1"></Ping></S:Body>`))
	})

	Describe("Signer refuses", func() {
		It("an envelope that is already signed", func() {
			_, err := signer(p.ecdsa, wssec.RefThumbprint, FixtureTime).Sign(sign(p.ecdsa, wssec.RefThumbprint, FixtureTime, heartbeat()))
			Expect(err).To(MatchError(ContainSubstring("already has a Security header")))
		})
		It("something that is not a SOAP 1.1 envelope", func() {
			_, err := signer(p.ecdsa, wssec.RefThumbprint, FixtureTime).Sign([]byte(`<a/>`))
			Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeMalformed))
		})
		It("RSA keys under 2048 bits and keys that do not match the certificate", func() {
			_, err := wssec.NewSigner(wssec.SignerConfig{Certificate: p.weak.cert, Key: p.weak.key})
			Expect(err).To(MatchError(ContainSubstring("at least 2048")))
			_, err = wssec.NewSigner(wssec.SignerConfig{Certificate: p.ecdsa.cert, Key: p.rsa.key})
			Expect(err).To(MatchError(ContainSubstring("does not match")))
		})
	})

	Describe("timestamps, at and past the edges", func() {
		signed := func() []byte { return sign(p.ecdsa, wssec.RefThumbprint, FixtureTime, heartbeat()) }
		at := func(t time.Time) func(*wssec.VerifierConfig) {
			return func(c *wssec.VerifierConfig) { c.Now = func() time.Time { return t } }
		}
		expires := FixtureTime.Add(wssec.DefaultTTL)
		DescribeTable("verify clock", func(now time.Time, code wssec.Code) {
			_, err := p.verifier(at(now)).Verify(ctx, signed())
			Expect(wssec.CodeOf(err)).To(Equal(code), "%v", err)
		},
			Entry("created exactly skew ahead of the verifier", FixtureTime.Add(-wssec.DefaultSkew), wssec.Code("")),
			Entry("created a second more ahead", FixtureTime.Add(-wssec.DefaultSkew-time.Second), wssec.CodeExpired),
			Entry("exactly skew after Expires", expires.Add(wssec.DefaultSkew), wssec.Code("")),
			Entry("a second later", expires.Add(wssec.DefaultSkew+time.Second), wssec.CodeExpired),
		)
		It("refuses a validity longer than MaxLifetime", func() {
			s, err := wssec.NewSigner(wssec.SignerConfig{Certificate: p.ecdsa.cert, Key: p.ecdsa.key, TTL: 2 * time.Hour, Now: func() time.Time { return FixtureTime }})
			Expect(err).NotTo(HaveOccurred())
			out, err := s.Sign(heartbeat())
			Expect(err).NotTo(HaveOccurred())
			_, err = p.verifier().Verify(ctx, out)
			Expect(err).To(MatchError(ContainSubstring("exceeds")))
		})
	})

	Describe("replay", func() {
		It("refuses an exact re-send and stays refused", func() {
			guard := &wssec.MemoryReplayGuard{Now: func() time.Time { return FixtureTime }}
			v := p.verifier(func(c *wssec.VerifierConfig) { c.Replay = guard })
			msg := sign(p.ecdsa, wssec.RefThumbprint, FixtureTime, heartbeat())
			_, err := v.Verify(ctx, msg)
			Expect(err).NotTo(HaveOccurred())
			for range 2 {
				_, err = v.Verify(ctx, msg)
				Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeReplay))
			}
			// A fresh signature of the same body is a different message.
			_, err = v.Verify(ctx, sign(p.ecdsa, wssec.RefThumbprint, FixtureTime.Add(time.Second), heartbeat()))
			Expect(err).NotTo(HaveOccurred())
		})
		It("reports a failing replay store as UNAVAILABLE, not as success", func() {
			v := p.verifier(func(c *wssec.VerifierConfig) { c.Replay = failingGuard{} })
			_, err := v.Verify(ctx, sign(p.ecdsa, wssec.RefThumbprint, FixtureTime, heartbeat()))
			Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeUnavailable))
		})
		It("holds at most MaxEntries live records", func() {
			guard := &wssec.MemoryReplayGuard{MaxEntries: 2, Now: func() time.Time { return FixtureTime }}
			until := FixtureTime.Add(time.Minute)
			Expect(guard.Seen(ctx, "a", until)).To(BeFalse())
			Expect(guard.Seen(ctx, "b", until)).To(BeFalse())
			_, err := guard.Seen(ctx, "c", until)
			Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeUnavailable))
			guard.Now = func() time.Time { return until }
			Expect(guard.Seen(ctx, "c", until.Add(time.Minute))).To(BeFalse(), "expired records make room")
		})
	})

	Describe("trust", func() {
		It("needs the certificate a key identifier names, and takes it from WithCertificates", func() {
			msg := sign(p.ecdsa, wssec.RefThumbprint, FixtureTime, heartbeat())
			v := p.verifier(func(c *wssec.VerifierConfig) { c.Certificates = nil })
			_, err := v.Verify(ctx, msg)
			Expect(err).To(MatchError(ContainSubstring("unknown signing certificate")))
			res, err := v.Verify(ctx, msg, wssec.WithCertificates(p.ecdsa.cert))
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Identity).To(Equal("dev-0001"))
		})
		It("verifies server responses against ServerAuth, and refuses a device certificate there", func() {
			v := p.verifier(func(c *wssec.VerifierConfig) { c.KeyUsage = x509.ExtKeyUsageServerAuth })
			_, err := v.Verify(ctx, sign(p.server, wssec.RefThumbprint, FixtureTime, heartbeat()), wssec.WithCertificates(p.server.cert))
			Expect(err).NotTo(HaveOccurred())
			_, err = v.Verify(ctx, sign(p.ecdsa, wssec.RefThumbprint, FixtureTime, heartbeat()))
			Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeBadSignature))
		})
		It("accepts only a pinned certificate when some are pinned, even one the roots trust", func() {
			pinned := p.verifier(func(c *wssec.VerifierConfig) { c.Pinned = []*x509.Certificate{p.ecdsa.cert} })
			_, err := pinned.Verify(ctx, sign(p.ecdsa, wssec.RefBinarySecurityToken, FixtureTime, heartbeat()))
			Expect(err).NotTo(HaveOccurred())
			_, err = pinned.Verify(ctx, sign(p.rsa, wssec.RefBinarySecurityToken, FixtureTime, heartbeat()))
			Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeBadSignature))
			Expect(err).To(MatchError(ContainSubstring("not by a pinned certificate")))
		})
		It("refuses a certificate outside its validity period", func() {
			late := pkiValidity.to.Add(time.Hour)
			msg := sign(p.ecdsa, wssec.RefThumbprint, late, heartbeat())
			_, err := p.verifier(func(c *wssec.VerifierConfig) { c.Now = func() time.Time { return late } }).Verify(ctx, msg)
			Expect(err).To(MatchError(ContainSubstring("not valid at this time")))
		})
		It("refuses an ECDSA value in ASN.1 form instead of r||s", func() {
			msg := string(sign(p.ecdsa, wssec.RefThumbprint, FixtureTime, heartbeat()))
			i := strings.Index(msg, "<SignatureValue>") + len("<SignatureValue>")
			j := strings.Index(msg, "</SignatureValue>")
			msg = msg[:i] + "MEUCIQ" + msg[i+6:j] + msg[j:]
			_, err := p.verifier().Verify(ctx, []byte(msg))
			Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeBadSignature))
		})
	})
})

type failingGuard struct{}

func (failingGuard) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("store down")
}

func ctx() context.Context { return context.Background() }
