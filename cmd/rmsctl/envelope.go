package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rmsproject/rms/wssec"
	"github.com/rmsproject/rms/wssec/pki"
)

// keyRefs maps --key-ref values to wssec reference styles.
var keyRefs = []struct {
	name string
	ref  wssec.KeyReference
}{
	{"thumbprint", wssec.RefThumbprint},
	{"ski", wssec.RefSKI},
	{"bst", wssec.RefBinarySecurityToken},
	{"issuer-serial", wssec.RefIssuerSerial},
}

// maxSignInput bounds what sign reads: anything bigger could never pass
// a verifier with default limits anyway, and a stray pipe must not eat RAM.
const maxSignInput = 16 << 20

func envelopeCommand() *command {
	return &command{
		name:    "envelope",
		summary: "Sign and verify WS-Security SOAP envelopes",
		subs:    []*command{envelopeSignCommand(), envelopeVerifyCommand()},
	}
}

func keyRefNames() string {
	names := make([]string, len(keyRefs))
	for i, k := range keyRefs {
		names[i] = k.name
	}
	return strings.Join(names, "|")
}

func envelopeSignCommand() *command {
	return &command{
		name:     "sign",
		summary:  "Sign the SOAP 1.1 envelope on stdin and write the signed envelope to stdout",
		synopsis: "--cert FILE --key FILE [--key-ref " + keyRefNames() + "] [--ttl 5m] < in.xml > out.xml",
		flags: func(fs *flag.FlagSet) func(*env, []string) int {
			certPath := fs.String("cert", "", "signing certificate, PEM `file` (required)")
			keyPath := fs.String("key", "", "private key of --cert, PEM `file` (required)")
			keyRef := fs.String("key-ref", "thumbprint", "how the message names its certificate: "+keyRefNames())
			ttl := fs.Duration("ttl", wssec.DefaultTTL, "validity of the Timestamp (Expires - Created)")
			return func(e *env, args []string) int {
				const me = "rmsctl envelope sign"
				if len(args) > 0 {
					fmt.Fprintf(e.stderr, "%s: unexpected argument %q (the envelope is read from stdin)\n", me, args[0])
					return exitUsage
				}
				if *certPath == "" || *keyPath == "" {
					fmt.Fprintf(e.stderr, "%s: --cert and --key are required\n", me)
					return exitUsage
				}
				ref, ok := parseKeyRef(*keyRef)
				if !ok {
					fmt.Fprintf(e.stderr, "%s: unknown --key-ref %q (want %s)\n", me, *keyRef, keyRefNames())
					return exitUsage
				}
				if *ttl <= 0 {
					fmt.Fprintf(e.stderr, "%s: --ttl must be positive\n", me)
					return exitUsage
				}
				cert, key, err := pki.LoadKeyPair(*certPath, *keyPath)
				if err != nil {
					fmt.Fprintf(e.stderr, "%s: %v\n", me, err)
					return exitFailure
				}
				signer, err := wssec.NewSigner(wssec.SignerConfig{Certificate: cert, Key: key, Reference: ref, TTL: *ttl})
				if err != nil {
					fmt.Fprintf(e.stderr, "%s: %v\n", me, err)
					return exitFailure
				}
				in, err := readLimited(e.stdin, maxSignInput)
				if err != nil {
					fmt.Fprintf(e.stderr, "%s: reading stdin: %v\n", me, err)
					return exitFailure
				}
				out, err := signer.Sign(in)
				if err != nil {
					fmt.Fprintf(e.stderr, "%s: %v\n", me, err)
					return exitFailure
				}
				if _, err := e.stdout.Write(out); err != nil {
					fmt.Fprintf(e.stderr, "%s: writing stdout: %v\n", me, err)
					return exitFailure
				}
				return exitOK
			}
		},
	}
}

