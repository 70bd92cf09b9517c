package poller_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestPoller(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "server/poller Suite")
}
