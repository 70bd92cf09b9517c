package executors_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures/testserver"
)

// serverBin is the real rms-server: uploads are checked by what it stored.
var serverBin string

func TestExecutors(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "agent/executors")
}

var _ = testserver.BuildForSuite(&serverBin)
