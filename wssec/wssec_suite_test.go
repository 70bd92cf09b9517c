package wssec_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestWSSec(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "wssec")
}
