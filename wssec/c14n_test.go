package wssec_test

import (
	"os"
	"path/filepath"

	"github.com/beevik/etree"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/wssec"
)

// referenceC14N is goxmldsig's exclusive canonicalizer, applied the way its
// own verifier does: detach the element with its in-scope namespaces, then
// canonicalize the copy.
func referenceC14N(el *etree.Element, prefixList string) []byte {
	ctx, err := etreeutils.NSBuildParentContext(el)
	Expect(err).NotTo(HaveOccurred())
	detached, err := etreeutils.NSDetatch(ctx, el)
	Expect(err).NotTo(HaveOccurred())
	out, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(prefixList).Canonicalize(detached)
	Expect(err).NotTo(HaveOccurred())
	return out
}

var _ = Describe("exclusive c14n", func() {
	It("matches goxmldsig on every element of every valid fixture, signed and unsigned", func() {
		p := loadTestPKI()
		files, err := filepath.Glob(fixtures.Path("envelopes", "valid", "*.xml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty())
		checked := 0
		for _, f := range files {
			raw, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			for _, doc := range [][]byte{raw, sign(p.rsa, wssec.RefBinarySecurityToken, FixtureTime, raw)} {
				var walk func(el *etree.Element)
				walk = func(el *etree.Element) {
					for _, prefixes := range []struct {
						list  string
						slice []string
					}{{"", nil}, {"soap wsu", []string{"soap", "wsu"}}} {
						ours, err := wssec.Canonicalize(el, prefixes.slice)
						Expect(err).NotTo(HaveOccurred())
						Expect(string(ours)).To(Equal(string(referenceC14N(el, prefixes.list))), "%s: element %s, prefixes %q", filepath.Base(f), el.GetPath(), prefixes.list)
						checked++
					}
					for _, c := range el.ChildElements() {
						walk(c)
					}
				}
				walk(parse(doc).Root())
			}
		}
		GinkgoWriter.Printf("compared %d canonical forms\n", checked)
	})

	DescribeTable("special cases",
		func(doc, path, want string) {
			el := parse([]byte(doc)).FindElement(path)
			Expect(el).NotTo(BeNil())
			got, err := wssec.Canonicalize(el, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(got)).To(Equal(want))
		},
		Entry("drops unused ancestor namespaces, keeps used ones", `<a:r xmlns:a="urn:a" xmlns:b="urn:b"><a:c x="1"/></a:r>`, "//c", `<a:c xmlns:a="urn:a" x="1"></a:c>`),
		Entry("sorts attributes by namespace URI then name", `<r xmlns:z="urn:a" xmlns:y="urn:b"><c y:k="1" z:k="2" b="3" a="4"/></r>`, "//c", `<c xmlns:y="urn:b" xmlns:z="urn:a" a="4" b="3" z:k="2" y:k="1"></c>`),
		Entry("escapes text and attribute values", "<r a=\"&lt;&amp;&quot;&#9;&#10;&#13;\">&lt;&amp;&gt;&#13;\"'</r>", "/r", "<r a=\"&lt;&amp;&quot;&#x9;&#xA;&#xD;\">&lt;&amp;&gt;&#xD;\"'</r>"),
		Entry("un-declares a default namespace only when it was rendered", `<r xmlns="urn:d"><c xmlns=""><e/></c></r>`, "/r", `<r xmlns="urn:d"><c xmlns=""><e></e></c></r>`),
		Entry("omits xmlns=\"\" at the apex", `<r xmlns="urn:d"><c xmlns=""><e/></c></r>`, "//c", `<c><e></e></c>`),
		Entry("drops comments and keeps CDATA as text", `<r><![CDATA[a<b]]></r>`, "/r", `<r>a&lt;b</r>`),
	)

	// goxmldsig sorts an InclusiveNamespaces #default after prefixed
	// declarations; C14N sorts the default namespace (no local name) first.
	It("puts an inclusive #default before prefixed declarations", func() {
		el := parse([]byte(`<r xmlns="urn:d" xmlns:a="urn:a"><a:c/></r>`)).FindElement("//c")
		got, err := wssec.Canonicalize(el, []string{""})
		Expect(err).NotTo(HaveOccurred())
		Expect(string(got)).To(Equal(`<a:c xmlns="urn:d" xmlns:a="urn:a"></a:c>`))
	})

	It("refuses an undeclared prefix", func() {
		_, err := wssec.Canonicalize(parse([]byte(`<x:r/>`)).Root(), nil)
		Expect(err).To(MatchError(ContainSubstring("undeclared")))
	})
})
