package wssec

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
)

// Policy limits beyond input size.
const (
	// MinRSABits is the smallest RSA modulus accepted, for signing and verifying.
	MinRSABits = 2048
	// DefaultSkew is the clock difference tolerated on Timestamps.
	DefaultSkew = 5 * time.Minute
	// DefaultMaxLifetime is the longest Timestamp validity accepted; it
	// bounds how long a replay record must be kept.
	DefaultMaxLifetime = time.Hour
	// maxReferences and maxTransforms bound the work a SignedInfo can ask
	// for; our profile needs exactly two references and one transform each.
	maxReferences = 2
	maxTransforms = 1
)

// ReplayGuard remembers signed messages so an exact re-send is refused. The
// server backs it with its store, so the record survives restarts and is
// shared by replicas. Seen records key until the given time and reports
// whether key was already recorded; an error makes Verify fail with
// UNAVAILABLE (a retry may succeed).
type ReplayGuard interface {
	Seen(ctx context.Context, key string, until time.Time) (bool, error)
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Roots are the trust anchors a signing certificate must chain to
	// (the device CA on the server; the server's CA or certificate on the
	// agent). Required.
	Roots *x509.CertPool
	// Intermediates may help build chains.
	Intermediates *x509.CertPool
	// KeyUsage the signing certificate must allow; default ClientAuth.
	// Use x509.ExtKeyUsageServerAuth to verify server responses.
	KeyUsage x509.ExtKeyUsage
	// Certificates resolves key identifiers and issuer/serial references.
	Certificates CertificateSource
	// Pinned, if set, are the only certificates a signature may be made
	// with (they must still chain to Roots): the agent pins the server's
	// certificate, so another certificate from the same CA is refused
	// even when the message carries it.
	Pinned      []*x509.Certificate
	Limits      Limits
	Skew        time.Duration // default DefaultSkew
	MaxLifetime time.Duration // default DefaultMaxLifetime
	Replay      ReplayGuard   // nil: no replay detection (tools only)
	Now         func() time.Time
}

// Verifier checks signed envelopes. It is safe for concurrent use.
type Verifier struct {
	cfg   VerifierConfig
	certs certCache
}

// NewVerifier validates cfg and returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Roots == nil {
		return nil, errors.New("wssec.NewVerifier: trust anchors (Roots) are required")
	}
	if cfg.KeyUsage == 0 {
		cfg.KeyUsage = x509.ExtKeyUsageClientAuth
	}
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Limits = cfg.Limits.withDefaults()
	return &Verifier{cfg: cfg, certs: certCache{m: map[[32]byte]*certEntry{}}}, nil
}

// Result is what a verified envelope proves.
type Result struct {
	// Identity is the signer's identity: the certificate's subject common
	// name (the device id for device certificates).
	Identity    string
	Certificate *x509.Certificate
	Created     time.Time
	Expires     time.Time
	// Body is the exclusive canonical form of the soap:Body element: the
	// exact bytes whose digest the signature covers. Read the message
	// from here, never from the raw input.
	Body []byte
	// Payload is the name of the Body's single child element, the
	// operation to dispatch on.
	Payload xml.Name
	// ReplayKey identifies the signed content (a digest of the canonical
	// SignedInfo, which covers Body and Timestamp digests).
	ReplayKey string
}

// DecodePayload unmarshals the Body's child element into v, from the
// verified canonical bytes.
func (r *Result) DecodePayload(v any) error {
	dec := xml.NewDecoder(bytes.NewReader(r.Body))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("wssec.DecodePayload: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			depth++
			if depth == 2 {
				return dec.DecodeElement(v, &se)
			}
		}
	}
}

// VerifyOption adjusts one verification.
type VerifyOption func(*verifyCall)

type verifyCall struct {
	candidates []*x509.Certificate
}

// WithCertificates offers certificates (such as the TLS client certificate)
// that key identifiers in this message may name. They are still checked
// against the trust anchors.
func WithCertificates(certs ...*x509.Certificate) VerifyOption {
	return func(c *verifyCall) { c.candidates = append(c.candidates, certs...) }
}

