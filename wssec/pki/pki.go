package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // RFC 5280 method 1 subject key identifier, not a signature.
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"time"
)

// KeyType names a key algorithm and size.
type KeyType string

// Supported key types. RSA1024 exists only so tests can prove such keys are
// refused.
const (
	ECDSAP256 KeyType = "ecdsa"
	ECDSAP384 KeyType = "ecdsa-p384"
	RSA2048   KeyType = "rsa"
	RSA3072   KeyType = "rsa-3072"
	RSA1024   KeyType = "rsa-1024-insecure"
)

// Lifetimes of what Init and IssueDevice create.
const (
	CALifetime     = 20 * 365 * 24 * time.Hour
	LeafLifetime   = 5 * 365 * 24 * time.Hour
	backdateLeeway = time.Hour // tolerate clocks slightly behind ours
)

// GenerateKey makes a private key of type t.
func GenerateKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case ECDSAP256, "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case RSA1024:
		return rsa.GenerateKey(rand.Reader, 1024)
	}
	return nil, fmt.Errorf("pki: unknown key type %q (want ecdsa, ecdsa-p384, rsa or rsa-3072)", t)
}

// Authority is a CA that can issue certificates.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Template describes a certificate to issue.
type Template struct {
	CommonName string
	Hosts      []string // DNS names and IP addresses (server certificates)
	IsCA       bool
	Usage      []x509.ExtKeyUsage
	NotBefore  time.Time // default: now minus an hour
	NotAfter   time.Time // default: NotBefore plus LeafLifetime (CALifetime for a CA)
}

// Issue signs a certificate for key's public half. A nil issuer makes it
// self-signed.
func Issue(t Template, key crypto.Signer, issuer *Authority) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki.Issue: %w", err)
	}
	if t.NotBefore.IsZero() {
		t.NotBefore = time.Now().Add(-backdateLeeway).UTC().Truncate(time.Second)
	}
	if t.NotAfter.IsZero() {
		life := LeafLifetime
		if t.IsCA {
			life = CALifetime
		}
		t.NotAfter = t.NotBefore.Add(life)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("pki.Issue: %w", err)
	}
	ski := sha1.Sum(pubDER) //nolint:gosec // see import
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: t.CommonName, Organization: []string{"RMS"}},
		NotBefore:             t.NotBefore,
		NotAfter:              t.NotAfter,
		SubjectKeyId:          ski[:],
		BasicConstraintsValid: true,
		IsCA:                  t.IsCA,
		ExtKeyUsage:           t.Usage,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if t.IsCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
		tmpl.MaxPathLenZero = true
	}
	if _, isRSA := key.(*rsa.PrivateKey); isRSA && !t.IsCA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	for _, h := range t.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer.Cert, issuer.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("pki.Issue: %w", err)
	}
	return x509.ParseCertificate(der)
}

// File names inside a PKI directory.
const (
	CACert     = "ca.crt"
	CAKey      = "ca.key"
	ServerCert = "server.crt"
	ServerKey  = "server.key"
	DevicesDir = "devices"
)

// DefaultHosts are the server certificate's names when none are given.
var DefaultHosts = []string{"localhost", "127.0.0.1"}

