package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rmsproject/rms/wssec/pki"
)

// deviceKeyTypes are the key types rmsctl offers; pki knows one more
// (an insecure RSA-1024) that exists only for negative tests.
var deviceKeyTypes = []pki.KeyType{pki.ECDSAP256, pki.RSA2048, pki.ECDSAP384, pki.RSA3072}

func pkiCommand() *command {
	return &command{
		name:    "pki",
		summary: "Create and extend a device PKI (CA, server certificate, device certificates)",
		subs:    []*command{pkiInitCommand(), pkiIssueDeviceCommand()},
	}
}

func pkiInitCommand() *command {
	return &command{
		name:     "init",
		summary:  "Create a device CA and a server certificate in a new PKI directory",
		synopsis: "--dir DIR [--hosts h1,h2,...]",
		flags: func(fs *flag.FlagSet) func(*env, []string) int {
			dir := fs.String("dir", "", "PKI `directory` to create (required)")
			hosts := fs.String("hosts", strings.Join(pki.DefaultHosts, ","), "comma-separated DNS names and IP addresses for the server certificate")
			return func(e *env, args []string) int {
				if len(args) > 0 {
					fmt.Fprintf(e.stderr, "rmsctl pki init: unexpected argument %q\n", args[0])
					return exitUsage
				}
				if *dir == "" {
					fmt.Fprintln(e.stderr, "rmsctl pki init: --dir is required")
					return exitUsage
				}
				names, err := splitHosts(*hosts)
				if err != nil {
					fmt.Fprintf(e.stderr, "rmsctl pki init: %v\n", err)
					return exitUsage
				}
				// pki.Init guards the CA key; check the certificate too so a
				// half-present CA is never silently replaced either.
				for _, f := range []string{pki.CACert, pki.CAKey} {
					p := filepath.Join(*dir, f)
					if _, err := os.Stat(p); err == nil || !errors.Is(err, os.ErrNotExist) {
						fmt.Fprintf(e.stderr, "rmsctl pki init: %s already exists; refusing to overwrite an existing CA (choose another --dir)\n", p)
						return exitFailure
					}
				}
				if err := pki.Init(*dir, names); err != nil {
					fmt.Fprintf(e.stderr, "rmsctl pki init: %v\n", err)
					return exitFailure
				}
				for _, f := range []string{pki.CACert, pki.CAKey, pki.ServerCert, pki.ServerKey} {
					fmt.Fprintln(e.stdout, filepath.Join(*dir, f))
				}
				return exitOK
			}
		},
	}
}

func pkiIssueDeviceCommand() *command {
	types := make([]string, len(deviceKeyTypes))
	for i, t := range deviceKeyTypes {
		types[i] = string(t)
	}
	return &command{
		name:     "issue-device",
		summary:  "Issue a device certificate (CN = device id) from the CA in a PKI directory",
		synopsis: "--dir DIR --id ID [--key-type " + strings.Join(types, "|") + "] [--force]",
		flags: func(fs *flag.FlagSet) func(*env, []string) int {
			dir := fs.String("dir", "", "PKI `directory` made by 'rmsctl pki init' (required)")
			id := fs.String("id", "", "device `id`: 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit (required)")
			keyType := fs.String("key-type", string(pki.ECDSAP256), "key `type`: "+strings.Join(types, ", "))
			force := fs.Bool("force", false, "replace an existing certificate for this id")
			return func(e *env, args []string) int {
				if len(args) > 0 {
					fmt.Fprintf(e.stderr, "rmsctl pki issue-device: unexpected argument %q\n", args[0])
					return exitUsage
				}
				if *dir == "" || *id == "" {
					fmt.Fprintln(e.stderr, "rmsctl pki issue-device: --dir and --id are required")
					return exitUsage
				}
				kt, ok := parseKeyType(*keyType)
				if !ok {
					fmt.Fprintf(e.stderr, "rmsctl pki issue-device: unknown --key-type %q (want %s)\n", *keyType, strings.Join(types, ", "))
					return exitUsage
				}
				if !pki.ValidDeviceID(*id) {
					fmt.Fprintf(e.stderr, "rmsctl pki issue-device: invalid device id %q: use 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit\n", *id)
					return exitFailure
				}
				certPath := filepath.Join(*dir, pki.DevicesDir, *id+".crt")
				if _, err := os.Stat(certPath); err == nil && !*force {
					fmt.Fprintf(e.stderr, "rmsctl pki issue-device: %s already exists; pass --force to replace it\n", certPath)
					return exitFailure
				}
				certPath, keyPath, err := pki.IssueDevice(*dir, *id, kt)
				if err != nil {
					fmt.Fprintf(e.stderr, "rmsctl pki issue-device: %v\n", err)
					return exitFailure
				}
				fmt.Fprintln(e.stdout, certPath)
				fmt.Fprintln(e.stdout, keyPath)
				return exitOK
			}
		},
	}
}

func parseKeyType(s string) (pki.KeyType, bool) {
	for _, t := range deviceKeyTypes {
		if string(t) == s {
			return t, true
		}
	}
	return "", false
}

func splitHosts(s string) ([]string, error) {
	var hosts []string
	for _, h := range strings.Split(s, ",") {
		h = strings.TrimSpace(h)
		if h != "" {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return nil, errors.New("--hosts names no host")
	}
	return hosts, nil
}
