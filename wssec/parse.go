package wssec

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// parseXML builds an etree document from input that already passed
// CheckLimits (UTF-8, no DOCTYPE, bounded depth and size). It is a small,
// strict, non-validating parser for exactly the XML a SOAP envelope may
// contain: elements, attributes, text, CDATA, the five predefined entities
// and character references. It exists because encoding/xml, under etree,
// costs more than every other verification step together (about 100 µs of
// a 2 KB heartbeat). It reads the input once, takes names and most values
// as substrings of one string, and refuses what the XML 1.0 and Namespaces
// specifications refuse (mismatched tags, duplicate attributes, '<' in
// attribute values, undefined entities, malformed names), so that what it
// builds is what any conforming parser would see.
func parseXML(raw []byte, maxDepth int) (*etree.Document, error) {
	p := &xmlParser{s: string(raw), maxDepth: maxDepth}
	if err := p.misc(); err != nil {
		return nil, err
	}
	if !p.at("<") {
		return nil, p.errorf("no root element")
	}
	root, err := p.element(nil, 1)
	if err != nil {
		return nil, err
	}
	if err := p.misc(); err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, p.errorf("content after the root element")
	}
	doc := etree.NewDocument()
	doc.SetRoot(root)
	return doc, nil
}

type xmlParser struct {
	s        string
	i        int
	maxDepth int
	text     strings.Builder
}

func (p *xmlParser) errorf(format string, args ...any) *Error {
	e := fail(CodeMalformed, format, args...)
	e.Reason += " (at byte " + strconv.Itoa(p.i) + ")"
	return e
}

func (p *xmlParser) at(prefix string) bool { return strings.HasPrefix(p.s[p.i:], prefix) }

func (p *xmlParser) skipSpace() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

