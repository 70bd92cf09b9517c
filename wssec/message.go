package wssec

import (
	"crypto"
	"encoding/xml"
	"math/big"
	"strings"

	"github.com/beevik/etree"
)

// message is a parsed envelope whose shape passed the strict profile
// checks: everything signature verification needs, located by position and
// namespace, never by search.
type message struct {
	body, timestamp *etree.Element
	payload         xml.Name
	signedInfo      *etree.Element
	siInclusive     []string
	sigAlg          string
	sigValue        []byte
	refs            []reference
	keyDER          []byte // certificate carried in the message, or
	keyRef          KeyRef // a reference to one the receiver knows
}

type reference struct {
	uri       string
	target    *etree.Element
	inclusive []string
	hash      crypto.Hash
	digest    []byte
}

var (
	signatureAlgs = map[string]bool{
		AlgRSASHA256: true, AlgRSASHA384: true, AlgRSASHA512: true,
		AlgECDSASHA256: true, AlgECDSASHA384: true, AlgECDSASHA512: true,
	}
	digestAlgs = map[string]crypto.Hash{
		AlgSHA256: crypto.SHA256, AlgSHA384: crypto.SHA384, AlgSHA512: crypto.SHA512,
	}
)

func algHash(sigAlg string) crypto.Hash {
	switch {
	case strings.HasSuffix(sigAlg, "sha384"):
		return crypto.SHA384
	case strings.HasSuffix(sigAlg, "sha512"):
		return crypto.SHA512
	}
	return crypto.SHA256
}

// parseMessage checks the envelope against the profile: one SOAP 1.1
// Envelope with Header then Body; one Security header holding one Timestamp,
// one Signature and optional BinarySecurityTokens; IDs unique across the
// document; exactly one Signature in the whole document; a SignedInfo whose
// references are exactly the Envelope's Body and the Security header's
// Timestamp, with allowed algorithms only.
func parseMessage(doc *etree.Document) (*message, error) {
	env, header, body, err := envelopeParts(doc)
	if err != nil {
		return nil, err
	}
	ids, signatures, err := indexDocument(env)
	if err != nil {
		return nil, err
	}
	if header == nil {
		return nil, fail(CodeBadSignature, "message is not signed: no SOAP Header")
	}
	var sec *etree.Element
	for _, h := range header.ChildElements() {
		if is(h, NSWSSE, "Security") || is(h, NSWSSE11, "Security") {
			if sec != nil {
				return nil, fail(CodeMalformed, "more than one Security header")
			}
			sec = h
		}
	}
	if sec == nil {
		return nil, fail(CodeBadSignature, "message is not signed: no WS-Security header")
	}
	if sec.NamespaceURI() != NSWSSE {
		return nil, fail(CodeMalformed, "Security header is in the wrong namespace")
	}
	if signatures != 1 {
		if signatures == 0 {
			return nil, fail(CodeBadSignature, "message is not signed: no Signature")
		}
		return nil, fail(CodeBadSignature, "%d Signature elements; exactly one is allowed", signatures)
	}

	m := &message{body: body}
	var sig *etree.Element
	for _, ch := range sec.ChildElements() {
		switch {
		case is(ch, NSWSU, "Timestamp"):
			if m.timestamp != nil {
				return nil, fail(CodeMalformed, "more than one Timestamp")
			}
			m.timestamp = ch
		case is(ch, NSDSig, "Signature"):
			sig = ch
		case is(ch, NSWSSE, "BinarySecurityToken"):
		default:
			return nil, fail(CodeMalformed, "unexpected %q in the Security header", ch.Tag)
		}
	}
	if sig == nil {
		return nil, fail(CodeBadSignature, "the Signature is not in the Security header")
	}
	if m.timestamp == nil {
		return nil, fail(CodeBadSignature, "message has no Timestamp")
	}
	if err := m.parseSignature(sig, ids); err != nil {
		return nil, err
	}

	payloads := body.ChildElements()
	if len(payloads) != 1 || !hasOnlyElements(body) {
		return nil, fail(CodeMalformed, "the Body must hold exactly one element")
	}
	m.payload = xml.Name{Space: payloads[0].NamespaceURI(), Local: payloads[0].Tag}
	return m, nil
}

