package wssec_test

import (
	"bytes"
	"encoding/xml"
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/fixtures/testenv"
	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/wssec"
)

const getDevice = `<GetDevice xmlns="urn:rms:management:v1"><deviceId>dev-0001</deviceId></GetDevice>`

var getDeviceName = xml.Name{Space: "urn:rms:management:v1", Local: "GetDevice"}

// utEnvelope builds a management request with the given header content,
// the way third-party stacks lay it out.
func utEnvelope(header string) []byte {
	return []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"` +
		` xmlns:wsse="` + wssec.NSWSSE + `" xmlns:wsu="` + wssec.NSWSU + `">` +
		`<s:Header>` + header + `</s:Header><s:Body>` + getDevice + `</s:Body></s:Envelope>`)
}

func token(inner string) string {
	return `<wsse:Security s:mustUnderstand="1"><wsse:UsernameToken>` + inner + `</wsse:UsernameToken></wsse:Security>`
}

const (
	utUser = `<wsse:Username>operator</wsse:Username>`
	utPass = `<wsse:Password Type="` + wssec.PasswordText + `">s3cret</wsse:Password>`
)

func readUT(raw []byte) (*wssec.UsernameRequest, error) {
	return wssec.ReadUsernameToken(raw, wssec.Limits{})
}

func expectGetDevice(req *wssec.UsernameRequest) {
	GinkgoHelper()
	Expect(req.Payload).To(Equal(getDeviceName))
	var gd management.GetDevice
	Expect(req.DecodePayload(&gd)).To(Succeed())
	Expect(gd.DeviceId).To(Equal("dev-0001"))
}

