package wssec

import (
	"encoding/xml"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// Password types of the WSS UsernameToken Profile 1.0.
const (
	PasswordText   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	PasswordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)

// Bounds on the credentials a UsernameToken may carry. They keep a hostile
// request from making the server hash megabytes (bcrypt reads only 72 bytes
// anyway); real user names and passwords are far shorter.
const (
	MaxUsernameBytes = 256
	MaxPasswordBytes = 1024
)

// UsernameRequest is what a UsernameToken request carries. The password is
// only claimed, not checked: the caller compares it with the stored hash.
type UsernameRequest struct {
	Username string
	Password string
	// Payload is the name of the Body's single child element, the
	// operation to dispatch on.
	Payload xml.Name
	// Body is the exclusive canonical form of the soap:Body element, the
	// same form Result.Body has, so one decoder serves both services.
	Body []byte
}

// DecodePayload unmarshals the Body's child element into v.
func (r *UsernameRequest) DecodePayload(v any) error {
	return (&Result{Body: r.Body}).DecodePayload(v)
}

// UsernameEnvelope wraps body (the one element that goes inside soap:Body,
// e.g. a marshalled management request) in a SOAP 1.1 envelope whose
// Security header carries a PasswordText UsernameToken. PasswordText is the
// only type the server accepts, since it stores passwords hashed; the
// envelope must therefore travel over TLS.
func UsernameEnvelope(body []byte, username, password string) ([]byte, error) {
	switch {
	case username == "":
		return nil, fail(CodeMalformed, "user name is empty")
	case len(username) > MaxUsernameBytes || len(password) > MaxPasswordBytes:
		return nil, fail(CodeTooLarge, "user name or password is too long")
	case !xmlText(username) || !xmlText(password):
		return nil, fail(CodeMalformed, "user name and password must be UTF-8 text without control characters")
	}
	var b strings.Builder
	b.Grow(len(body) + 512)
	b.WriteString(`<soap:Envelope xmlns:soap="` + NSSoap11 + `"><soap:Header>`)
	b.WriteString(`<wsse:Security xmlns:wsse="` + NSWSSE + `" soap:mustUnderstand="1"><wsse:UsernameToken><wsse:Username>`)
	escapeText(&b, username)
	b.WriteString(`</wsse:Username><wsse:Password Type="` + PasswordText + `">`)
	escapeText(&b, password)
	b.WriteString(`</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body>`)
	b.Write(body)
	b.WriteString(`</soap:Body></soap:Envelope>`)
	return []byte(b.String()), nil
}

// xmlText reports whether s is valid UTF-8 made only of characters XML 1.0
// can carry; a password with a NUL or a lone surrogate could not survive
// the trip, and silently altering it would lock the user out.
func xmlText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !isXMLChar(r) {
			return false
		}
	}
	return true
}

// escapeText escapes s for element content; unlike xml.EscapeText it keeps
// tabs and line ends literal, which XML preserves in element content.
func escapeText(b *strings.Builder, s string) {
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\r':
			// A literal CR would be normalised to LF by the receiving parser.
			b.WriteString("&#xD;")
		default:
			b.WriteRune(r)
		}
	}
}

// ReadUsernameToken checks a ManagementService request and returns the
// credentials and payload it carries. Like Verify it applies limits before
// parsing and parses with the strict parser; it then requires a SOAP 1.1
// Envelope with exactly one Body holding exactly one element and exactly
// one Security header holding exactly one UsernameToken.
//
// It accepts what zeep, WSS4J/SoapUI and WCF send: wsu:Id attributes, a
// Nonce and Created in the token even with PasswordText (ignored: they only
// matter to PasswordDigest), a wsu:Timestamp beside the token (ignored: a
// password is not a signature, so a Timestamp proves nothing here), a
// missing Type (PasswordText by the profile's default), and other header
// blocks that do not demand to be understood.
//
// Every failure is an *Error. A request without credentials (no Header, no
// Security header, no UsernameToken) and one whose password type is not
// PasswordText fail with CodeBadSignature, the code for "this message does
// not authenticate its sender", so the server maps them to the fault an
// unsigned device message gets; a wrong password is the server's finding,
// not ours. Shape errors are CodeMalformed, oversize input CodeTooLarge.
func ReadUsernameToken(raw []byte, limits Limits) (*UsernameRequest, error) {
	limits = limits.withDefaults()
	raw, err := CheckLimits(raw, limits)
	if err != nil {
		return nil, err
	}
	doc, err := parseXML(raw, limits.MaxDepth)
	if err != nil {
		return nil, err
	}
	env, header, body, err := envelopeParts(doc)
	if err != nil {
		return nil, err
	}
	if _, _, err := indexDocument(env); err != nil {
		return nil, err
	}
	payloads := body.ChildElements()
	if len(payloads) != 1 || !hasOnlyElements(body) {
		return nil, fail(CodeMalformed, "the Body must hold exactly one element")
	}
	if header == nil {
		return nil, fail(CodeBadSignature, "request is not authenticated: no SOAP Header")
	}
	sec, err := securityHeader(header)
	if err != nil {
		return nil, err
	}
	req, err := readUsernameToken(sec)
	if err != nil {
		return nil, err
	}
	req.Payload = xml.Name{Space: payloads[0].NamespaceURI(), Local: payloads[0].Tag}
	if req.Body, err = canonicalize(nil, body, nil); err != nil {
		return nil, failWrap(CodeMalformed, err, "cannot canonicalize the Body")
	}
	return req, nil
}

