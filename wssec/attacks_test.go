package wssec_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/beevik/etree"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures"
	"github.com/rmsproject/rms/wssec"
)

// attack is one published attack on XML Signature / WS-Security, kept as a
// fixture file under fixtures/envelopes/attacks so interop testers can
// replay it against any endpoint (rmsctl envelope verify, or a POST).
type attack struct {
	file  string
	what  string
	code  wssec.Code
	build func(p *testPKI) []byte
}

func signedECDSA(p *testPKI) []byte {
	return sign(p.ecdsa, wssec.RefBinarySecurityToken, FixtureTime, heartbeat())
}

func signedRSA(p *testPKI) []byte {
	return sign(p.rsa, wssec.RefBinarySecurityToken, FixtureTime, heartbeat())
}

const evilBody = `<Heartbeat xmlns="urn:rms:device:v1"><messageId>6f1d7c2a-0b3e-4d5f-9a8b-7c6d5e4f3a2b</messageId><sentAt>2026-11-23T10:15:00Z</sentAt><state>error</state></Heartbeat>`

func newBody(env *etree.Element, id string) *etree.Element {
	b := etree.NewElement(env.Space + ":Body")
	if id != "" {
		b.CreateAttr("u:Id", id)
	}
	d := etree.NewDocument()
	Expect(d.ReadFromString(evilBody)).To(Succeed())
	b.AddChild(d.Root())
	return b
}

// hideSignedBody moves the signed Body to the element where returns and
// puts a new, unsigned Body in its place: the shape of every XSW variant.
func hideSignedBody(p *testPKI, where func(header, sec, sig *etree.Element) *etree.Element) []byte {
	return mutate(signedECDSA(p), func(doc *etree.Document) {
		env, header, sec, sig, body := parts(doc)
		env.RemoveChild(body)
		where(header, sec, sig).AddChild(body)
		env.AddChild(newBody(env, ""))
	})
}

// wrapperHeader adds an unknown header block, a hiding place for signed parts.
func wrapperHeader(header *etree.Element) *etree.Element {
	w := header.CreateElement("x:Wrapper")
	w.CreateAttr("xmlns:x", "urn:attacker")
	return w
}

