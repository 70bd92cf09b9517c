package wssec

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/wssec/pki"
)

// The benchmarks sign and verify the 8-metric Heartbeat fixture, and break
// verification into its parts so the README can say where the time goes:
//
//	go test -run '^$' -bench . -benchmem ./wssec/
//
// They live in package wssec (not wssec_test) to reach the parts.

var benchNow = time.Date(2026, 11, 23, 10, 15, 30, 0, time.UTC)

type benchKit struct {
	cert   *x509.Certificate
	signed []byte
	v      *Verifier
	s      *Signer
}

func newBenchKit(b *testing.B, device string, ref KeyReference) *benchKit {
	b.Helper()
	cert, key := loadBenchPair(b, filepath.Join("devices", device))
	ca, _ := loadBenchPair(b, "ca")
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	s, err := NewSigner(SignerConfig{Certificate: cert, Key: key, Reference: ref, Now: func() time.Time { return benchNow }})
	if err != nil {
		b.Fatal(err)
	}
	signed, err := s.Sign(benchEnvelope(b))
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Roots: roots, Certificates: NewCertSet(cert), Now: func() time.Time { return benchNow }})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), signed); err != nil {
		b.Fatal(err)
	}
	return &benchKit{cert: cert, signed: signed, v: v, s: s}
}

// benchEnvelope is the Heartbeat fixture as an agent sends it: no XML
// declaration, no comment.
func benchEnvelope(b *testing.B) []byte {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(fixtures.Read("envelopes", "valid", "Heartbeat.xml")); err != nil {
		b.Fatal(err)
	}
	d2 := etree.NewDocument()
	d2.SetRoot(doc.Root().Copy())
	raw, err := d2.WriteToBytes()
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func loadBenchPair(b *testing.B, name string) (*x509.Certificate, crypto.Signer) {
	b.Helper()
	cert, key, err := pki.LoadKeyPair(fixtures.Path("pki", name+".crt"), fixtures.Path("pki", name+".key"))
	if err != nil {
		b.Fatal(err)
	}
	return cert, key
}

func BenchmarkSign(b *testing.B) {
	for _, c := range []struct{ name, device string }{{"ECDSA-P256", "dev-0001"}, {"RSA-2048", "dev-0002"}} {
		b.Run(c.name, func(b *testing.B) {
			k := newBenchKit(b, c.device, RefThumbprint)
			env := benchEnvelope(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.s.Sign(env); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(k.signed)), "bytes/msg")
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, c := range []struct {
		name, device string
		ref          KeyReference
	}{
		{"ECDSA-P256/thumbprint", "dev-0001", RefThumbprint},
		{"RSA-2048/thumbprint", "dev-0002", RefThumbprint},
		{"RSA-2048/BinarySecurityToken", "dev-0002", RefBinarySecurityToken},
	} {
		b.Run(c.name, func(b *testing.B) {
			k := newBenchKit(b, c.device, c.ref)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.v.Verify(ctx, k.signed); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(k.signed)), "bytes/msg")
		})
	}
}

// BenchmarkVerifyParts times each stage of Verify on the RSA-2048 message.
func BenchmarkVerifyParts(b *testing.B) {
	k := newBenchKit(b, "dev-0002", RefThumbprint)
	parse := func() *etree.Document {
		doc, err := parseXML(k.signed, DefaultMaxDepth)
		if err != nil {
			b.Fatal(err)
		}
		return doc
	}
	doc := parse()
	m, err := parseMessage(doc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("1-limits", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CheckLimits(k.signed, Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("2-parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			parse()
		}
	})
	b.Run("3-profile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseMessage(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	var buf []byte
	b.Run("4-c14n", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range m.refs {
				buf, _ = canonicalize(buf[:0], r.target, r.inclusive)
			}
			buf, _ = canonicalize(buf[:0], m.signedInfo, nil)
		}
	})
	b.Run("5-digest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range m.refs {
				buf, _ = canonicalize(buf[:0], r.target, r.inclusive)
				sha256.Sum256(buf)
			}
		}
	})
	si, _ := canonicalize(nil, m.signedInfo, nil)
	b.Run("6-signature", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := checkSignatureValue(k.cert.PublicKey, m.sigAlg, si, m.sigValue); err != nil {
				b.Fatal(err)
			}
		}
	})
}
