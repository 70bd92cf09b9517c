package main

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/rmsproject/rms/wssec/pki"
)

// member is one simulated device's identity.
type member struct {
	id   string
	cert *x509.Certificate
	key  crypto.Signer
}

func (m member) tlsCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{m.cert.Raw}, PrivateKey: m.key, Leaf: m.cert}
}

// issueFleet issues n device certificates (CN prefix-00001 …) from the CA
// in pkiDir, in memory and in parallel: a 10,000-device fleet takes a
// second, not a minute.
func issueFleet(pkiDir, prefix string, n int, kt pki.KeyType) ([]member, error) {
	ca, err := pki.LoadAuthority(pkiDir)
	if err != nil {
		return nil, fmt.Errorf("dev PKI %s: %w", pkiDir, err)
	}
	out := make([]member, n)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				id := fmt.Sprintf("%s-%05d", prefix, i+1)
				key, err := pki.GenerateKey(kt)
				if err == nil {
					var cert *x509.Certificate
					cert, err = pki.Issue(pki.Template{CommonName: id, Usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, key, ca)
					out[i] = member{id: id, cert: cert, key: key}
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return out, nil
}

// trust returns the pool for the server's TLS certificate and the server
// certificate (to verify signed answers).
func trust(pkiDir string) (*x509.CertPool, []*x509.Certificate, error) {
	pool, _, err := pki.LoadPool(filepath.Join(pkiDir, pki.CACert))
	if err != nil {
		return nil, nil, err
	}
	server, err := pki.LoadCertificates(filepath.Join(pkiDir, pki.ServerCert))
	if err != nil {
		return nil, nil, err
	}
	return pool, server, nil
}
