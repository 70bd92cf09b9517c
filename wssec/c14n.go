package wssec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/beevik/etree"
)

// Exclusive XML Canonicalization 1.0 (without comments) of an element
// subtree, written straight from the parsed tree into a byte slice: no copy
// of the tree, no re-serialisation and re-parse. The namespace context of
// the element's ancestors is taken from the tree, as the specification's
// node-set semantics require.
//
// goxmldsig's canonicalizer is the reference this one is checked against in
// the tests; ours exists because it works on the document in place and
// allocates far less, which is most of what verification costs.

type nsBinding struct{ prefix, uri string }

type canonicalizer struct {
	out       []byte
	scope     []nsBinding // bindings in scope in the input document
	rendered  []nsBinding // bindings already emitted by an output ancestor
	inclusive []string    // InclusiveNamespaces PrefixList ("" = #default)
}

// canonicalize appends the exclusive canonical form of el to dst.
func canonicalize(dst []byte, el *etree.Element, inclusive []string) ([]byte, error) {
	c := canonicalizer{out: dst, inclusive: inclusive}
	var chain []*etree.Element
	for p := el.Parent(); p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c.declare(chain[i])
	}
	if err := c.element(el); err != nil {
		return dst, err
	}
	return c.out, nil
}

// declare pushes the namespace declarations carried by el onto the scope.
func (c *canonicalizer) declare(el *etree.Element) {
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			c.scope = append(c.scope, nsBinding{a.Key, a.Value})
		case a.Space == "" && a.Key == "xmlns":
			c.scope = append(c.scope, nsBinding{"", a.Value})
		}
	}
}

func lookup(bindings []nsBinding, prefix string) (string, bool) {
	for i := len(bindings) - 1; i >= 0; i-- {
		if bindings[i].prefix == prefix {
			return bindings[i].uri, true
		}
	}
	return "", false
}

func isNamespaceDecl(a *etree.Attr) bool {
	return a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")
}

type canonicalAttr struct {
	uri  string
	attr *etree.Attr
}

func (c *canonicalizer) namespaceOf(prefix string) (string, error) {
	switch prefix {
	case "":
		return "", nil
	case "xml":
		return nsXML, nil
	}
	uri, ok := lookup(c.scope, prefix)
	if !ok {
		return "", fmt.Errorf("undeclared namespace prefix %q", prefix)
	}
	return uri, nil
}

func (c *canonicalizer) element(el *etree.Element) error {
	scopeMark, renderedMark := len(c.scope), len(c.rendered)
	c.declare(el)

	// Namespaces visibly utilised here, plus the inclusive prefixes.
	var need [8]nsBinding
	decls := need[:0]
	addNeed := func(prefix string, mustExist bool) error {
		if prefix == "xml" {
			return nil
		}
		uri, ok := lookup(c.scope, prefix)
		if !ok {
			if prefix != "" && mustExist {
				return fmt.Errorf("undeclared namespace prefix %q", prefix)
			}
			if prefix != "" {
				return nil
			}
		}
		prev, had := lookup(c.rendered, prefix)
		if had && prev == uri || !had && prefix == "" && uri == "" {
			return nil
		}
		for _, d := range decls {
			if d.prefix == prefix {
				return nil
			}
		}
		decls = append(decls, nsBinding{prefix, uri})
		return nil
	}
	if err := addNeed(el.Space, true); err != nil {
		return err
	}
	var attrBuf [8]canonicalAttr
	attrs := attrBuf[:0]
	for i := range el.Attr {
		a := &el.Attr[i]
		if isNamespaceDecl(a) {
			continue
		}
		if a.Space != "" {
			if err := addNeed(a.Space, true); err != nil {
				return err
			}
		}
		uri, err := c.namespaceOf(a.Space)
		if err != nil {
			return err
		}
		attrs = append(attrs, canonicalAttr{uri, a})
	}
	for _, p := range c.inclusive {
		if err := addNeed(p, false); err != nil {
			return err
		}
	}
	slices.SortFunc(decls, func(a, b nsBinding) int { return strings.Compare(a.prefix, b.prefix) })
	slices.SortFunc(attrs, func(a, b canonicalAttr) int {
		if a.uri != b.uri {
			return strings.Compare(a.uri, b.uri)
		}
		return strings.Compare(a.attr.Key, b.attr.Key)
	})

	c.out = append(c.out, '<')
	c.out = appendQName(c.out, el.Space, el.Tag)
	for _, d := range decls {
		if d.prefix == "" {
			c.out = append(c.out, ` xmlns="`...)
		} else {
			c.out = append(c.out, " xmlns:"...)
			c.out = append(c.out, d.prefix...)
			c.out = append(c.out, `="`...)
		}
		c.out = appendEscapedAttr(c.out, d.uri)
		c.out = append(c.out, '"')
		c.rendered = append(c.rendered, d)
	}
	for _, a := range attrs {
		c.out = append(c.out, ' ')
		c.out = appendQName(c.out, a.attr.Space, a.attr.Key)
		c.out = append(c.out, `="`...)
		c.out = appendEscapedAttr(c.out, a.attr.Value)
		c.out = append(c.out, '"')
	}
	c.out = append(c.out, '>')

	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if err := c.element(t); err != nil {
				return err
			}
		case *etree.CharData:
			c.out = appendEscapedText(c.out, t.Data)
		case *etree.ProcInst:
			c.out = append(c.out, "<?"...)
			c.out = append(c.out, t.Target...)
			if t.Inst != "" {
				c.out = append(c.out, ' ')
				c.out = append(c.out, t.Inst...)
			}
			c.out = append(c.out, "?>"...)
		case *etree.Comment, *etree.Directive:
			// Comments are not part of the without-comments form;
			// directives cannot occur inside an element.
		}
	}

	c.out = append(c.out, "</"...)
	c.out = appendQName(c.out, el.Space, el.Tag)
	c.out = append(c.out, '>')
	c.scope = c.scope[:scopeMark]
	c.rendered = c.rendered[:renderedMark]
	return nil
}

func appendQName(b []byte, prefix, local string) []byte {
	if prefix != "" {
		b = append(b, prefix...)
		b = append(b, ':')
	}
	return append(b, local...)
}

// Replacement tables of C14N 1.0 section 2.3: text escapes &, <, > and CR;
// attribute values escape &, <, " and the white-space characters.
var (
	textEscapes = [256]string{'&': "&amp;", '<': "&lt;", '>': "&gt;", '\r': "&#xD;"}
	attrEscapes = [256]string{'&': "&amp;", '<': "&lt;", '"': "&quot;", '\t': "&#x9;", '\n': "&#xA;", '\r': "&#xD;"}
)

func appendEscapedText(b []byte, s string) []byte { return appendEscaped(b, s, &textEscapes) }

func appendEscapedAttr(b []byte, s string) []byte { return appendEscaped(b, s, &attrEscapes) }

func appendEscaped(b []byte, s string, table *[256]string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		if rep := table[s[i]]; rep != "" {
			b = append(b, s[last:i]...)
			b = append(b, rep...)
			last = i + 1
		}
	}
	return append(b, s[last:]...)
}