// indexDocument maps every ID attribute value to its element, refusing
// duplicates (of IDs, and of attributes on one element), and counts
// ds:Signature elements anywhere.
func indexDocument(root *etree.Element) (map[string]*etree.Element, int, error) {
	ids := map[string]*etree.Element{}
	signatures := 0
	var walk func(el *etree.Element) error
	walk = func(el *etree.Element) error {
		if el.Tag == "Signature" && el.NamespaceURI() == NSDSig {
			signatures++
		}
		for i := range el.Attr {
			a := &el.Attr[i]
			for j := range i {
				if b := &el.Attr[j]; b.Space == a.Space && b.Key == a.Key {
					return fail(CodeMalformed, "duplicate attribute %q", a.FullKey())
				}
			}
			// The ID attributes our references resolve: wsu:Id, and the
			// unqualified Id that XML-DSig's own elements use.
			if a.Key != "Id" || (a.Space != "" && a.NamespaceURI() != NSWSU) {
				continue
			}
			if _, dup := ids[a.Value]; dup {
				return fail(CodeMalformed, "duplicate ID %q", a.Value)
			}
			ids[a.Value] = el
		}
		for _, c := range el.ChildElements() {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return ids, signatures, walk(root)
}

func (m *message) parseSignature(sig *etree.Element, ids map[string]*etree.Element) error {
	var si, sv, ki *etree.Element
	for _, ch := range sig.ChildElements() {
		switch {
		case is(ch, NSDSig, "SignedInfo") && si == nil && sv == nil:
			si = ch
		case is(ch, NSDSig, "SignatureValue") && si != nil && sv == nil:
			sv = ch
		case is(ch, NSDSig, "KeyInfo") && sv != nil && ki == nil:
			ki = ch
		default:
			return fail(CodeBadSignature, "unexpected or repeated %q in Signature", ch.Tag)
		}
	}
	if si == nil || sv == nil || ki == nil {
		return fail(CodeBadSignature, "Signature needs SignedInfo, SignatureValue and KeyInfo")
	}
	m.signedInfo = si
	value, err := decodeBase64(sv.Text())
	if err != nil || len(value) == 0 {
		return fail(CodeBadSignature, "SignatureValue is empty or not base64")
	}
	m.sigValue = value

	children := si.ChildElements()
	if len(children) < 2 {
		return fail(CodeBadSignature, "SignedInfo is incomplete")
	}
	cm, sm := children[0], children[1]
	if !is(cm, NSDSig, "CanonicalizationMethod") || !is(sm, NSDSig, "SignatureMethod") {
		return fail(CodeBadSignature, "SignedInfo must start with CanonicalizationMethod and SignatureMethod")
	}
	if m.siInclusive, err = excC14NParams(cm); err != nil {
		return err
	}
	m.sigAlg = attrValue(sm, "", "Algorithm")
	if !signatureAlgs[m.sigAlg] {
		return fail(CodeBadSignature, "signature algorithm %q is not accepted", m.sigAlg)
	}
	if len(sm.ChildElements()) != 0 {
		return fail(CodeBadSignature, "SignatureMethod parameters are not accepted")
	}
	refs := children[2:]
	if len(refs) != maxReferences {
		return fail(CodeBadSignature, "SignedInfo has %d references; exactly %d (Body and Timestamp) are required", len(refs), maxReferences)
	}
	for _, r := range refs {
		ref, err := parseReference(r, ids)
		if err != nil {
			return err
		}
		for _, prev := range m.refs {
			if prev.target == ref.target {
				return fail(CodeBadSignature, "two references to the same element")
			}
		}
		if ref.target != m.body && ref.target != m.timestamp {
			return fail(CodeBadSignature, "reference %s does not point at the Envelope's Body or the Security header's Timestamp", ref.uri)
		}
		m.refs = append(m.refs, ref)
	}
	return m.parseKeyInfo(ki, ids)
}

// excC14NParams checks that a CanonicalizationMethod or Transform names
// exclusive c14n without comments and returns its InclusiveNamespaces.
func excC14NParams(el *etree.Element) ([]string, error) {
	alg := attrValue(el, "", "Algorithm")
	if alg != AlgExcC14N {
		return nil, fail(CodeBadSignature, "canonicalization or transform %q is not accepted (exclusive c14n without comments only)", alg)
	}
	params := el.ChildElements()
	switch {
	case len(params) == 0:
		return nil, nil
	case len(params) == 1 && is(params[0], NSExcC14N, "InclusiveNamespaces"):
		var prefixes []string
		for _, p := range strings.Fields(attrValue(params[0], "", "PrefixList")) {
			if p == "#default" {
				p = ""
			}
			prefixes = append(prefixes, p)
		}
		return prefixes, nil
	}
	return nil, fail(CodeBadSignature, "unexpected parameters to %s", alg)
}

func parseReference(r *etree.Element, ids map[string]*etree.Element) (reference, error) {
	var ref reference
	if !is(r, NSDSig, "Reference") {
		return ref, fail(CodeBadSignature, "unexpected %q in SignedInfo", r.Tag)
	}
	ref.uri = attrValue(r, "", "URI")
	if !strings.HasPrefix(ref.uri, "#") || len(ref.uri) < 2 {
		return ref, fail(CodeBadSignature, "reference URI %q is not a same-document ID reference", ref.uri)
	}
	ref.target = ids[ref.uri[1:]]
	if ref.target == nil {
		return ref, fail(CodeBadSignature, "reference %s points at nothing", ref.uri)
	}
	parts := r.ChildElements()
	if len(parts) != 3 || !is(parts[0], NSDSig, "Transforms") || !is(parts[1], NSDSig, "DigestMethod") || !is(parts[2], NSDSig, "DigestValue") {
		return ref, fail(CodeBadSignature, "reference %s must hold Transforms, DigestMethod and DigestValue", ref.uri)
	}
	transforms := parts[0].ChildElements()
	if len(transforms) != maxTransforms || !is(transforms[0], NSDSig, "Transform") {
		return ref, fail(CodeBadSignature, "reference %s must have exactly one exclusive c14n transform", ref.uri)
	}
	var err error
	if ref.inclusive, err = excC14NParams(transforms[0]); err != nil {
		return ref, err
	}
	alg := attrValue(parts[1], "", "Algorithm")
	var ok bool
	if ref.hash, ok = digestAlgs[alg]; !ok {
		return ref, fail(CodeBadSignature, "digest algorithm %q is not accepted", alg)
	}
	ref.digest, err = decodeBase64(parts[2].Text())
	if err != nil || len(ref.digest) != ref.hash.Size() {
		return ref, fail(CodeBadSignature, "DigestValue of %s is malformed", ref.uri)
	}
	return ref, nil
}

// parseKeyInfo accepts the forms WSS4J, WCF and zeep emit: a
// SecurityTokenReference holding a Reference to a BinarySecurityToken, a
// KeyIdentifier (thumbprint or SKI), or X509Data (IssuerSerial or the
// certificate); or X509Data directly in KeyInfo.
func (m *message) parseKeyInfo(ki *etree.Element, ids map[string]*etree.Element) error {
	kids := ki.ChildElements()
	if len(kids) != 1 {
		return fail(CodeBadSignature, "KeyInfo must hold exactly one key reference")
	}
	holder := kids[0]
	switch {
	case is(holder, NSDSig, "X509Data"):
		return m.parseX509Data(holder)
	case !is(holder, NSWSSE, "SecurityTokenReference"):
		return fail(CodeBadSignature, "unsupported KeyInfo content %q", holder.Tag)
	}
	refs := holder.ChildElements()
	if len(refs) != 1 {
		return fail(CodeBadSignature, "SecurityTokenReference must hold exactly one reference")
	}
	r := refs[0]
	switch {
	case is(r, NSWSSE, "Reference"):
		uri := attrValue(r, "", "URI")
		if !strings.HasPrefix(uri, "#") {
			return fail(CodeBadSignature, "token reference %q is not a same-document reference", uri)
		}
		bst := ids[uri[1:]]
		if bst == nil || !is(bst, NSWSSE, "BinarySecurityToken") || bst.Parent() == nil || !is(bst.Parent(), NSWSSE, "Security") {
			return fail(CodeBadSignature, "token reference %s does not point at a BinarySecurityToken in the Security header", uri)
		}
		if vt := attrValue(bst, "", "ValueType"); vt != ValueTypeX509v3 {
			return fail(CodeBadSignature, "BinarySecurityToken type %q is not accepted", vt)
		}
		der, err := decodeBase64(bst.Text())
		if err != nil || len(der) == 0 {
			return fail(CodeBadSignature, "BinarySecurityToken is not base64")
		}
		m.keyDER = der
	case is(r, NSWSSE, "KeyIdentifier"):
		if enc := attrValue(r, "", "EncodingType"); enc != "" && enc != EncodingBase64Binary {
			return fail(CodeBadSignature, "KeyIdentifier encoding %q is not accepted", enc)
		}
		id, err := decodeBase64(r.Text())
		if err != nil || len(id) == 0 {
			return fail(CodeBadSignature, "KeyIdentifier is not base64")
		}
		switch vt := attrValue(r, "", "ValueType"); vt {
		case ValueTypeThumbprintSHA1:
			m.keyRef.ThumbprintSHA1 = id
		case ValueTypeSKI:
			m.keyRef.SKI = id
		case ValueTypeX509v3:
			m.keyDER = id
		default:
			return fail(CodeBadSignature, "KeyIdentifier type %q is not accepted", vt)
		}
	case is(r, NSDSig, "X509Data"):
		return m.parseX509Data(r)
	default:
		return fail(CodeBadSignature, "unsupported SecurityTokenReference content %q", r.Tag)
	}
	return nil
}

func (m *message) parseX509Data(xd *etree.Element) error {
	for _, c := range xd.ChildElements() {
		switch {
		case is(c, NSDSig, "X509Certificate"):
			der, err := decodeBase64(c.Text())
			if err != nil || len(der) == 0 {
				return fail(CodeBadSignature, "X509Certificate is not base64")
			}
			m.keyDER = der
			return nil
		case is(c, NSDSig, "X509IssuerSerial"):
			name := findChild(c, NSDSig, "X509IssuerName")
			serial := findChild(c, NSDSig, "X509SerialNumber")
			if name == nil || serial == nil {
				return fail(CodeBadSignature, "X509IssuerSerial is incomplete")
			}
			n, ok := new(big.Int).SetString(strings.TrimSpace(serial.Text()), 10)
			if !ok {
				return fail(CodeBadSignature, "X509SerialNumber is not a decimal integer")
			}
			m.keyRef.Issuer, m.keyRef.Serial = strings.TrimSpace(name.Text()), n
		}
	}
	if m.keyRef.Serial == nil {
		return fail(CodeBadSignature, "X509Data names no certificate")
	}
	return nil
}