// Init creates dir with a device CA and a server certificate issued by it
// for hosts. It refuses to overwrite an existing CA.
func Init(dir string, hosts []string) error {
	if len(hosts) == 0 {
		hosts = DefaultHosts
	}
	if _, err := os.Stat(filepath.Join(dir, CAKey)); err == nil {
		return fmt.Errorf("pki.Init: %s already exists; refusing to replace a CA", filepath.Join(dir, CAKey))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pki.Init: %w", err)
	}
	caKey, err := GenerateKey(ECDSAP256)
	if err != nil {
		return err
	}
	caCert, err := Issue(Template{CommonName: "RMS Device CA", IsCA: true}, caKey, nil)
	if err != nil {
		return err
	}
	srvKey, err := GenerateKey(ECDSAP256)
	if err != nil {
		return err
	}
	ca := &Authority{Cert: caCert, Key: caKey}
	srvCert, err := Issue(Template{
		CommonName: hosts[0],
		Hosts:      hosts,
		Usage:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, srvKey, ca)
	if err != nil {
		return err
	}
	if err := WriteKeyPair(filepath.Join(dir, CACert), filepath.Join(dir, CAKey), caCert, caKey); err != nil {
		return err
	}
	return WriteKeyPair(filepath.Join(dir, ServerCert), filepath.Join(dir, ServerKey), srvCert, srvKey)
}

var deviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidDeviceID reports whether id is an acceptable device id: 1 to 64
// letters, digits, '.', '_' or '-', starting with a letter or digit.
func ValidDeviceID(id string) bool { return deviceIDPattern.MatchString(id) }

// IssueDevice issues a client certificate with CN = id from the CA in dir
// and writes dir/devices/ID.crt and dir/devices/ID.key, returning their paths.
func IssueDevice(dir, id string, kt KeyType) (certPath, keyPath string, err error) {
	if !ValidDeviceID(id) {
		return "", "", fmt.Errorf("pki.IssueDevice: invalid device id %q (1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)", id)
	}
	ca, err := LoadAuthority(dir)
	if err != nil {
		return "", "", err
	}
	key, err := GenerateKey(kt)
	if err != nil {
		return "", "", err
	}
	cert, err := Issue(Template{CommonName: id, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, key, ca)
	if err != nil {
		return "", "", err
	}
	certPath = filepath.Join(dir, DevicesDir, id+".crt")
	keyPath = filepath.Join(dir, DevicesDir, id+".key")
	if err := os.MkdirAll(filepath.Dir(certPath), 0o755); err != nil {
		return "", "", fmt.Errorf("pki.IssueDevice: %w", err)
	}
	return certPath, keyPath, WriteKeyPair(certPath, keyPath, cert, key)
}

// LoadAuthority reads the CA certificate and key of a PKI directory.
func LoadAuthority(dir string) (*Authority, error) {
	cert, key, err := LoadKeyPair(filepath.Join(dir, CACert), filepath.Join(dir, CAKey))
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("pki.LoadAuthority: %s is not a CA certificate", filepath.Join(dir, CACert))
	}
	return &Authority{Cert: cert, Key: key}, nil
}

// WriteKeyPair writes cert and key as PEM files (the key with mode 0600).
func WriteKeyPair(certPath, keyPath string, cert *x509.Certificate, key crypto.Signer) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("pki.WriteKeyPair: %w", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("pki.WriteKeyPair: %w", err)
	}
	if err := os.WriteFile(certPath, EncodeCertificate(cert), 0o644); err != nil {
		return fmt.Errorf("pki.WriteKeyPair: %w", err)
	}
	return nil
}

// EncodeCertificate returns cert as PEM.
func EncodeCertificate(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// LoadKeyPair reads a PEM certificate and its PEM private key (PKCS #8,
// PKCS #1 or SEC 1) and checks that they belong together.
func LoadKeyPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	certs, err := LoadCertificates(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("pki.LoadKeyPair: %w", err)
	}
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("pki.LoadKeyPair: %s: %w", keyPath, err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := key.Public().(equaler); !ok || !e.Equal(certs[0].PublicKey) {
		return nil, nil, fmt.Errorf("pki.LoadKeyPair: %s does not match %s", keyPath, certPath)
	}
	return certs[0], key, nil
}

// ParsePrivateKey decodes the first PEM private key in data.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		return signer, nil
	}
}

// LoadCertificates reads every PEM certificate in path (at least one).
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki.LoadCertificates: %w", err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("pki.LoadCertificates: %s: %w", path, err)
	}
	return certs, nil
}

// ParseCertificates decodes every PEM certificate in data (at least one).
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}

// LoadPool reads the PEM certificates in path into a pool.
func LoadPool(path string) (*x509.CertPool, []*x509.Certificate, error) {
	certs, err := LoadCertificates(path)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, certs, nil
}

// Issued is a device identity issued in memory.
type Issued struct {
	ID   string
	Cert *x509.Certificate
	Key  crypto.Signer
}

// IssueDevices issues n device certificates (CN prefix-00001 …) from ca, in
// memory and in parallel, for simulators and load generators: a
// 10,000-device fleet takes a second, not a minute.
func IssueDevices(ca *Authority, prefix string, n int, kt KeyType) ([]Issued, error) {
	out := make([]Issued, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				id := fmt.Sprintf("%s-%05d", prefix, i+1)
				key, err := GenerateKey(kt)
				if err != nil {
					errs[i] = err
					continue
				}
				cert, err := Issue(Template{CommonName: id, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, key, ca)
				out[i], errs[i] = Issued{ID: id, Cert: cert, Key: key}, err
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pki.IssueDevices: %w", err)
	}
	return out, nil
}
