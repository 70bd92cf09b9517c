package wssec_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"time"

	"github.com/beevik/etree"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/wssec"
	"github.com/rmsproject/rms/wssec/pki"
)

// The test PKI under fixtures/pki is committed (its keys protect nothing) so
// that the attack envelopes, signed with it, stay byte-stable. `go test
// ./wssec -update` rewrites the attack fixtures (and creates the PKI when
// it is missing).
var update = flag.Bool("update", false, "rewrite fixtures/envelopes/attacks (and fixtures/pki if missing)")

// FixtureTime is when every fixture envelope was signed; verify them with
// a clock set to it (rmsctl envelope verify --now 2026-11-23T10:15:00Z).
var FixtureTime = time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC)

type identity struct {
	cert *x509.Certificate
	key  crypto.Signer
}

type testPKI struct {
	dir      string
	roots    *x509.CertPool
	ca       identity
	ecdsa    identity // dev-0001, ECDSA P-256
	rsa      identity // dev-0002, RSA-2048
	weak     identity // dev-weak, RSA-1024 issued by the CA
	rogue    identity // self-signed "dev-0001", not issued by the CA
	server   identity
	allCerts *wssec.CertSet
}

var pkiValidity = struct{ from, to time.Time }{
	time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2046, 1, 1, 0, 0, 0, 0, time.UTC),
}

func loadTestPKI() *testPKI {
	dir := fixtures.Path("pki")
	if _, err := os.Stat(filepath.Join(dir, pki.CACert)); os.IsNotExist(err) {
		Expect(*update).To(BeTrue(), "fixtures/pki is missing; run go test ./wssec -update")
		makeTestPKI(dir)
	}
	load := func(name string) identity {
		c, k, err := pki.LoadKeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
		Expect(err).NotTo(HaveOccurred())
		return identity{c, k}
	}
	p := &testPKI{dir: dir, ca: load("ca"), ecdsa: load("devices/dev-0001"), rsa: load("devices/dev-0002"),
		weak: load("devices/dev-weak"), rogue: load("rogue/dev-0001"), server: load("server")}
	p.roots = x509.NewCertPool()
	p.roots.AddCert(p.ca.cert)
	p.allCerts = wssec.NewCertSet(p.ecdsa.cert, p.rsa.cert, p.weak.cert, p.rogue.cert)
	return p
}

func makeTestPKI(dir string) {
	issue := func(name string, t pki.Template, kt pki.KeyType, ca *pki.Authority) *pki.Authority {
		t.NotBefore, t.NotAfter = pkiValidity.from, pkiValidity.to
		key, err := pki.GenerateKey(kt)
		Expect(err).NotTo(HaveOccurred())
		cert, err := pki.Issue(t, key, ca)
		Expect(err).NotTo(HaveOccurred())
		path := filepath.Join(dir, name)
		Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
		Expect(pki.WriteKeyPair(path+".crt", path+".key", cert, key)).To(Succeed())
		return &pki.Authority{Cert: cert, Key: key}
	}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	ca := issue("ca", pki.Template{CommonName: "RMS Test Device CA", IsCA: true}, pki.ECDSAP256, nil)
	issue("server", pki.Template{CommonName: "localhost", Hosts: pki.DefaultHosts, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, pki.ECDSAP256, ca)
	issue("devices/dev-0001", pki.Template{CommonName: "dev-0001", Usage: client}, pki.ECDSAP256, ca)
	issue("devices/dev-0002", pki.Template{CommonName: "dev-0002", Usage: client}, pki.RSA2048, ca)
	issue("devices/dev-weak", pki.Template{CommonName: "dev-weak", Usage: client}, pki.RSA1024, ca)
	issue("rogue/dev-0001", pki.Template{CommonName: "dev-0001", Usage: client}, pki.ECDSAP256, nil)
}

func (p *testPKI) verifier(mod ...func(*wssec.VerifierConfig)) *wssec.Verifier {
	cfg := wssec.VerifierConfig{Roots: p.roots, Certificates: p.allCerts, Now: func() time.Time { return FixtureTime.Add(time.Minute) }}
	for _, m := range mod {
		m(&cfg)
	}
	v, err := wssec.NewVerifier(cfg)
	Expect(err).NotTo(HaveOccurred())
	return v
}

func signer(id identity, ref wssec.KeyReference, at time.Time) *wssec.Signer {
	s, err := wssec.NewSigner(wssec.SignerConfig{Certificate: id.cert, Key: id.key, Reference: ref, Now: func() time.Time { return at }})
	Expect(err).NotTo(HaveOccurred())
	return s
}

// heartbeat is the valid Heartbeat fixture without its XML declaration and
// descriptive comment: what an agent actually sends.
func heartbeat() []byte {
	doc := parse(fixtures.Read("envelopes", "valid", "Heartbeat.xml"))
	for _, tok := range doc.Child {
		switch tok.(type) {
		case *etree.Comment, *etree.ProcInst, *etree.CharData:
			doc.RemoveChild(tok)
		}
	}
	return serialize(doc)
}

func sign(id identity, ref wssec.KeyReference, at time.Time, envelope []byte) []byte {
	out, err := signer(id, ref, at).Sign(envelope)
	Expect(err).NotTo(HaveOccurred())
	return out
}

// --- envelope surgery for the attack fixtures ---------------------------

func parse(raw []byte) *etree.Document {
	doc := etree.NewDocument()
	Expect(doc.ReadFromBytes(raw)).To(Succeed())
	return doc
}

func serialize(doc *etree.Document) []byte {
	doc.WriteSettings.CanonicalText = true
	doc.WriteSettings.CanonicalAttrVal = true
	b, err := doc.WriteToBytes()
	Expect(err).NotTo(HaveOccurred())
	return b
}

func mutate(raw []byte, f func(doc *etree.Document)) []byte {
	doc := parse(raw)
	f(doc)
	return serialize(doc)
}

func child(el *etree.Element, local string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == local {
			return c
		}
	}
	Fail("no child " + local + " in " + el.Tag)
	return nil
}

