package main_test

import (
	"encoding/json"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/rmsproject/rms/fixtures/testserver"
)

// The binaries, built once: these specs are about processes (what reaches
// the real server, what survives a kill, what the agent refuses), so they
// run the same rms-agent and rms-server a customer would.
var (
	serverBin string
	agentBin  string
)

func TestRmsAgent(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "rms-agent Suite")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	agent, err := gexec.Build("github.com/rmsproject/rms/cmd/rms-agent")
	Expect(err).NotTo(HaveOccurred())
	b, err := json.Marshal([2]string{testserver.Build(), agent})
	Expect(err).NotTo(HaveOccurred())
	return b
}, func(b []byte) {
	var bins [2]string
	Expect(json.Unmarshal(b, &bins)).To(Succeed())
	serverBin, agentBin = bins[0], bins[1]
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	gexec.CleanupBuildArtifacts()
})
