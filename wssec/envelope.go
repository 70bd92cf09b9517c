package wssec

import (
	"strings"

	"github.com/beevik/etree"
)

const nsSoap12 = "http://www.w3.org/2003/05/soap-envelope"

// envelopeParts checks that doc is a SOAP 1.1 Envelope holding an optional
// Header followed by exactly one Body, and nothing else.
func envelopeParts(doc *etree.Document) (env, header, body *etree.Element, err error) {
	env = doc.Root()
	if env == nil {
		return nil, nil, nil, fail(CodeMalformed, "no root element")
	}
	switch ns := env.NamespaceURI(); {
	case env.Tag != "Envelope":
		return nil, nil, nil, fail(CodeMalformed, "root element is %q, not a SOAP Envelope", env.Tag)
	case ns == nsSoap12:
		return nil, nil, nil, fail(CodeMalformed, "SOAP 1.2 is not supported; use SOAP 1.1")
	case ns != NSSoap11:
		return nil, nil, nil, fail(CodeMalformed, "Envelope is not in the SOAP 1.1 namespace")
	}
	for _, tok := range env.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return nil, nil, nil, fail(CodeMalformed, "text directly inside the Envelope")
			}
		case *etree.Element:
			if t.NamespaceURI() != NSSoap11 {
				return nil, nil, nil, fail(CodeMalformed, "unexpected element %q in the Envelope", t.Tag)
			}
			switch {
			case t.Tag == "Header" && header == nil && body == nil:
				header = t
			case t.Tag == "Body" && body == nil:
				body = t
			default:
				return nil, nil, nil, fail(CodeMalformed, "unexpected or repeated %q in the Envelope", t.Tag)
			}
		}
	}
	if body == nil {
		return nil, nil, nil, fail(CodeMalformed, "the Envelope has no Body")
	}
	return env, header, body, nil
}

// is reports whether el has the namespace URI ns and local name local.
func is(el *etree.Element, ns, local string) bool {
	return el.Tag == local && el.NamespaceURI() == ns
}

// findChild returns el's first child element named {ns}local.
func findChild(el *etree.Element, ns, local string) *etree.Element {
	for _, c := range el.ChildElements() {
		if is(c, ns, local) {
			return c
		}
	}
	return nil
}

// attrValue returns the value of el's attribute {ns}local; ns "" selects an
// unqualified attribute.
func attrValue(el *etree.Element, ns, local string) string {
	for i := range el.Attr {
		a := &el.Attr[i]
		if a.Key != local || isNamespaceDecl(a) {
			continue
		}
		if ns == "" && a.Space == "" || ns != "" && a.Space != "" && a.NamespaceURI() == ns {
			return a.Value
		}
	}
	return ""
}

// hasOnlyElements reports whether el's content is elements and whitespace.
func hasOnlyElements(el *etree.Element) bool {
	for _, tok := range el.Child {
		if cd, ok := tok.(*etree.CharData); ok && strings.TrimSpace(cd.Data) != "" {
			return false
		}
	}
	return true
}