var _ = Describe("UsernameToken", func() {
	It("round-trips what UsernameEnvelope builds, escaping included", func() {
		password := "s3cret <&> \"pw\" 'x'\r\n\ttab ünï"
		raw, err := wssec.UsernameEnvelope([]byte(getDevice), "operator", password)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).To(ContainSubstring(`Type="` + wssec.PasswordText + `"`))

		req, err := readUT(raw)
		Expect(err).NotTo(HaveOccurred())
		Expect(req.Username).To(Equal("operator"))
		Expect(req.Password).To(Equal(password))
		expectGetDevice(req)
	})

	DescribeTable("UsernameEnvelope refuses credentials that cannot travel",
		func(user, password string, code wssec.Code) {
			_, err := wssec.UsernameEnvelope([]byte(getDevice), user, password)
			Expect(wssec.CodeOf(err)).To(Equal(code))
		},
		Entry("empty user name", "", "pw", wssec.CodeMalformed),
		Entry("NUL in the password", "operator", "a\x00b", wssec.CodeMalformed),
		Entry("control character in the user name", "op\x01", "pw", wssec.CodeMalformed),
		Entry("invalid UTF-8", "operator", "\xff", wssec.CodeMalformed),
		Entry("user name over the bound", strings.Repeat("u", wssec.MaxUsernameBytes+1), "pw", wssec.CodeTooLarge),
		Entry("password over the bound", "operator", strings.Repeat("p", wssec.MaxPasswordBytes+1), wssec.CodeTooLarge),
	)

	It("reads the envelope real zeep 4.2.1 sends (testdata, regenerate with testdata/zeep_usernametoken.py)", func() {
		req, err := readUT(fixtures.Read("..", "wssec", "testdata", "zeep-usernametoken-getdevice.xml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(req.Username).To(Equal("operator"))
		Expect(req.Password).To(Equal(`s3cret <&> "pw"`))
		expectGetDevice(req)
	})

	DescribeTable("accepts what WSS4J, SoapUI and WCF send",
		func(header string, password string) {
			req, err := readUT(utEnvelope(header))
			Expect(err).NotTo(HaveOccurred())
			Expect(req.Username).To(Equal("operator"))
			Expect(req.Password).To(Equal(password))
			expectGetDevice(req)
		},
		Entry("SoapUI/WSS4J: wsu:Id, Nonce and Created with PasswordText, and a Timestamp",
			`<wsse:Security s:mustUnderstand="1">`+
				`<wsu:Timestamp wsu:Id="TS-1"><wsu:Created>2026-11-23T10:15:00.000Z</wsu:Created><wsu:Expires>2026-11-23T10:20:00.000Z</wsu:Expires></wsu:Timestamp>`+
				`<wsse:UsernameToken wsu:Id="UsernameToken-8C1E2F">`+utUser+utPass+
				`<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">q8a+Yd1jUQ2Vf3w4t8k1fA==</wsse:Nonce>`+
				`<wsu:Created>2026-11-23T10:15:00.000Z</wsu:Created></wsse:UsernameToken></wsse:Security>`,
			"s3cret"),
		Entry("no Type attribute (PasswordText by default), indented user name",
			token(`<wsse:Username>
  operator
</wsse:Username><wsse:Password> pass with spaces </wsse:Password>`),
			" pass with spaces "),
		Entry("a WS-Addressing header that need not be understood",
			`<a:Action xmlns:a="http://www.w3.org/2005/08/addressing">urn:rms:management:v1/GetDevice</a:Action>`+token(utUser+utPass),
			"s3cret"),
		Entry("mustUnderstand=\"0\" on another header",
			`<x:Trace xmlns:x="urn:example" s:mustUnderstand="0">1</x:Trace>`+token(utUser+utPass),
			"s3cret"),
		Entry("a CDATA password", token(utUser+`<wsse:Password><![CDATA[a<b]]></wsse:Password>`), "a<b"),
	)

	DescribeTable("refuses",
		func(raw []byte, code wssec.Code, reason string) {
			_, err := readUT(raw)
			Expect(err).To(HaveOccurred())
			var e *wssec.Error
			Expect(err).To(BeAssignableToTypeOf(e))
			Expect(wssec.CodeOf(err)).To(Equal(code))
			Expect(err.Error()).To(ContainSubstring(reason))
		},
		Entry("PasswordDigest", utEnvelope(token(utUser+
			`<wsse:Password Type="`+wssec.PasswordDigest+`">Q6iuaKL2jLea9jTk6ugkY9oGyQY=</wsse:Password>`)),
			wssec.CodeBadSignature, "PasswordDigest is not accepted"),
		Entry("an unknown password type", utEnvelope(token(utUser+`<wsse:Password Type="urn:x">pw</wsse:Password>`)),
			wssec.CodeBadSignature, "password type"),
		Entry("no Header", []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>`+getDevice+`</s:Body></s:Envelope>`),
			wssec.CodeBadSignature, "no SOAP Header"),
		Entry("no Security header", utEnvelope(``), wssec.CodeBadSignature, "no WS-Security header"),
		Entry("no UsernameToken", utEnvelope(`<wsse:Security/>`), wssec.CodeBadSignature, "no UsernameToken"),
		Entry("no Password", utEnvelope(token(utUser)), wssec.CodeBadSignature, "needs a Username and a Password"),
		Entry("an empty Username", utEnvelope(token(`<wsse:Username> </wsse:Username>`+utPass)), wssec.CodeBadSignature, "empty Username"),
		Entry("two Security headers", utEnvelope(token(utUser+utPass)+token(utUser+utPass)), wssec.CodeMalformed, "more than one Security header"),
		Entry("a Security header in the WSS 1.1 namespace", utEnvelope(`<x:Security xmlns:x="`+wssec.NSWSSE11+`"/>`),
			wssec.CodeMalformed, "wrong namespace"),
		Entry("two UsernameTokens", utEnvelope(`<wsse:Security><wsse:UsernameToken>`+utUser+utPass+`</wsse:UsernameToken>`+
			`<wsse:UsernameToken>`+utUser+utPass+`</wsse:UsernameToken></wsse:Security>`), wssec.CodeMalformed, "more than one UsernameToken"),
		Entry("two Passwords", utEnvelope(token(utUser+utPass+utPass)), wssec.CodeMalformed, "repeated"),
		Entry("an unknown element in the token", utEnvelope(token(utUser+utPass+`<wsse:Salt>x</wsse:Salt>`)), wssec.CodeMalformed, "unexpected"),
		Entry("markup inside the Password", utEnvelope(token(utUser+`<wsse:Password><b>pw</b></wsse:Password>`)), wssec.CodeMalformed, "text only"),
		Entry("a Signature beside the token (we would not check it)", utEnvelope(`<wsse:Security><wsse:UsernameToken>`+utUser+utPass+
			`</wsse:UsernameToken><ds:Signature xmlns:ds="`+wssec.NSDSig+`"/></wsse:Security>`), wssec.CodeMalformed, "only a UsernameToken"),
		Entry("another header that must be understood", utEnvelope(`<x:Trace xmlns:x="urn:example" s:mustUnderstand="1">1</x:Trace>`+token(utUser+utPass)),
			wssec.CodeMalformed, "must be understood"),
		Entry("two elements in the Body", []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>`+token(utUser+utPass)+
			`</s:Header><s:Body>`+getDevice+getDevice+`</s:Body></s:Envelope>`), wssec.CodeMalformed, "exactly one element"),
		Entry("an empty Body", []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>`+token(utUser+utPass)+
			`</s:Header><s:Body/></s:Envelope>`), wssec.CodeMalformed, "exactly one element"),
		Entry("a second Body", []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>`+token(utUser+utPass)+
			`</s:Header><s:Body>`+getDevice+`</s:Body><s:Body>`+getDevice+`</s:Body></s:Envelope>`), wssec.CodeMalformed, "repeated"),
		Entry("SOAP 1.2", []byte(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>`+getDevice+`</s:Body></s:Envelope>`),
			wssec.CodeMalformed, "SOAP 1.2"),
		Entry("a DOCTYPE (before any parsing)", append([]byte(`<!DOCTYPE x [<!ENTITY e "pw">]>`), utEnvelope(token(utUser+utPass))...),
			wssec.CodeMalformed, "DOCTYPE"),
		Entry("a comment inside the password", utEnvelope(token(utUser+`<wsse:Password>s3<!---->cret</wsse:Password>`)),
			wssec.CodeMalformed, "comment"),
		Entry("an oversized envelope", bytes.Replace(utEnvelope(token(utUser+utPass)), []byte("s3cret"), bytes.Repeat([]byte("x"), wssec.DefaultMaxBytes), 1),
			wssec.CodeTooLarge, "limit"),
		Entry("a password over the bound", utEnvelope(token(utUser+`<wsse:Password>`+strings.Repeat("p", wssec.MaxPasswordBytes+1)+`</wsse:Password>`)),
			wssec.CodeTooLarge, "too long"),
	)

	It("reads what zeep sends, live", Label("interop"), func() {
		python := testenv.RequirePython("zeep", "lxml")
		script := fixtures.Path("..", "wssec", "testdata", "zeep_usernametoken.py")
		wsdl := fixtures.Path("..", "wsdl", "management.wsdl")
		zeep := func(mode string) []byte {
			var stderr bytes.Buffer
			cmd := exec.Command(python, script, wsdl, "ops-ünï", "pa ss<&>", mode)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			Expect(err).NotTo(HaveOccurred(), stderr.String())
			return out
		}

		req, err := readUT(zeep("text"))
		Expect(err).NotTo(HaveOccurred())
		Expect(req.Username).To(Equal("ops-ünï"))
		Expect(req.Password).To(Equal("pa ss<&>"))
		expectGetDevice(req)

		_, err = readUT(zeep("digest"))
		Expect(wssec.CodeOf(err)).To(Equal(wssec.CodeBadSignature))
		Expect(err.Error()).To(ContainSubstring("PasswordDigest"))
	})
})
