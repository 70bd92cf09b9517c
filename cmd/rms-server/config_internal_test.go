package main

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("configuration", func() {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	file := func(body string) string {
		p := filepath.Join(GinkgoT().TempDir(), "rms-server.conf")
		Expect(os.WriteFile(p, []byte(body), 0o600)).To(Succeed())
		return p
	}

	It("takes flags over RMS_* variables over the config file over defaults", func() {
		conf := file("# comment\nlisten: :9000\ndb: sqlite:/file.db\npki: /file-pki\nlog-level: warn\n")
		c, err := parseConfig([]string{"--config", conf, "--listen", ":7000"},
			env(map[string]string{"RMS_DB": "postgres://env/db", "RMS_LISTEN": ":8000"}))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Listen).To(Equal(":7000"))
		Expect(c.DB).To(Equal("postgres://env/db"))
		Expect(c.LogLevel).To(Equal("warn"))
		Expect(c.TLSCert).To(Equal("/file-pki/server.crt"))
		Expect(c.ClientCA).To(Equal("/file-pki/ca.crt"))
		Expect(c.ShutdownTimeout).To(Equal(30 * time.Second))
	})

	It("reads the config file named by RMS_CONFIG", func() {
		c, err := parseConfig(nil, env(map[string]string{"RMS_CONFIG": file("pki: /p\nrequire-registration: true\n")}))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.RequireRegistration).To(BeTrue())
	})

	DescribeTable("refuses bad configuration with a clear error",
		func(args []string, vars map[string]string, fileBody string, want string) {
			if fileBody != "" {
				args = append(args, "--config", file(fileBody))
			}
			_, err := parseConfig(args, env(vars))
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("no TLS material", nil, nil, "", "TLS is required"),
		Entry("unknown file setting", []string{"--pki", "/p"}, nil, "colour: blue\n", `unknown setting "colour"`),
		Entry("file line without a colon", []string{"--pki", "/p"}, nil, "listen\n", "want `name: value`"),
		Entry("bad duration in the environment", []string{"--pki", "/p"}, map[string]string{"RMS_SHUTDOWN_TIMEOUT": "soon"}, "", "RMS_SHUTDOWN_TIMEOUT"),
		Entry("bad log format", []string{"--pki", "/p", "--log-format", "xml"}, nil, "", "--log-format"),
		Entry("stray argument", []string{"--pki", "/p", "extra"}, nil, "", `unexpected argument "extra"`),
	)
})