var attacks = []attack{
	{"xsw1-body-moved-to-header.xml", "XSW: the signed Body is moved into the SOAP Header and a new, unsigned Body takes its place", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return hideSignedBody(p, func(header, _, _ *etree.Element) *etree.Element { return header })
		}},
	{"xsw2-body-in-security-header.xml", "XSW: the signed Body is kept inside the wsse:Security header; a new Body is added", wssec.CodeMalformed,
		func(p *testPKI) []byte {
			return hideSignedBody(p, func(_, sec, _ *etree.Element) *etree.Element { return sec })
		}},
	{"xsw3-body-in-ds-object.xml", "XSW: the signed Body is wrapped in a ds:Object inside the Signature; a new Body is added", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return hideSignedBody(p, func(_, _, sig *etree.Element) *etree.Element { return sig.CreateElement("Object") })
		}},
	{"xsw4-body-in-extra-header.xml", "XSW: the signed Body is wrapped in an extra, unknown header block; a new Body is added", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return hideSignedBody(p, func(header, _, _ *etree.Element) *etree.Element { return wrapperHeader(header) })
		}},
	{"xsw5-second-body-before.xml", "XSW: a second, unsigned Body is inserted before the signed one", wssec.CodeMalformed,
		func(p *testPKI) []byte {
			return mutate(signedECDSA(p), func(doc *etree.Document) {
				env, _, _, _, body := parts(doc)
				env.InsertChildAt(body.Index(), newBody(env, ""))
			})
		}},
	{"xsw6-second-body-after.xml", "XSW: a second, unsigned Body is appended after the signed one", wssec.CodeMalformed,
		func(p *testPKI) []byte {
			return mutate(signedECDSA(p), func(doc *etree.Document) {
				env, _, _, _, _ := parts(doc)
				env.AddChild(newBody(env, ""))
			})
		}},
	{"xsw7-timestamp-moved.xml", "XSW: the signed (old) Timestamp is hidden in a wrapper header and a fresh unsigned one is put in the Security header", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(sign(p.ecdsa, wssec.RefBinarySecurityToken, FixtureTime.Add(-2*time.Hour), heartbeat()), func(doc *etree.Document) {
				_, header, sec, _, _ := parts(doc)
				ts := child(sec, "Timestamp")
				sec.RemoveChild(ts)
				wrapperHeader(header).AddChild(ts)
				fresh := etree.NewElement("u:Timestamp")
				fresh.CreateElement("u:Created").SetText(FixtureTime.Format(time.RFC3339))
				fresh.CreateElement("u:Expires").SetText(FixtureTime.Add(5 * time.Minute).Format(time.RFC3339))
				sec.InsertChildAt(0, fresh)
			})
		}},
	{"duplicate-id.xml", "Duplicate wsu:Id: the signed Body is hidden in a header and the new Body carries the same wsu:Id, hoping the resolver picks the signed one", wssec.CodeMalformed,
		func(p *testPKI) []byte {
			return mutate(signedECDSA(p), func(doc *etree.Document) {
				env, header, _, _, body := parts(doc)
				id := body.SelectAttrValue("u:Id", "")
				env.RemoveChild(body)
				wrapperHeader(header).AddChild(body)
				env.AddChild(newBody(env, id))
			})
		}},
	{"signature-removed.xml", "Signature exclusion: the ds:Signature is removed, the Timestamp left in place", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedECDSA(p), func(doc *etree.Document) {
				_, _, sec, sig, _ := parts(doc)
				sec.RemoveChild(sig)
			})
		}},
	{"security-header-removed.xml", "Signature exclusion: the whole wsse:Security header is removed", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedECDSA(p), func(doc *etree.Document) {
				_, header, sec, _, _ := parts(doc)
				header.RemoveChild(sec)
			})
		}},
	{"empty-signature-value.xml", "The SignatureValue is emptied", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedECDSA(p), func(doc *etree.Document) {
				_, _, _, sig, _ := parts(doc)
				child(sig, "SignatureValue").SetText("")
			})
		}},
	{"no-references.xml", "SignedInfo without any Reference (signs nothing); re-signed so the signature value itself is valid", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedRSA(p), func(doc *etree.Document) {
				_, _, _, sig, _ := parts(doc)
				si := child(sig, "SignedInfo")
				for _, r := range si.SelectElements("Reference") {
					si.RemoveChild(r)
				}
				resign(doc, p.rsa, wssec.AlgSHA256, wssec.AlgRSASHA256, crypto.SHA256, crypto.SHA256)
			})
		}},
	{"duplicate-signedinfo.xml", "A second SignedInfo is inserted after the genuine one", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedECDSA(p), func(doc *etree.Document) {
				_, _, _, sig, _ := parts(doc)
				si := child(sig, "SignedInfo")
				sig.InsertChildAt(si.Index()+1, si.Copy())
			})
		}},
	{"duplicate-signaturevalue.xml", "A second SignatureValue follows the genuine one", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedECDSA(p), func(doc *etree.Document) {
				_, _, _, sig, _ := parts(doc)
				sv := child(sig, "SignatureValue")
				sig.InsertChildAt(sv.Index()+1, sv.Copy())
			})
		}},
	{"untrusted-self-signed-cert.xml", "Signed with a self-signed certificate for dev-0001 carried in a BinarySecurityToken: valid signature, untrusted key", wssec.CodeBadSignature,
		func(p *testPKI) []byte { return sign(p.rogue, wssec.RefBinarySecurityToken, FixtureTime, heartbeat()) }},
	{"sha1.xml", "RSA-SHA1 signature over SHA-1 digests (both refused; otherwise correct)", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedRSA(p), func(doc *etree.Document) {
				resign(doc, p.rsa, wssec.AlgSHA1, wssec.AlgRSASHA1, crypto.SHA1, crypto.SHA1)
			})
		}},
	{"md5-digest.xml", "MD5 reference digests under an RSA-SHA256 signature", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedRSA(p), func(doc *etree.Document) {
				resign(doc, p.rsa, "http://www.w3.org/2001/04/xmldsig-more#md5", wssec.AlgRSASHA256, crypto.MD5, crypto.SHA256)
			})
		}},
	{"rsa-1024.xml", "Signed with an RSA-1024 key whose certificate the trusted CA did issue", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			// Our Signer refuses such keys, so sign with RSA-2048 and swap.
			return mutate(signedRSA(p), func(doc *etree.Document) {
				_, _, sec, _, _ := parts(doc)
				child(sec, "BinarySecurityToken").SetText(base64.StdEncoding.EncodeToString(p.weak.cert.Raw))
				resign(doc, p.weak, wssec.AlgSHA256, wssec.AlgRSASHA256, crypto.SHA256, crypto.SHA256)
			})
		}},
	{"with-comments-c14n.xml", "CanonicalizationMethod exc-c14n#WithComments (lets comments change signed meaning); re-signed", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedRSA(p), func(doc *etree.Document) {
				_, _, _, sig, _ := parts(doc)
				child(child(sig, "SignedInfo"), "CanonicalizationMethod").CreateAttr("Algorithm", wssec.AlgExcC14NWithComments)
				resign(doc, p.rsa, wssec.AlgSHA256, wssec.AlgRSASHA256, crypto.SHA256, crypto.SHA256)
			})
		}},
	{"xslt-transform.xml", "A reference with an extra XSLT transform (arbitrary computation inside the verifier)", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedECDSA(p), func(doc *etree.Document) {
				_, _, _, sig, _ := parts(doc)
				tr := child(child(child(sig, "SignedInfo"), "Reference"), "Transforms")
				tr.CreateElement("Transform").CreateAttr("Algorithm", "http://www.w3.org/TR/1999/REC-xslt-19991116")
			})
		}},
	{"extra-reference.xml", "A third reference (to the BinarySecurityToken): the profile signs exactly Body and Timestamp", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedECDSA(p), func(doc *etree.Document) {
				_, _, _, sig, _ := parts(doc)
				si := child(sig, "SignedInfo")
				si.AddChild(child(si, "Reference").Copy())
			})
		}},
	{"comment-truncation.xml", "A comment inserted inside a signed text value: c14n drops it, so the signature still matches, but a naive reader sees only the text before it", wssec.CodeMalformed,
		func(p *testPKI) []byte {
			raw := signedECDSA(p)
			return bytes.Replace(raw, []byte(`<state>ok</state>`), []byte(`<state>o<!---->k</state>`), 1)
		}},
	{"xxe-external-entity.xml", "XXE: a DOCTYPE declaring an external entity that reads /etc/passwd into the Body", wssec.CodeMalformed,
		func(p *testPKI) []byte {
			raw := signedECDSA(p)
			raw = bytes.Replace(raw, []byte(`<state>ok</state>`), []byte(`<state>&xxe;</state>`), 1)
			return append([]byte(`<!DOCTYPE Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`+"\n"), raw...)
		}},
	{"billion-laughs.xml", "Entity expansion (billion laughs): ten nested entities expanding to 10^9 copies", wssec.CodeMalformed,
		func(p *testPKI) []byte {
			var b strings.Builder
			b.WriteString(`<!DOCTYPE Envelope [<!ENTITY lol0 "lol">`)
			for i := 1; i <= 9; i++ {
				b.WriteString(`<!ENTITY lol` + string(rune('0'+i)) + ` "` + strings.Repeat("&lol"+string(rune('0'+i-1))+";", 10) + `">`)
			}
			b.WriteString("]>\n")
			raw := signedECDSA(p)
			raw = bytes.Replace(raw, []byte(`<state>ok</state>`), []byte(`<state>&lol9;</state>`), 1)
			return append([]byte(b.String()), raw...)
		}},
	{"deep-nesting.xml", "20,000 nested elements in the Body (stack exhaustion in recursive parsers)", wssec.CodeMalformed,
		func(p *testPKI) []byte {
			raw := signedECDSA(p)
			return bytes.Replace(raw, []byte(`<state>ok</state>`), []byte(strings.Repeat("<a>", 20000)+strings.Repeat("</a>", 0)), 1)
		}},
	{"oversized-5mb.xml", "A 5 MB Body (memory exhaustion); refused on size before any parsing", wssec.CodeTooLarge,
		func(p *testPKI) []byte {
			raw := signedECDSA(p)
			pad := `<property name="pad" value="` + strings.Repeat("A", 5<<20) + `"/>`
			return bytes.Replace(raw, []byte(`<state>ok</state>`), []byte(`<state>ok</state>`+pad), 1)
		}},
	{"utf16.xml", "The envelope encoded as UTF-16 with a byte-order mark (encoding confusion between parsers)", wssec.CodeMalformed,
		func(p *testPKI) []byte {
			raw := bytes.Replace(signedECDSA(p), []byte(`encoding="UTF-8"`), []byte(`encoding="UTF-16"`), 1)
			units := utf16.Encode([]rune(string(raw)))
			out := []byte{0xFF, 0xFE}
			for _, u := range units {
				out = append(out, byte(u), byte(u>>8))
			}
			return out
		}},
	{"latin1-declared.xml", "An XML declaration naming ISO-8859-1 (only UTF-8 is accepted)", wssec.CodeMalformed,
		func(p *testPKI) []byte {
			return append([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?>`), signedECDSA(p)...)
		}},
	{"expired-timestamp.xml", "Timestamp expired an hour before the fixture clock (stale message)", wssec.CodeExpired,
		func(p *testPKI) []byte {
			return sign(p.ecdsa, wssec.RefBinarySecurityToken, FixtureTime.Add(-time.Hour), heartbeat())
		}},
	{"future-timestamp.xml", "Timestamp created an hour after the fixture clock (pre-signed for later replay)", wssec.CodeExpired,
		func(p *testPKI) []byte {
			return sign(p.ecdsa, wssec.RefBinarySecurityToken, FixtureTime.Add(time.Hour), heartbeat())
		}},
	{"tampered-body.xml", "The signed Body's state is changed from ok to error after signing", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return bytes.Replace(signedECDSA(p), []byte(`<state>ok</state>`), []byte(`<state>error</state>`), 1)
		}},
	{"tampered-timestamp.xml", "The signed Timestamp's Expires is pushed a day later after signing", wssec.CodeBadSignature,
		func(p *testPKI) []byte {
			return mutate(signedECDSA(p), func(doc *etree.Document) {
				_, _, sec, _, _ := parts(doc)
				child(child(sec, "Timestamp"), "Expires").SetText(FixtureTime.Add(24 * time.Hour).Format(time.RFC3339))
			})
		}},
	{"soap12-envelope.xml", "A SOAP 1.2 envelope (namespace confusion)", wssec.CodeMalformed,
		func(p *testPKI) []byte {
			return bytes.ReplaceAll(signedECDSA(p), []byte(wssec.NSSoap11), []byte("http://www.w3.org/2003/05/soap-envelope"))
		}},
}

func attackPath(file string) string { return fixtures.Path("envelopes", "attacks", file) }

var _ = Describe("published attacks", Ordered, func() {
	var p *testPKI
	BeforeAll(func() {
		p = loadTestPKI()
		if *update {
			for _, a := range attacks {
				raw := a.build(p)
				if a.file != "utf16.xml" {
					raw = withComment("ATTACK: "+a.what+". Expected fault: "+string(a.code)+". Signed at "+FixtureTime.Format(time.RFC3339)+"; verify with that clock.", raw)
				}
				Expect(os.WriteFile(attackPath(a.file), raw, 0o644)).To(Succeed())
			}
		}
	})

	It("has a fixture file for every attack and an attack for every fixture file", func() {
		entries, err := os.ReadDir(fixtures.Path("envelopes", "attacks"))
		Expect(err).NotTo(HaveOccurred())
		var files, names []string
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".xml") {
				files = append(files, e.Name())
			}
		}
		for _, a := range attacks {
			names = append(names, a.file)
		}
		slices.Sort(names)
		Expect(files).To(Equal(names))
	})

	for _, a := range attacks {
		It("refuses "+strings.TrimSuffix(a.file, ".xml")+" with "+string(a.code), func() {
			raw, err := os.ReadFile(attackPath(a.file))
			Expect(err).NotTo(HaveOccurred())
			res, err := p.verifier().Verify(context.Background(), raw)
			Expect(res).To(BeNil(), "nothing may reach a handler")
			Expect(err).To(HaveOccurred())
			Expect(wssec.CodeOf(err)).To(Equal(a.code), "%v", err)
			_, _ = GinkgoWriter.Write([]byte(filepath.Base(a.file) + " -> " + err.Error() + "\n"))
		})
	}
})
