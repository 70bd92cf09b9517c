package wssec

import (
	"bytes"
	"unicode/utf8"
)

// Limits bound what Verify will even look at. They are checked by a single
// linear scan of the raw bytes before any parser runs, so a hostile message
// costs at most one pass over at most MaxBytes.
type Limits struct {
	// MaxBytes is the largest envelope accepted (default 64 KiB, ample for
	// a status message; bulk data travels in chunks).
	MaxBytes int
	// MaxDepth is the deepest element nesting accepted (default 24; our
	// deepest path, inside KeyInfo, is 9 levels).
	MaxDepth int
	// MaxElements is the most elements accepted in one envelope (default 4096).
	MaxElements int
	// MaxAttributes is the most attributes (namespace declarations
	// included) on one element (default 32).
	MaxAttributes int
}

// Default limits.
const (
	DefaultMaxBytes      = 64 << 10
	DefaultMaxDepth      = 24
	DefaultMaxElements   = 4096
	DefaultMaxAttributes = 32
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultMaxElements
	}
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = DefaultMaxAttributes
	}
	return l
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// CheckLimits applies l to raw without parsing it and returns the bytes to
// parse (raw without a UTF-8 byte-order mark). It refuses: anything over
// MaxBytes; byte-order marks and declarations of encodings other than
// UTF-8; invalid UTF-8 and NUL bytes; any DOCTYPE or other markup
// declaration (so no entity can be declared, expanded or fetched); comments,
// processing instructions inside the root element (a comment inside a signed
// value is invisible to c14n and can truncate what a naive reader sees);
// nesting past MaxDepth; more than MaxElements elements or MaxAttributes
// attributes on one element.
func CheckLimits(raw []byte, l Limits) ([]byte, error) {
	l = l.withDefaults()
	if len(raw) > l.MaxBytes {
		return nil, fail(CodeTooLarge, "envelope is %d bytes, the limit is %d", len(raw), l.MaxBytes)
	}
	if len(raw) >= 2 && (raw[0] == 0xFE && raw[1] == 0xFF || raw[0] == 0xFF && raw[1] == 0xFE) {
		return nil, fail(CodeMalformed, "UTF-16 is not accepted; send UTF-8")
	}
	raw = bytes.TrimPrefix(raw, utf8BOM)
	if bytes.IndexByte(raw, 0) >= 0 {
		return nil, fail(CodeMalformed, "NUL byte in input (UTF-16 or binary data?); send UTF-8 XML")
	}
	if !utf8.Valid(raw) {
		return nil, fail(CodeMalformed, "input is not valid UTF-8")
	}
	if err := checkDeclaration(raw); err != nil {
		return nil, err
	}
	return raw, scanMarkup(raw, l)
}

// checkDeclaration refuses an XML declaration naming an encoding other than UTF-8.
func checkDeclaration(raw []byte) error {
	if !bytes.HasPrefix(raw, []byte("<?xml")) || len(raw) < 6 || !isSpace(raw[5]) {
		return nil
	}
	end := bytes.Index(raw, []byte("?>"))
	if end < 0 {
		return fail(CodeMalformed, "unterminated XML declaration")
	}
	decl := raw[:end]
	i := bytes.Index(decl, []byte("encoding"))
	if i < 0 {
		return nil
	}
	rest := bytes.TrimLeft(decl[i+len("encoding"):], " \t\r\n")
	if len(rest) == 0 || rest[0] != '=' {
		return fail(CodeMalformed, "malformed XML declaration")
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) < 2 || (rest[0] != '"' && rest[0] != '\'') {
		return fail(CodeMalformed, "malformed XML declaration")
	}
	q := rest[0]
	j := bytes.IndexByte(rest[1:], q)
	if j < 0 {
		return fail(CodeMalformed, "malformed XML declaration")
	}
	enc := rest[1 : 1+j]
	if !bytes.EqualFold(enc, []byte("UTF-8")) && !bytes.EqualFold(enc, []byte("UTF8")) {
		return fail(CodeMalformed, "encoding %q is not accepted; send UTF-8", enc)
	}
	return nil
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// scanMarkup walks the markup of raw once, counting depth, elements and
// attributes, and refusing declarations, and comments or processing
// instructions inside the root element.
func scanMarkup(raw []byte, l Limits) error {
	depth, elements, roots := 0, 0, 0
	for i := 0; i < len(raw); {
		lt := bytes.IndexByte(raw[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		rest := raw[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			if depth > 0 {
				return fail(CodeMalformed, "comment inside the envelope")
			}
			end := bytes.Index(rest[4:], []byte("-->"))
			if end < 0 {
				return fail(CodeMalformed, "unterminated comment")
			}
			i += 4 + end + 3
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest, []byte("]]>"))
			if end < 0 {
				return fail(CodeMalformed, "unterminated CDATA section")
			}
			i += end + 3
		case bytes.HasPrefix(rest, []byte("<!")):
			return fail(CodeMalformed, "DOCTYPE and markup declarations are not accepted")
		case bytes.HasPrefix(rest, []byte("<?")):
			if i > 0 && len(rest) > 5 && bytes.EqualFold(rest[2:5], []byte("xml")) && (isSpace(rest[5]) || rest[5] == '?') {
				return fail(CodeMalformed, "XML declaration not at the start of the document")
			}
			if depth > 0 {
				return fail(CodeMalformed, "processing instruction inside the envelope")
			}
			end := bytes.Index(rest, []byte("?>"))
			if end < 0 {
				return fail(CodeMalformed, "unterminated processing instruction")
			}
			i += end + 2
		case bytes.HasPrefix(rest, []byte("</")):
			end := bytes.IndexByte(rest, '>')
			if end < 0 {
				return fail(CodeMalformed, "unterminated end tag")
			}
			depth--
			if depth < 0 {
				return fail(CodeMalformed, "unbalanced end tag")
			}
			i += end + 1
		default:
			n, attrs, selfClosing, err := scanStartTag(rest)
			if err != nil {
				return err
			}
			if depth == 0 {
				roots++
				if roots > 1 {
					return fail(CodeMalformed, "more than one root element")
				}
			}
			elements++
			if elements > l.MaxElements {
				return fail(CodeTooLarge, "more than %d elements", l.MaxElements)
			}
			if attrs > l.MaxAttributes {
				return fail(CodeTooLarge, "element with more than %d attributes", l.MaxAttributes)
			}
			if !selfClosing {
				depth++
				if depth > l.MaxDepth {
					return fail(CodeMalformed, "elements nested deeper than %d", l.MaxDepth)
				}
			}
			i += n
		}
	}
	if depth != 0 || roots == 0 {
		return fail(CodeMalformed, "document is not a single complete element")
	}
	return nil
}

// scanStartTag measures the start tag at the head of b, honouring quoted
// attribute values (which may contain '>').
func scanStartTag(b []byte) (n, attrs int, selfClosing bool, err error) {
	var quote byte
	for i := 1; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			attrs++
		case c == '>':
			return i + 1, attrs, b[i-1] == '/', nil
		}
	}
	return 0, 0, false, fail(CodeMalformed, "unterminated start tag")
}