// Verify applies every check to raw and returns what it proves. Failures
// are *Error values whose Code is the fault code to report.
func (v *Verifier) Verify(ctx context.Context, raw []byte, opts ...VerifyOption) (*Result, error) {
	var call verifyCall
	for _, o := range opts {
		o(&call)
	}
	raw, err := CheckLimits(raw, v.cfg.Limits)
	if err != nil {
		return nil, err
	}
	doc, err := parseXML(raw, v.cfg.Limits.MaxDepth)
	if err != nil {
		return nil, err
	}
	m, err := parseMessage(doc)
	if err != nil {
		return nil, err
	}

	now := v.cfg.Now()
	// Digests before the (costlier) public-key work.
	var buf []byte
	var bodyC14N []byte
	for _, ref := range m.refs {
		buf, err = canonicalize(buf[:0], ref.target, ref.inclusive)
		if err != nil {
			return nil, failWrap(CodeMalformed, err, "cannot canonicalize %s", ref.uri)
		}
		h := ref.hash.New()
		h.Write(buf)
		if subtle.ConstantTimeCompare(h.Sum(nil), ref.digest) != 1 {
			return nil, fail(CodeBadSignature, "digest of %s does not match: the signed content was changed", ref.uri)
		}
		if ref.target == m.body {
			bodyC14N = bytes.Clone(buf)
		}
	}

	cert, err := v.resolveCertificate(m, call.candidates)
	if err != nil {
		return nil, err
	}
	if !v.pinned(cert) {
		return nil, fail(CodeBadSignature, "message is signed by %q, not by a pinned certificate", cert.Subject.CommonName)
	}
	if err := v.checkTrust(cert, now); err != nil {
		return nil, err
	}
	signedInfo, err := canonicalize(buf[:0], m.signedInfo, m.siInclusive)
	if err != nil {
		return nil, failWrap(CodeMalformed, err, "cannot canonicalize SignedInfo")
	}
	if err := checkSignatureValue(cert.PublicKey, m.sigAlg, signedInfo, m.sigValue); err != nil {
		return nil, err
	}
	// Only now is the Timestamp known to be the signer's.
	created, expires, err := v.checkTimestamp(m.timestamp, now)
	if err != nil {
		return nil, err
	}
	replayKey := sha256.Sum256(signedInfo)
	res := &Result{
		Identity:    cert.Subject.CommonName,
		Certificate: cert,
		Created:     created,
		Expires:     expires,
		Body:        bodyC14N,
		Payload:     m.payload,
		ReplayKey:   hex.EncodeToString(replayKey[:]),
	}
	if v.cfg.Replay != nil {
		seen, err := v.cfg.Replay.Seen(ctx, res.ReplayKey, expires.Add(v.cfg.Skew))
		if err != nil {
			return nil, failWrap(CodeUnavailable, err, "replay check unavailable")
		}
		if seen {
			return nil, fail(CodeReplay, "this signed message was already received")
		}
	}
	return res, nil
}

func (v *Verifier) checkTimestamp(ts *etree.Element, now time.Time) (created, expires time.Time, err error) {
	var c, e *etree.Element
	for _, ch := range ts.ChildElements() {
		switch {
		case is(ch, NSWSU, "Created") && c == nil:
			c = ch
		case is(ch, NSWSU, "Expires") && e == nil && c != nil:
			e = ch
		default:
			return created, expires, fail(CodeMalformed, "unexpected %q in Timestamp", ch.Tag)
		}
	}
	if c == nil || e == nil {
		return created, expires, fail(CodeMalformed, "Timestamp needs Created and Expires")
	}
	if created, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(c.Text())); err != nil {
		return created, expires, fail(CodeMalformed, "Timestamp Created is not an xsd:dateTime")
	}
	if expires, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(e.Text())); err != nil {
		return created, expires, fail(CodeMalformed, "Timestamp Expires is not an xsd:dateTime")
	}
	switch {
	case !expires.After(created):
		return created, expires, fail(CodeMalformed, "Timestamp expires before it was created")
	case expires.Sub(created) > v.cfg.MaxLifetime:
		return created, expires, fail(CodeExpired, "Timestamp validity %s exceeds the %s allowed", expires.Sub(created), v.cfg.MaxLifetime)
	case created.After(now.Add(v.cfg.Skew)):
		return created, expires, fail(CodeExpired, "Timestamp is %s in the future (clock skew allowed: %s)", created.Sub(now).Round(time.Second), v.cfg.Skew)
	case now.After(expires.Add(v.cfg.Skew)):
		return created, expires, fail(CodeExpired, "Timestamp expired %s ago", now.Sub(expires).Round(time.Second))
	}
	return created, expires, nil
}

