package wssec

import "github.com/beevik/etree"

// Test-only access to internals.

// Canonicalize exposes the exclusive canonicalizer to tests.
func Canonicalize(el *etree.Element, inclusive []string) ([]byte, error) {
	return canonicalize(nil, el, inclusive)
}

// ParseXML exposes the envelope parser to tests.
func ParseXML(raw []byte) (*etree.Document, error) { return parseXML(raw, DefaultMaxDepth) }