func envelopeVerifyCommand() *command {
	return &command{
		name:     "verify",
		summary:  "Verify a signed envelope on stdin with the server's checks (no replay store or device registry)",
		synopsis: "--ca FILE [--cert FILE ...] [--now RFC3339] [--skew 5m] [--max-bytes N] [--key-usage client|server] < env.xml",
		details: "On success prints 'OK signer=<identity> operation={ns}Local' and exits 0;\n" +
			"otherwise prints 'FAULT <CODE>: <reason>' on stderr and exits 1.\n" +
			"Thumbprint, SKI and issuer-serial references name a certificate the message\n" +
			"does not carry: pass it with --cert.",
		flags: func(fs *flag.FlagSet) func(*env, []string) int {
			caPath := fs.String("ca", "", "trust anchors (the device CA), PEM `file` (required)")
			var certs listFlag
			fs.Var(&certs, "cert", "certificate(s) that thumbprint, SKI or issuer-serial references may name, PEM `file` (repeatable)")
			now := fs.String("now", "", "verify as of this `time` (RFC 3339) instead of the clock, e.g. for recorded fixtures")
			skew := fs.Duration("skew", wssec.DefaultSkew, "clock difference tolerated on the Timestamp")
			maxBytes := fs.Int("max-bytes", wssec.DefaultMaxBytes, "largest envelope accepted, in bytes")
			usage := fs.String("key-usage", "client", "extended key usage the signer must have: client (device messages) or server (server responses)")
			return func(e *env, args []string) int {
				const me = "rmsctl envelope verify"
				if len(args) > 0 {
					fmt.Fprintf(e.stderr, "%s: unexpected argument %q (the envelope is read from stdin)\n", me, args[0])
					return exitUsage
				}
				if *caPath == "" {
					fmt.Fprintf(e.stderr, "%s: --ca is required\n", me)
					return exitUsage
				}
				if *skew < 0 || *maxBytes <= 0 {
					fmt.Fprintf(e.stderr, "%s: --skew must not be negative and --max-bytes must be positive\n", me)
					return exitUsage
				}
				cfg := wssec.VerifierConfig{Skew: *skew, Limits: wssec.Limits{MaxBytes: *maxBytes}}
				switch *usage {
				case "client":
					cfg.KeyUsage = x509.ExtKeyUsageClientAuth
				case "server":
					cfg.KeyUsage = x509.ExtKeyUsageServerAuth
				default:
					fmt.Fprintf(e.stderr, "%s: unknown --key-usage %q (want client or server)\n", me, *usage)
					return exitUsage
				}
				if *now != "" {
					t, err := time.Parse(time.RFC3339, *now)
					if err != nil {
						fmt.Fprintf(e.stderr, "%s: --now: %v\n", me, err)
						return exitUsage
					}
					cfg.Now = func() time.Time { return t }
				}
				roots, _, err := pki.LoadPool(*caPath)
				if err != nil {
					fmt.Fprintf(e.stderr, "%s: %v\n", me, err)
					return exitFailure
				}
				cfg.Roots = roots
				set := wssec.NewCertSet()
				for _, p := range certs {
					cs, err := pki.LoadCertificates(p)
					if err != nil {
						fmt.Fprintf(e.stderr, "%s: %v\n", me, err)
						return exitFailure
					}
					set.Add(cs...)
				}
				cfg.Certificates = set
				v, err := wssec.NewVerifier(cfg)
				if err != nil {
					fmt.Fprintf(e.stderr, "%s: %v\n", me, err)
					return exitFailure
				}
				// One byte past the limit is enough for the verifier to
				// refuse the envelope as TOO_LARGE.
				raw, err := readLimited(e.stdin, int64(*maxBytes)+1)
				if err != nil && !errors.Is(err, errInputTooLarge) {
					fmt.Fprintf(e.stderr, "%s: reading stdin: %v\n", me, err)
					return exitFailure
				}
				res, err := v.Verify(context.Background(), raw)
				if err != nil {
					fmt.Fprintf(e.stderr, "FAULT %s: %s\n", wssec.CodeOf(err), faultReason(err))
					return exitFailure
				}
				fmt.Fprintf(e.stdout, "OK signer=%s operation={%s}%s\n", printable(res.Identity), printable(res.Payload.Space), printable(res.Payload.Local))
				return exitOK
			}
		},
	}
}

// faultReason is the peer-facing reason of a verification failure: the
// wssec.Error's Reason, without the internal cause that Error() appends.
func faultReason(err error) string {
	var we *wssec.Error
	if errors.As(err, &we) {
		return we.Reason
	}
	return err.Error()
}

// printable keeps one result on one line: a certificate's CN comes from
// whoever made the certificate, so anything odd in it is quoted.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func parseKeyRef(s string) (wssec.KeyReference, bool) {
	for _, k := range keyRefs {
		if k.name == s {
			return k.ref, true
		}
	}
	return 0, false
}

var errInputTooLarge = errors.New("input too large")

// readLimited reads r up to limit bytes; if r holds more, it returns what it
// read together with errInputTooLarge.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) == limit {
		// Probe for more without buffering it.
		var one [1]byte
		if n, _ := r.Read(one[:]); n > 0 {
			return b, errInputTooLarge
		}
	}
	return b, nil
}
