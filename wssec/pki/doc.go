// Package pki makes and loads the X.509 material WS-Security runs on: a
// device CA, the server's TLS and signing certificate, and per-device
// certificates (CN = device id). It backs `rmsctl pki`, the dev PKI that
// `make run` creates, and the test fixtures. Files are PEM; private keys are
// PKCS #8 and written with mode 0600.
package pki
