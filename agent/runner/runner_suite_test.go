package runner

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures/testserver"
)

// serverBin is the real rms-server, built once: the runner's job is to get
// data to it, so that is what it is tested against.
var serverBin string

func TestRunner(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "agent/runner")
}

var _ = testserver.BuildForSuite(&serverBin)