// misc skips whitespace, comments and processing instructions (the XML
// declaration included) around the root element.
func (p *xmlParser) misc() error {
	for {
		p.skipSpace()
		switch {
		case p.at("<!--"):
			end := strings.Index(p.s[p.i+4:], "-->")
			if end < 0 {
				return p.errorf("unterminated comment")
			}
			p.i += 4 + end + 3
		case p.at("<?"):
			end := strings.Index(p.s[p.i:], "?>")
			if end < 0 {
				return p.errorf("unterminated processing instruction")
			}
			p.i += end + 2
		case p.at("<!"):
			return p.errorf("DOCTYPE and markup declarations are not accepted")
		default:
			return nil
		}
	}
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isNameChar(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':'
}

// name reads a QName: NCName or NCName ':' NCName.
func (p *xmlParser) name() (string, error) {
	start := p.i
	if p.i >= len(p.s) || !isNameStart(p.s[p.i]) {
		return "", p.errorf("expected a name")
	}
	colons := 0
	for p.i < len(p.s) && isNameChar(p.s[p.i]) {
		if p.s[p.i] == ':' {
			colons++
			if colons > 1 || p.i+1 >= len(p.s) || !isNameStart(p.s[p.i+1]) {
				return "", p.errorf("malformed qualified name")
			}
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

// element parses the element starting at p.i ('<').
func (p *xmlParser) element(parent *etree.Element, depth int) (*etree.Element, error) {
	if depth > p.maxDepth {
		return nil, p.errorf("elements nested deeper than %d", p.maxDepth)
	}
	p.i++ // '<'
	name, err := p.name()
	if err != nil {
		return nil, err
	}
	el := etree.NewElement(name)
	if parent != nil {
		parent.AddChild(el)
	}
	for {
		hadSpace := p.i < len(p.s) && isSpace(p.s[p.i])
		p.skipSpace()
		switch {
		case p.at("/>"):
			p.i += 2
			return el, nil
		case p.at(">"):
			p.i++
			return el, p.content(el, name, depth)
		case !hadSpace:
			return nil, p.errorf("malformed start tag <%s>", name)
		}
		if err := p.attribute(el); err != nil {
			return nil, err
		}
	}
}

func (p *xmlParser) attribute(el *etree.Element) error {
	key, err := p.name()
	if err != nil {
		return err
	}
	p.skipSpace()
	if !p.at("=") {
		return p.errorf("attribute %s has no value", key)
	}
	p.i++
	p.skipSpace()
	if p.i >= len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\'') {
		return p.errorf("attribute %s value is not quoted", key)
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return p.errorf("unterminated attribute value")
	}
	raw := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	if strings.IndexByte(raw, '<') >= 0 {
		return p.errorf("'<' in attribute value")
	}
	value, err := p.decode(raw, true)
	if err != nil {
		return err
	}
	for i := range el.Attr {
		if el.Attr[i].FullKey() == key {
			return p.errorf("duplicate attribute %s", key)
		}
	}
	el.CreateAttr(key, value)
	return nil
}

// content parses child nodes up to and including the end tag of name.
func (p *xmlParser) content(el *etree.Element, name string, depth int) error {
	p.text.Reset()
	flush := func() {
		if p.text.Len() > 0 {
			el.CreateText(p.text.String())
			p.text.Reset()
		}
	}
	for {
		lt := strings.IndexByte(p.s[p.i:], '<')
		if lt < 0 {
			return p.errorf("element <%s> is not closed", name)
		}
		if lt > 0 {
			t, err := p.decode(p.s[p.i:p.i+lt], false)
			if err != nil {
				return err
			}
			p.text.WriteString(t)
			p.i += lt
		}
		switch {
		case p.at("</"):
			p.i += 2
			end, err := p.name()
			if err != nil {
				return err
			}
			if end != name {
				return p.errorf("end tag </%s> does not match <%s>", end, name)
			}
			p.skipSpace()
			if !p.at(">") {
				return p.errorf("malformed end tag </%s>", end)
			}
			p.i++
			flush()
			return nil
		case p.at("<![CDATA["):
			end := strings.Index(p.s[p.i:], "]]>")
			if end < 0 {
				return p.errorf("unterminated CDATA section")
			}
			p.text.WriteString(normalizeNewlines(p.s[p.i+9 : p.i+end]))
			p.i += end + 3
		case p.at("<!--"), p.at("<?"), p.at("<!"):
			return p.errorf("comments, processing instructions and declarations are not accepted inside the envelope")
		default:
			flush()
			if _, err := p.element(el, depth+1); err != nil {
				return err
			}
			p.text.Reset()
		}
	}
}

// decode resolves references and normalises line ends (and, in attribute
// values, white space) as XML 1.0 sections 2.11 and 3.3.3 require.
func (p *xmlParser) decode(s string, attr bool) (string, error) {
	if strings.IndexByte(s, '&') < 0 && strings.IndexByte(s, '\r') < 0 && (!attr || strings.IndexAny(s, "\t\n") < 0) {
		return s, nil
	}
	s = normalizeNewlines(s)
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case attr && (c == '\t' || c == '\n'):
			b.WriteByte(' ')
		case c == '&':
			semi := strings.IndexByte(s[i:], ';')
			if semi < 0 {
				return "", p.errorf("unterminated entity reference")
			}
			r, err := p.reference(s[i+1 : i+semi])
			if err != nil {
				return "", err
			}
			b.WriteString(r)
			i += semi
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func (p *xmlParser) reference(ref string) (string, error) {
	switch ref {
	case "lt":
		return "<", nil
	case "gt":
		return ">", nil
	case "amp":
		return "&", nil
	case "quot":
		return `"`, nil
	case "apos":
		return "'", nil
	}
	if !strings.HasPrefix(ref, "#") {
		return "", p.errorf("undefined entity &%s;", ref)
	}
	var n uint64
	var err error
	if strings.HasPrefix(ref, "#x") {
		n, err = strconv.ParseUint(ref[2:], 16, 32)
	} else {
		n, err = strconv.ParseUint(ref[1:], 10, 32)
	}
	r := rune(n)
	if err != nil || !isXMLChar(r) {
		return "", p.errorf("invalid character reference &%s;", ref)
	}
	return string(r), nil
}

func isXMLChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= utf8.MaxRune
}

func normalizeNewlines(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}