// resolveCertificate finds the signing certificate the KeyInfo names.
func (v *Verifier) resolveCertificate(m *message, candidates []*x509.Certificate) (*x509.Certificate, error) {
	if m.keyDER != nil {
		cert, err := v.certs.parse(m.keyDER)
		if err != nil {
			return nil, failWrap(CodeBadSignature, err, "the signing certificate cannot be parsed")
		}
		return cert, nil
	}
	for _, c := range candidates {
		if matches(c, m.keyRef) {
			return c, nil
		}
	}
	if v.cfg.Certificates != nil {
		if c := v.cfg.Certificates.LookupCertificate(m.keyRef); c != nil {
			return c, nil
		}
	}
	return nil, fail(CodeBadSignature, "unknown signing certificate (%s)", m.keyRef)
}

// pinned reports whether cert may sign: any trusted one when nothing is
// pinned, otherwise only a pinned one.
func (v *Verifier) pinned(cert *x509.Certificate) bool {
	if len(v.cfg.Pinned) == 0 {
		return true
	}
	for _, p := range v.cfg.Pinned {
		if p.Equal(cert) {
			return true
		}
	}
	return false
}

// checkTrust verifies the key strength and the chain to the trust anchors,
// caching successful chain checks per certificate.
func (v *Verifier) checkTrust(cert *x509.Certificate, now time.Time) error {
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < MinRSABits {
			return fail(CodeBadSignature, "RSA key of %d bits is too weak (at least %d required)", pub.N.BitLen(), MinRSABits)
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() {
			return fail(CodeBadSignature, "ECDSA curve %s is not accepted", pub.Curve.Params().Name)
		}
	default:
		return fail(CodeBadSignature, "signing key type %T is not accepted", pub)
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return fail(CodeBadSignature, "the signing certificate is not valid at this time")
	}
	if v.certs.trusted(cert) {
		return nil
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:         v.cfg.Roots,
		Intermediates: v.cfg.Intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{v.cfg.KeyUsage},
	})
	if err != nil {
		return failWrap(CodeBadSignature, err, "the signing certificate is not issued by a trusted authority")
	}
	v.certs.markTrusted(cert)
	return nil
}

func checkSignatureValue(pub crypto.PublicKey, alg string, signedInfo, value []byte) error {
	h := algHash(alg)
	d := h.New()
	d.Write(signedInfo)
	digest := d.Sum(nil)
	switch key := pub.(type) {
	case *rsa.PublicKey:
		if !strings.Contains(alg, "#rsa-") {
			return fail(CodeBadSignature, "signature method %s does not fit an RSA key", alg)
		}
		if rsa.VerifyPKCS1v15(key, h, digest, value) != nil {
			return fail(CodeBadSignature, "signature value does not verify")
		}
	case *ecdsa.PublicKey:
		if !strings.Contains(alg, "#ecdsa-") {
			return fail(CodeBadSignature, "signature method %s does not fit an ECDSA key", alg)
		}
		size := (key.Curve.Params().BitSize + 7) / 8
		if len(value) != 2*size {
			return fail(CodeBadSignature, "ECDSA signature value must be r||s of %d bytes", 2*size)
		}
		r := new(big.Int).SetBytes(value[:size])
		s := new(big.Int).SetBytes(value[size:])
		if !ecdsa.Verify(key, digest, r, s) {
			return fail(CodeBadSignature, "signature value does not verify")
		}
	default:
		return fail(CodeBadSignature, "signing key type %T is not accepted", pub)
	}
	return nil
}

// certCache keeps parsed certificates (from BinarySecurityTokens) and
// remembers which ones already chained to the trust anchors, so the
// per-message cost is a map lookup rather than an X.509 parse and a CA
// signature check. Only successes are cached; validity times are checked
// on every use. The cache is bounded and simply cleared when full.
type certCache struct {
	mu sync.RWMutex
	m  map[[32]byte]*certEntry
}

type certEntry struct {
	cert    *x509.Certificate
	trusted bool
}

const certCacheSize = 1 << 16

func (c *certCache) parse(der []byte) (*x509.Certificate, error) {
	key := sha256.Sum256(der)
	c.mu.RLock()
	e := c.m[key]
	c.mu.RUnlock()
	if e != nil {
		return e.cert, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	c.put(key, &certEntry{cert: cert})
	return cert, nil
}

func (c *certCache) trusted(cert *x509.Certificate) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.m[sha256.Sum256(cert.Raw)]
	return e != nil && e.trusted
}

func (c *certCache) markTrusted(cert *x509.Certificate) {
	c.put(sha256.Sum256(cert.Raw), &certEntry{cert: cert, trusted: true})
}

func (c *certCache) put(key [32]byte, e *certEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= certCacheSize {
		clear(c.m)
	}
	c.m[key] = e
}

func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
}
