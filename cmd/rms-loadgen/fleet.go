package main

import (
	"crypto/x509"
	"fmt"
	"path/filepath"

	"github.com/rmsproject/rms/wssec/pki"
)

// issueFleet issues n device certificates (CN prefix-00001 …) from the CA
// in pkiDir.
func issueFleet(pkiDir, prefix string, n int, kt pki.KeyType) ([]pki.Issued, error) {
	ca, err := pki.LoadAuthority(pkiDir)
	if err != nil {
		return nil, fmt.Errorf("dev PKI %s: %w", pkiDir, err)
	}
	return pki.IssueDevices(ca, prefix, n, kt)
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
