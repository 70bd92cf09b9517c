package wssec_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/wssec"
)

var _ = Describe("envelope parser", func() {
	// Differential check against encoding/xml (through etree): both must
	// yield the same canonical form of every fixture, signed or not.
	It("sees every valid fixture exactly as encoding/xml does", func() {
		p := loadTestPKI()
		files, _ := filepath.Glob(fixtures.Path("envelopes", "valid", "*.xml"))
		Expect(files).NotTo(BeEmpty())
		for _, f := range files {
			raw, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			for _, doc := range [][]byte{raw, sign(p.ecdsa, wssec.RefIssuerSerial, FixtureTime, raw)} {
				ours, err := wssec.ParseXML(doc)
				Expect(err).NotTo(HaveOccurred())
				a, err := wssec.Canonicalize(ours.Root(), nil)
				Expect(err).NotTo(HaveOccurred())
				b, err := wssec.Canonicalize(parse(doc).Root(), nil)
				Expect(err).NotTo(HaveOccurred())
				Expect(string(a)).To(Equal(string(b)), filepath.Base(f))
			}
		}
	})

	DescribeTable("reads",
		func(doc, want string) {
			d, err := wssec.ParseXML([]byte(doc))
			Expect(err).NotTo(HaveOccurred())
			got, err := wssec.Canonicalize(d.Root(), nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(got)).To(Equal(want))
		},
		Entry("entities and character references", `<a t="&lt;&#65;&#x42;&apos;">&amp;&gt;&quot;&#x20AC;</a>`, `<a t="&lt;AB'">&amp;&gt;"€</a>`),
		Entry("CRLF in text becomes LF", "<a>x\r\ny\rz</a>", "<a>x\ny\nz</a>"),
		Entry("tabs and newlines in attribute values become spaces", "<a t=\"x\ty\nz\"/>", `<a t="x y z"></a>`),
		Entry("CDATA merged with text", `<a>x<![CDATA[<y>]]>z</a>`, `<a>x&lt;y&gt;z</a>`),
		Entry("single-quoted attributes and spaces around =", `<a t = 'v'/>`, `<a t="v"></a>`),
		Entry("declaration and comments around the root", "<?xml version=\"1.0\"?>\n<!-- c --><a/>\n<!-- d -->\n", `<a></a>`),
		Entry("spaces in an end tag", `<a></a >`, `<a></a>`),
	)

	DescribeTable("refuses",
		func(doc, reason string) {
			_, err := wssec.ParseXML([]byte(doc))
			Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeMalformed))
			Expect(err).To(MatchError(ContainSubstring(reason)))
		},
		Entry("mismatched end tag", `<a><b></a></b>`, "does not match"),
		Entry("unclosed element", `<a><b></b>`, "not closed"),
		Entry("duplicate attribute", `<a x="1" x="2"/>`, "duplicate attribute"),
		Entry("'<' in an attribute value", `<a x="<"/>`, "'<' in attribute value"),
		Entry("unquoted attribute", `<a x=1/>`, "not quoted"),
		Entry("attribute without value", `<a x/>`, "has no value"),
		Entry("attributes without space between", `<a x="1"y="2"/>`, "malformed start tag"),
		Entry("undefined entity", `<a>&nbsp;</a>`, "undefined entity"),
		Entry("unterminated entity", `<a>&amp</a>`, "unterminated entity"),
		Entry("character reference to NUL", `<a>&#0;</a>`, "invalid character reference"),
		Entry("character reference to a surrogate", `<a>&#xD800;</a>`, "invalid character reference"),
		Entry("name starting with a digit", `<1a/>`, "expected a name"),
		Entry("two colons in a name", `<a:b:c/>`, "malformed qualified name"),
		Entry("content after the root", `<a/>x`, "after the root"),
		Entry("comment inside", `<a><!-- x --></a>`, "not accepted inside"),
		Entry("DOCTYPE", `<!DOCTYPE a><a/>`, "DOCTYPE"),
		Entry("too deep", "<a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a></a>", "deeper than"),
	)
})
