package auditlog_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestAuditlog(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "agent/auditlog Suite")
}
