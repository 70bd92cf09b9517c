package main_test

import (
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/rmsproject/rms/fixtures/testserver"
)

// rmsctl is the path of the binary under test, built once for the suite:
// these tests are about what a user sees from the process (exit status,
// stdout, stderr, files), so they run the real thing; the management verbs
// talk to the real rms-server (serverBin), built once too.
var rmsctl, serverBin string

func TestRmsctl(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "rmsctl Suite")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	path, err := gexec.Build("github.com/rmsproject/rms/cmd/rmsctl")
	Expect(err).NotTo(HaveOccurred())
	return []byte(path + "\n" + testserver.Build())
}, func(paths []byte) {
	rmsctl, serverBin, _ = strings.Cut(string(paths), "\n")
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	gexec.CleanupBuildArtifacts()
})
