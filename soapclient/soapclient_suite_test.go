package soapclient_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestSoapclient(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "soapclient")
}
