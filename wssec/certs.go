package wssec

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // WSS 1.1 names certificates by SHA-1 thumbprint; it is an identifier here, never a signature digest.
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"sync"
)

// KeyRef is how a message names its signing certificate when it does not
// carry it: one of the fields is set.
type KeyRef struct {
	ThumbprintSHA1 []byte   // wsse:KeyIdentifier ValueType=...#ThumbprintSHA1
	SKI            []byte   // wsse:KeyIdentifier ValueType=...#X509SubjectKeyIdentifier
	Issuer         string   // ds:X509IssuerSerial/X509IssuerName (RFC 2253 form)
	Serial         *big.Int // ds:X509IssuerSerial/X509SerialNumber
}

// CertificateSource finds a certificate a message refers to by key
// identifier or issuer and serial. A certificate it returns is still
// checked against the trust anchors: a source is a directory, not a
// statement of trust.
type CertificateSource interface {
	LookupCertificate(ref KeyRef) *x509.Certificate
}

// CertSet is an in-memory CertificateSource, safe for concurrent use.
type CertSet struct {
	mu    sync.RWMutex
	certs []*x509.Certificate
}

// NewCertSet returns a set holding certs.
func NewCertSet(certs ...*x509.Certificate) *CertSet {
	s := &CertSet{}
	s.Add(certs...)
	return s
}

// Add puts certs into the set.
func (s *CertSet) Add(certs ...*x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs = append(s.certs, certs...)
}

// LookupCertificate implements CertificateSource.
func (s *CertSet) LookupCertificate(ref KeyRef) *x509.Certificate {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.certs {
		if matches(c, ref) {
			return c
		}
	}
	return nil
}

func matches(c *x509.Certificate, ref KeyRef) bool {
	switch {
	case ref.ThumbprintSHA1 != nil:
		t := Thumbprint(c)
		return bytes.Equal(t[:], ref.ThumbprintSHA1)
	case ref.SKI != nil:
		return len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, ref.SKI)
	case ref.Serial != nil:
		return c.SerialNumber.Cmp(ref.Serial) == 0 && sameDN(c.Issuer.String(), ref.Issuer)
	}
	return false
}

// sameDN compares distinguished names in RFC 2253 string form, tolerating
// the spacing differences between stacks ("CN=a, O=b" against "CN=a,O=b").
func sameDN(a, b string) bool {
	return normalizeDN(a) == normalizeDN(b)
}

func normalizeDN(s string) string {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && (i > 0 && (s[i-1] == ',' || s[i-1] == '=') || i+1 < len(s) && (s[i+1] == ',' || s[i+1] == '=')) {
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

// Thumbprint is the SHA-1 digest of the certificate's DER encoding, the
// WSS 1.1 ThumbprintSHA1 key identifier.
func Thumbprint(c *x509.Certificate) [sha1.Size]byte {
	return sha1.Sum(c.Raw) //nolint:gosec // identifier, see import
}

// ThumbprintHex is Thumbprint as lowercase hex, handy in logs and configs.
func ThumbprintHex(c *x509.Certificate) string {
	t := Thumbprint(c)
	return hex.EncodeToString(t[:])
}

func (r KeyRef) String() string {
	switch {
	case r.ThumbprintSHA1 != nil:
		return "thumbprint " + hex.EncodeToString(r.ThumbprintSHA1)
	case r.SKI != nil:
		return "subject key id " + hex.EncodeToString(r.SKI)
	case r.Serial != nil:
		return "issuer " + r.Issuer + " serial " + r.Serial.String()
	}
	return "no key reference"
}