func parts(doc *etree.Document) (env, header, sec, sig, body *etree.Element) {
	env = doc.Root()
	header = child(env, "Header")
	body = child(env, "Body")
	sec = child(header, "Security")
	sig = child(sec, "Signature")
	return
}

// resign recomputes every reference digest and the signature value after
// surgery, with the given digest and signature algorithms: it produces
// messages that are cryptographically valid but break the profile (weak
// algorithms, odd transforms), so the refusal we test is the policy's and
// not a broken digest's.
func resign(doc *etree.Document, id identity, digestAlg, sigAlg string, digestHash, sigHash crypto.Hash) {
	env, _, _, sig, _ := parts(doc)
	si := child(sig, "SignedInfo")
	child(si, "SignatureMethod").CreateAttr("Algorithm", sigAlg)
	ids := map[string]*etree.Element{}
	var walk func(*etree.Element)
	walk = func(e *etree.Element) {
		for _, a := range e.Attr {
			if a.Key == "Id" {
				ids[a.Value] = e
			}
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(env)
	for _, ref := range si.ChildElements() {
		if ref.Tag != "Reference" {
			continue
		}
		target := ids[ref.SelectAttrValue("URI", "")[1:]]
		c14n, err := wssec.Canonicalize(target, nil)
		Expect(err).NotTo(HaveOccurred())
		h := digestHash.New()
		h.Write(c14n)
		child(ref, "DigestMethod").CreateAttr("Algorithm", digestAlg)
		child(ref, "DigestValue").SetText(base64.StdEncoding.EncodeToString(h.Sum(nil)))
	}
	c14n, err := wssec.Canonicalize(si, nil)
	Expect(err).NotTo(HaveOccurred())
	h := sigHash.New()
	h.Write(c14n)
	rsaKey, ok := id.key.(*rsa.PrivateKey)
	Expect(ok).To(BeTrue(), "resign needs an RSA key")
	value, err := rsa.SignPKCS1v15(nil, rsaKey, sigHash, h.Sum(nil))
	Expect(err).NotTo(HaveOccurred())
	child(sig, "SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
}

// withComment puts a comment describing the attack before the root element.
func withComment(comment string, envelope []byte) []byte {
	decl := []byte(`<?xml version="1.0" encoding="UTF-8"?>`)
	if bytes.HasPrefix(envelope, []byte("<?xml")) {
		end := bytes.Index(envelope, []byte("?>")) + 2
		decl, envelope = envelope[:end], envelope[end:]
	}
	envelope = bytes.TrimLeft(envelope, "\n")
	return append([]byte(string(decl)+"\n<!-- "+comment+" -->\n"), envelope...)
}
