package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
)

const heartbeat = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
	`<soap:Body><Heartbeat xmlns="urn:rms:device:v1">` +
	`<messageId>6b0f4a52-3c1e-4d8f-9a27-e5b1c8d0f314</messageId>` +
	`<sentAt>2026-11-23T10:15:00Z</sentAt><state>ok</state>` +
	`</Heartbeat></soap:Body></soap:Envelope>`

const heartbeatOK = "OK signer=%s operation={urn:rms:device:v1}Heartbeat"

// rsaCase covers RSA key generation, which is slow on small machines.
const processTimeout = 60 * time.Second

// run starts rmsctl with args and stdin and waits for it to exit.
func run(stdin string, args ...string) *gexec.Session {
	GinkgoHelper()
	return runEnv(nil, stdin, args...)
}

// runEnv is run with extra environment variables. The RMS_* variables of
// whoever runs the tests are left out, so they cannot change the outcome.
func runEnv(environ []string, stdin string, args ...string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.Command(rmsctl, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RMS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, environ...)
	cmd.Stdin = strings.NewReader(stdin)
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	Eventually(s, processTimeout).Should(gexec.Exit())
	return s
}

// succeed runs rmsctl and expects exit 0, returning stdout.
func succeed(stdin string, args ...string) string {
	GinkgoHelper()
	s := run(stdin, args...)
	Expect(s.ExitCode()).To(Equal(0), "rmsctl %v failed:\n%s", args, s.Err.Contents())
	return string(s.Out.Contents())
}

func readCert(path string) *x509.Certificate {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	block, _ := pem.Decode(data)
	Expect(block).NotTo(BeNil(), "no PEM in %s", path)
	Expect(block.Type).To(Equal("CERTIFICATE"))
	cert, err := x509.ParseCertificate(block.Bytes)
	Expect(err).NotTo(HaveOccurred())
	return cert
}

func readKey(path string) any {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	block, _ := pem.Decode(data)
	Expect(block).NotTo(BeNil(), "no PEM in %s", path)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	Expect(err).NotTo(HaveOccurred())
	return key
}

