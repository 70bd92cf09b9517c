package runner

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/rmsproject/rms/fixtures/testserver"
)

// serverBin is the real rms-server, built once: the runner's job is to get
// data to it, so that is what it is tested against.
var serverBin string

func TestRunner(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "agent/runner")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	return []byte(testserver.Build())
}, func(path []byte) {
	serverBin = string(path)
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	gexec.CleanupBuildArtifacts()
})
