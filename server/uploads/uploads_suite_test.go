package uploads_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestUploads(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "server/uploads Suite")
}
