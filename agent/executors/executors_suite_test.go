package executors_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/rmsproject/rms/fixtures/testserver"
)

// serverBin is the real rms-server: uploads are checked by what it stored.
var serverBin string

func TestExecutors(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "agent/executors")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	return []byte(testserver.Build())
}, func(path []byte) {
	serverBin = string(path)
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	gexec.CleanupBuildArtifacts()
})
