package soapapi_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestSoapapi(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "server/soapapi Suite")
}
