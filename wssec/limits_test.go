package wssec_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/wssec"
)

var _ = Describe("CheckLimits", func() {
	lim := wssec.Limits{MaxBytes: 200, MaxDepth: 4, MaxElements: 6, MaxAttributes: 3}
	nest := func(n int) string { return strings.Repeat("<a>", n) + strings.Repeat("</a>", n) }
	padTo := func(n int) string {
		s := `<a x="`
		return s + strings.Repeat("p", n-len(s)-len(`"/>`)) + `"/>`
	}
	attrs := func(n int) string {
		s := "<a"
		for i := range n {
			s += " a" + string(rune('a'+i)) + `="1"`
		}
		return s + "/>"
	}
	elements := func(n int) string { return "<r>" + strings.Repeat("<e/>", n-1) + "</r>" }

	DescribeTable("each limit at and one past its edge",
		func(doc string, code wssec.Code) {
			_, err := wssec.CheckLimits([]byte(doc), lim)
			Expect(wssec.CodeOf(err)).To(Equal(code), "%v", err)
		},
		Entry("size at the limit", padTo(200), wssec.Code("")),
		Entry("size one byte over", padTo(201), wssec.CodeTooLarge),
		Entry("depth at the limit", nest(4), wssec.Code("")),
		Entry("depth one past", nest(5), wssec.CodeMalformed),
		Entry("elements at the limit", elements(6), wssec.Code("")),
		Entry("elements one past", elements(7), wssec.CodeTooLarge),
		Entry("attributes at the limit", attrs(3), wssec.Code("")),
		Entry("attributes one past", attrs(4), wssec.CodeTooLarge),
		Entry("'>' inside a quoted attribute value", `<a x="1>2"><b/></a>`, wssec.Code("")),
		Entry("CDATA inside", `<a><![CDATA[<not><markup>]]></a>`, wssec.Code("")),
		Entry("UTF-8 byte-order mark", "\xEF\xBB\xBF<a/>", wssec.Code("")),
		Entry("declaration naming utf-8 in lower case", `<?xml version="1.0" encoding='utf-8'?><a/>`, wssec.Code("")),
		Entry("comment before the root", `<!-- hello --><a/>`, wssec.Code("")),
		Entry("comment inside", `<a><!-- x --></a>`, wssec.CodeMalformed),
		Entry("processing instruction inside", `<a><?pi x?></a>`, wssec.CodeMalformed),
		Entry("second XML declaration", `<!-- x --><?xml version="1.0"?><a/>`, wssec.CodeMalformed),
		Entry("DOCTYPE", `<!DOCTYPE a><a/>`, wssec.CodeMalformed),
		Entry("UTF-16 big-endian BOM", "\xFE\xFF\x00<\x00a\x00/\x00>", wssec.CodeMalformed),
		Entry("NUL byte", "<a>\x00</a>", wssec.CodeMalformed),
		Entry("invalid UTF-8", "<a>\xC3\x28</a>", wssec.CodeMalformed),
		Entry("declared Shift_JIS", `<?xml version="1.0" encoding="Shift_JIS"?><a/>`, wssec.CodeMalformed),
		Entry("two roots", `<a/><b/>`, wssec.CodeMalformed),
		Entry("unclosed root", `<a><b></b>`, wssec.CodeMalformed),
		Entry("empty input", ``, wssec.CodeMalformed),
		Entry("unterminated start tag", `<a x="1`, wssec.CodeMalformed),
	)

	It("defaults to 64 KiB, depth 24, 4096 elements and 32 attributes", func() {
		_, err := wssec.CheckLimits([]byte(padTo(wssec.DefaultMaxBytes)), wssec.Limits{})
		Expect(err).NotTo(HaveOccurred())
		_, err = wssec.CheckLimits([]byte(padTo(wssec.DefaultMaxBytes+1)), wssec.Limits{})
		Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeTooLarge))
		_, err = wssec.CheckLimits([]byte(nest(wssec.DefaultMaxDepth)), wssec.Limits{})
		Expect(err).NotTo(HaveOccurred())
		_, err = wssec.CheckLimits([]byte(nest(wssec.DefaultMaxDepth+1)), wssec.Limits{})
		Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeMalformed))
		_, err = wssec.CheckLimits([]byte(elements(wssec.DefaultMaxElements+1)), wssec.Limits{})
		Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeTooLarge))
		_, err = wssec.CheckLimits([]byte(attrs(wssec.DefaultMaxAttributes+1)), wssec.Limits{})
		Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeTooLarge))
	})
})