var _ = Describe("rmsctl", func() {
	var dir string

	BeforeEach(func() {
		dir = GinkgoT().TempDir()
	})

	Describe("pki init", func() {
		It("creates the CA and a server certificate for the default hosts, keys private", func() {
			pkiDir := filepath.Join(dir, "pki")
			out := succeed("", "pki", "init", "--dir", pkiDir)
			for _, f := range []string{"ca.crt", "ca.key", "server.crt", "server.key"} {
				Expect(out).To(ContainSubstring(filepath.Join(pkiDir, f)))
				Expect(filepath.Join(pkiDir, f)).To(BeARegularFile())
			}
			for _, f := range []string{"ca.key", "server.key"} {
				info, err := os.Stat(filepath.Join(pkiDir, f))
				Expect(err).NotTo(HaveOccurred())
				Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)), f)
			}

			ca := readCert(filepath.Join(pkiDir, "ca.crt"))
			Expect(ca.IsCA).To(BeTrue())
			srv := readCert(filepath.Join(pkiDir, "server.crt"))
			Expect(srv.DNSNames).To(ConsistOf("localhost"))
			Expect(srv.IPAddresses).To(HaveLen(1))
			Expect(srv.IPAddresses[0].Equal(net.ParseIP("127.0.0.1"))).To(BeTrue())
			Expect(srv.ExtKeyUsage).To(ContainElement(x509.ExtKeyUsageServerAuth))
			Expect(srv.CheckSignatureFrom(ca)).To(Succeed())
		})

		It("puts the names given with --hosts into the server certificate", func() {
			pkiDir := filepath.Join(dir, "pki")
			succeed("", "pki", "init", "--dir", pkiDir, "--hosts", "rms.example.org, 10.0.0.7,::1")
			srv := readCert(filepath.Join(pkiDir, "server.crt"))
			Expect(srv.DNSNames).To(ConsistOf("rms.example.org"))
			var ips []string
			for _, ip := range srv.IPAddresses {
				ips = append(ips, ip.String())
			}
			Expect(ips).To(ConsistOf("10.0.0.7", "::1"))
			Expect(srv.VerifyHostname("rms.example.org")).To(Succeed())
		})

		It("refuses to overwrite an existing CA and leaves it untouched", func() {
			pkiDir := filepath.Join(dir, "pki")
			succeed("", "pki", "init", "--dir", pkiDir)
			before, err := os.ReadFile(filepath.Join(pkiDir, "ca.key"))
			Expect(err).NotTo(HaveOccurred())

			s := run("", "pki", "init", "--dir", pkiDir)
			Expect(s.ExitCode()).To(Equal(1))
			Expect(s.Err).To(gbytes.Say("already exists; refusing to overwrite an existing CA"))

			after, err := os.ReadFile(filepath.Join(pkiDir, "ca.key"))
			Expect(err).NotTo(HaveOccurred())
			Expect(after).To(Equal(before))
		})
	})

	Describe("pki issue-device", func() {
		var pkiDir string

		BeforeEach(func() {
			pkiDir = filepath.Join(dir, "pki")
			succeed("", "pki", "init", "--dir", pkiDir)
		})

		DescribeTable("issues a client certificate with CN = id, signed by the CA",
			func(args []string, check func(key any)) {
				out := succeed("", append([]string{"pki", "issue-device", "--dir", pkiDir, "--id", "dev-0042"}, args...)...)
				certPath := filepath.Join(pkiDir, "devices", "dev-0042.crt")
				keyPath := filepath.Join(pkiDir, "devices", "dev-0042.key")
				Expect(out).To(ContainSubstring(certPath))
				Expect(out).To(ContainSubstring(keyPath))

				cert := readCert(certPath)
				Expect(cert.Subject.CommonName).To(Equal("dev-0042"))
				Expect(cert.ExtKeyUsage).To(ContainElement(x509.ExtKeyUsageClientAuth))
				Expect(cert.CheckSignatureFrom(readCert(filepath.Join(pkiDir, "ca.crt")))).To(Succeed())

				info, err := os.Stat(keyPath)
				Expect(err).NotTo(HaveOccurred())
				Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)))
				check(readKey(keyPath))
			},
			Entry("ECDSA P-256 by default", nil, func(key any) {
				k, ok := key.(*ecdsa.PrivateKey)
				Expect(ok).To(BeTrue(), "key is %T", key)
				Expect(k.Curve).To(Equal(elliptic.P256()))
			}),
			Entry("RSA 2048 with --key-type rsa", []string{"--key-type", "rsa"}, func(key any) {
				k, ok := key.(*rsa.PrivateKey)
				Expect(ok).To(BeTrue(), "key is %T", key)
				Expect(k.N.BitLen()).To(Equal(2048))
			}),
		)

		DescribeTable("refuses invalid device ids",
			func(id string) {
				s := run("", "pki", "issue-device", "--dir", pkiDir, "--id", id)
				Expect(s.ExitCode()).To(Equal(1))
				Expect(s.Err).To(gbytes.Say("invalid device id"))
				Expect(filepath.Join(pkiDir, "devices")).NotTo(BeADirectory())
			},
			Entry("path traversal", "../evil"),
			Entry("slash", "a/b"),
			Entry("leading dot", ".hidden"),
			Entry("space", "dev 1"),
			Entry("too long", strings.Repeat("a", 65)),
		)

		It("refuses to replace an existing device certificate without --force", func() {
			succeed("", "pki", "issue-device", "--dir", pkiDir, "--id", "dev-1")
			s := run("", "pki", "issue-device", "--dir", pkiDir, "--id", "dev-1")
			Expect(s.ExitCode()).To(Equal(1))
			Expect(s.Err).To(gbytes.Say("already exists; pass --force"))
			succeed("", "pki", "issue-device", "--dir", pkiDir, "--id", "dev-1", "--force")
		})

		It("fails clearly when the directory holds no CA", func() {
			s := run("", "pki", "issue-device", "--dir", filepath.Join(dir, "nothing"), "--id", "dev-1")
			Expect(s.ExitCode()).To(Equal(1))
			Expect(s.Err).To(gbytes.Say("rmsctl pki issue-device: "))
		})
	})

	Describe("envelope sign and verify", func() {
		var pkiDir, caPath string

		// device issues a device certificate and returns its paths.
		device := func(id, keyType string) (certPath, keyPath string) {
			GinkgoHelper()
			succeed("", "pki", "issue-device", "--dir", pkiDir, "--id", id, "--key-type", keyType)
			return filepath.Join(pkiDir, "devices", id+".crt"), filepath.Join(pkiDir, "devices", id+".key")
		}

		BeforeEach(func() {
			pkiDir = filepath.Join(dir, "pki")
			caPath = filepath.Join(pkiDir, "ca.crt")
			succeed("", "pki", "init", "--dir", pkiDir)
		})

		DescribeTable("round-trips",
			func(keyType, keyRef string, needsCert bool) {
				certPath, keyPath := device("dev-"+keyType, keyType)
				signed := succeed(heartbeat, "envelope", "sign", "--cert", certPath, "--key", keyPath, "--key-ref", keyRef)
				Expect(signed).To(ContainSubstring(`Security xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"`))
				Expect(signed).To(ContainSubstring("<state>ok</state>"))

				out := succeed(signed, "envelope", "verify", "--ca", caPath, "--cert", certPath)
				Expect(strings.TrimSpace(out)).To(Equal(strings.ReplaceAll(heartbeatOK, "%s", "dev-"+keyType)))

				s := run(signed, "envelope", "verify", "--ca", caPath)
				if needsCert {
					Expect(s.ExitCode()).To(Equal(1))
					Expect(s.Err).To(gbytes.Say(`^FAULT BAD_SIGNATURE: `))
				} else {
					Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
				}
			},
			Entry("ecdsa, thumbprint", "ecdsa", "thumbprint", true),
			Entry("ecdsa, ski", "ecdsa", "ski", true),
			Entry("ecdsa, bst", "ecdsa", "bst", false),
			Entry("ecdsa, issuer-serial", "ecdsa", "issuer-serial", true),
			Entry("rsa, thumbprint", "rsa", "thumbprint", true),
			Entry("rsa, ski", "rsa", "ski", true),
			Entry("rsa, bst", "rsa", "bst", false),
			Entry("rsa, issuer-serial", "rsa", "issuer-serial", true),
		)

		It("uses a thumbprint reference by default", func() {
			certPath, keyPath := device("dev-1", "ecdsa")
			signed := succeed(heartbeat, "envelope", "sign", "--cert", certPath, "--key", keyPath)
			Expect(signed).To(ContainSubstring("ThumbprintSHA1"))
			Expect(signed).NotTo(ContainSubstring("BinarySecurityToken"))
		})

		Context("with a signed heartbeat", func() {
			var certPath, signed string

			BeforeEach(func() {
				var keyPath string
				certPath, keyPath = device("dev-1", "ecdsa")
				signed = succeed(heartbeat, "envelope", "sign", "--cert", certPath, "--key", keyPath, "--key-ref", "bst")
			})

			It("refuses a tampered body as BAD_SIGNATURE", func() {
				tampered := strings.Replace(signed, "<state>ok</state>", "<state>degraded</state>", 1)
				Expect(tampered).NotTo(Equal(signed))
				s := run(tampered, "envelope", "verify", "--ca", caPath)
				Expect(s.ExitCode()).To(Equal(1))
				Expect(s.Out.Contents()).To(BeEmpty())
				Expect(s.Err).To(gbytes.Say(`^FAULT BAD_SIGNATURE: \S`))
			})

			It("refuses the message as EXPIRED two hours later", func() {
				later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
				s := run(signed, "envelope", "verify", "--ca", caPath, "--now", later)
				Expect(s.ExitCode()).To(Equal(1))
				Expect(s.Err).To(gbytes.Say(`^FAULT EXPIRED: \S`))
			})

			It("accepts it at a fixed time within its validity", func() {
				soon := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
				Expect(succeed(signed, "envelope", "verify", "--ca", caPath, "--now", soon)).To(HavePrefix("OK signer=dev-1 "))
			})

			It("refuses a signer that does not chain to the given CA as BAD_SIGNATURE", func() {
				other := filepath.Join(dir, "other")
				succeed("", "pki", "init", "--dir", other)
				s := run(signed, "envelope", "verify", "--ca", filepath.Join(other, "ca.crt"), "--cert", certPath)
				Expect(s.ExitCode()).To(Equal(1))
				Expect(s.Err).To(gbytes.Say(`^FAULT BAD_SIGNATURE: \S`))
			})

			It("refuses an envelope over --max-bytes as TOO_LARGE", func() {
				s := run(signed, "envelope", "verify", "--ca", caPath, "--max-bytes", "512")
				Expect(s.ExitCode()).To(Equal(1))
				Expect(s.Err).To(gbytes.Say(`^FAULT TOO_LARGE: `))
			})

			It("refuses a device-signed message when a server signature is required", func() {
				s := run(signed, "envelope", "verify", "--ca", caPath, "--key-usage", "server")
				Expect(s.ExitCode()).To(Equal(1))
				Expect(s.Err).To(gbytes.Say(`^FAULT `))
			})
		})

		It("refuses an unsigned envelope", func() {
			s := run(heartbeat, "envelope", "verify", "--ca", caPath)
			Expect(s.ExitCode()).To(Equal(1))
			Expect(s.Err).To(gbytes.Say(`^FAULT [A-Z_]+: \S`))
		})

		It("verifies a message signed with the server key against --key-usage server", func() {
			signed := succeed(heartbeat, "envelope", "sign",
				"--cert", filepath.Join(pkiDir, "server.crt"), "--key", filepath.Join(pkiDir, "server.key"), "--key-ref", "bst")
			out := succeed(signed, "envelope", "verify", "--ca", caPath, "--key-usage", "server")
			Expect(out).To(HavePrefix("OK signer=localhost "))
		})

		It("fails without a FAULT line when the CA file cannot be read", func() {
			s := run(heartbeat, "envelope", "verify", "--ca", filepath.Join(dir, "missing.crt"))
			Expect(s.ExitCode()).To(Equal(1))
			Expect(s.Err).To(gbytes.Say("rmsctl envelope verify: "))
		})

		It("fails when signing something that is not a SOAP envelope", func() {
			certPath, keyPath := device("dev-1", "ecdsa")
			s := run("<hello/>", "envelope", "sign", "--cert", certPath, "--key", keyPath)
			Expect(s.ExitCode()).To(Equal(1))
			Expect(s.Out.Contents()).To(BeEmpty())
			Expect(s.Err).To(gbytes.Say("rmsctl envelope sign: "))
		})
	})

	Describe("usage", func() {
		DescribeTable("exits 2 with usage text on a mistake",
			func(want string, args ...string) {
				s := run("", args...)
				Expect(s.ExitCode()).To(Equal(2))
				Expect(s.Err).To(gbytes.Say(want))
				Expect(s.Err).To(gbytes.Say("Usage: rmsctl"))
				Expect(s.Out.Contents()).To(BeEmpty())
			},
			Entry("no verb", "missing command"),
			Entry("unknown verb", `unknown command "frobnicate"`, "frobnicate"),
			Entry("group without sub-verb", "missing sub-command", "pki"),
			Entry("unknown sub-verb", `unknown command "rotate"`, "envelope", "rotate"),
			Entry("unknown flag", "flag provided but not defined: -bogus", "pki", "init", "--bogus"),
			Entry("pki init without --dir", "--dir is required", "pki", "init"),
			Entry("issue-device without --id", "--dir and --id are required", "pki", "issue-device", "--dir", "x"),
			Entry("issue-device with an unknown key type", `unknown --key-type "dsa"`, "pki", "issue-device", "--dir", "x", "--id", "d", "--key-type", "dsa"),
			Entry("issue-device refuses the insecure test-only key type", `unknown --key-type`, "pki", "issue-device", "--dir", "x", "--id", "d", "--key-type", "rsa-1024-insecure"),
			Entry("sign without --key", "--cert and --key are required", "envelope", "sign", "--cert", "c"),
			Entry("sign with an unknown --key-ref", `unknown --key-ref "x509"`, "envelope", "sign", "--cert", "c", "--key", "k", "--key-ref", "x509"),
			Entry("sign with a bad --ttl", `invalid value "soon" for flag -ttl`, "envelope", "sign", "--ttl", "soon"),
			Entry("verify without --ca", "--ca is required", "envelope", "verify"),
			Entry("verify with a bad --now", "--now: ", "envelope", "verify", "--ca", "c", "--now", "yesterday"),
			Entry("verify with a positional argument", `unexpected argument "env.xml"`, "envelope", "verify", "--ca", "c", "env.xml"),
			Entry("unknown help topic", `unknown command "nope"`, "help", "nope"),
		)

		DescribeTable("prints help on stdout and exits 0",
			func(want string, args ...string) {
				s := run("", args...)
				Expect(s.ExitCode()).To(Equal(0))
				Expect(s.Out).To(gbytes.Say(want))
			},
			Entry("help", `Usage: rmsctl <command>`, "help"),
			Entry("-h", `(?s)Usage: rmsctl <command>.*pki init.*envelope verify`, "-h"),
			Entry("help for a group", `Usage: rmsctl pki <command>`, "help", "pki"),
			Entry("-h on a group", `Usage: rmsctl envelope <command>`, "envelope", "-h"),
			Entry("help for a verb", `Usage: rmsctl envelope sign --cert FILE`, "help", "envelope", "sign"),
			Entry("-h on pki init", `(?s)Usage: rmsctl pki init --dir DIR.*--hosts`, "pki", "init", "-h"),
			Entry("-h on pki issue-device", `(?s)Usage: rmsctl pki issue-device.*--key-type`, "pki", "issue-device", "-h"),
			Entry("-h on envelope sign", `(?s)--key-ref.*--ttl`, "envelope", "sign", "-h"),
			Entry("-h on envelope verify", `(?s)FAULT <CODE>: <reason>.*--max-bytes.*--now.*--skew`, "envelope", "verify", "-h"),
		)
	})
})