// securityHeader returns the one wsse:Security header block, refusing any
// other block that the sender marked mustUnderstand, as SOAP 1.1 requires
// of a receiver that does not process it.
func securityHeader(header *etree.Element) (*etree.Element, error) {
	if !hasOnlyElements(header) {
		return nil, fail(CodeMalformed, "text directly inside the Header")
	}
	var sec *etree.Element
	for _, h := range header.ChildElements() {
		switch {
		case is(h, NSWSSE, "Security") || is(h, NSWSSE11, "Security"):
			if sec != nil {
				return nil, fail(CodeMalformed, "more than one Security header")
			}
			if h.NamespaceURI() != NSWSSE {
				return nil, fail(CodeMalformed, "Security header is in the wrong namespace")
			}
			sec = h
		case mustUnderstand(h):
			return nil, fail(CodeMalformed, "header %q must be understood but is not supported", h.Tag)
		}
	}
	if sec == nil {
		return nil, fail(CodeBadSignature, "request is not authenticated: no WS-Security header")
	}
	return sec, nil
}

func mustUnderstand(h *etree.Element) bool {
	v := strings.TrimSpace(attrValue(h, NSSoap11, "mustUnderstand"))
	return v == "1" || v == "true"
}

// readUsernameToken takes the credentials from the Security header: one
// UsernameToken, optionally a Timestamp, nothing else (a Signature we would
// not check must not look as if it had been).
func readUsernameToken(sec *etree.Element) (*UsernameRequest, error) {
	if !hasOnlyElements(sec) {
		return nil, fail(CodeMalformed, "text directly inside the Security header")
	}
	var token *etree.Element
	timestamps := 0
	for _, ch := range sec.ChildElements() {
		switch {
		case is(ch, NSWSSE, "UsernameToken"):
			if token != nil {
				return nil, fail(CodeMalformed, "more than one UsernameToken")
			}
			token = ch
		case is(ch, NSWSU, "Timestamp"):
			timestamps++
			if timestamps > 1 {
				return nil, fail(CodeMalformed, "more than one Timestamp")
			}
		default:
			return nil, fail(CodeMalformed, "unexpected %q in the Security header (only a UsernameToken is accepted here)", ch.Tag)
		}
	}
	if token == nil {
		return nil, fail(CodeBadSignature, "request is not authenticated: no UsernameToken")
	}
	if !hasOnlyElements(token) {
		return nil, fail(CodeMalformed, "text directly inside the UsernameToken")
	}
	var user, pass, nonce, created *etree.Element
	for _, ch := range token.ChildElements() {
		var slot **etree.Element
		switch {
		case is(ch, NSWSSE, "Username"):
			slot = &user
		case is(ch, NSWSSE, "Password"):
			slot = &pass
		case is(ch, NSWSSE, "Nonce"):
			slot = &nonce
		case is(ch, NSWSU, "Created"):
			slot = &created
		default:
			return nil, fail(CodeMalformed, "unexpected %q in the UsernameToken", ch.Tag)
		}
		if *slot != nil {
			return nil, fail(CodeMalformed, "repeated %q in the UsernameToken", ch.Tag)
		}
		if len(ch.ChildElements()) != 0 {
			return nil, fail(CodeMalformed, "%q in the UsernameToken must hold text only", ch.Tag)
		}
		*slot = ch
	}
	if user == nil || pass == nil {
		return nil, fail(CodeBadSignature, "UsernameToken needs a Username and a Password")
	}
	switch typ := strings.TrimSpace(attrValue(pass, "", "Type")); typ {
	case "", PasswordText:
	case PasswordDigest:
		return nil, fail(CodeBadSignature, "PasswordDigest is not accepted (passwords are stored hashed); send PasswordText over TLS")
	default:
		return nil, fail(CodeBadSignature, "password type %q is not accepted; send PasswordText over TLS", typ)
	}
	req := &UsernameRequest{
		// Pretty-printing senders may indent the name; no user name has
		// surrounding space. A password's spaces, though, are its own.
		Username: strings.TrimSpace(user.Text()),
		Password: pass.Text(),
	}
	switch {
	case req.Username == "":
		return nil, fail(CodeBadSignature, "UsernameToken has an empty Username")
	case len(req.Username) > MaxUsernameBytes || len(req.Password) > MaxPasswordBytes:
		return nil, fail(CodeTooLarge, "user name or password is too long")
	}
	return req, nil
}
