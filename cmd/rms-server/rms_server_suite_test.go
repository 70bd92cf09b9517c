package main_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures/testserver"
)

// bin is the rms-server binary, built once: these tests are about the
// process (what it serves, what it refuses, what survives a restart).
var bin string

func TestRmsServer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "rms-server Suite")
}

var _ = testserver.BuildForSuite(&bin)
