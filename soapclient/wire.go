package soapclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rmsproject/rms/wssec"
)

const nsSoap11 = wssec.NSSoap11

var faultName = xml.Name{Space: nsSoap11, Local: "Fault"}

// Response is one HTTP exchange as received, before any verification.
type Response struct {
	StatusCode int
	Header     http.Header
	// Body is the whole response body (at most MaxResponseBytes).
	Body []byte
	// Fault is the parsed SOAP fault of a non-200 response, if it is one.
	Fault *Fault
	// TLS is the connection state, nil over plain HTTP.
	TLS *tls.ConnectionState
}

// post sends one envelope and reads the answer within the bounds of c.
// Errors are *TransportError or a *ResponseError for an oversized answer;
// any HTTP status is a Response.
func (c *Config) post(ctx context.Context, op, action string, envelope []byte) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(envelope))
	if err != nil {
		return nil, fmt.Errorf("soapclient %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	// Quoted, as WS-I Basic Profile R2744 requires.
	req.Header.Set("SOAPAction", `"`+action+`"`)
	start := time.Now()
	resp, err := c.HTTPClient.Do(req)
	if err != nil {
		return nil, &TransportError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	body, err := readBounded(resp, c.MaxResponseBytes)
	if err != nil {
		if errors.Is(err, ErrResponseTooLarge) {
			return nil, &ResponseError{Reason: op, Err: err}
		}
		return nil, &TransportError{Op: op, Err: err}
	}
	r := &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body, TLS: resp.TLS}
	if r.StatusCode != http.StatusOK {
		r.Fault = c.parseFault(r)
	}
	c.Logger.WithFields(map[string]any{"op": op, "status": r.StatusCode, "bytes": len(body),
		"elapsed": time.Since(start).Round(time.Millisecond)}).Debug("soap call")
	return r, nil
}

// readBounded reads at most limit bytes of the body. An announced length
// over the limit is refused before reading anything; otherwise one byte
// past the limit is read to detect an overrun, and the rest is left unread
// (closing the body then drops the connection rather than draining it).
func readBounded(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: announced %d bytes, the limit is %d", ErrResponseTooLarge, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
	}
	return body, nil
}

// httpError describes a non-200 response that is not a SOAP fault.
func httpError(r *Response) *HTTPError {
	head := r.Body
	if len(head) > maxShownText {
		head = head[:maxShownText]
	}
	if !utf8.Valid(head) {
		head = nil
	}
	return &HTTPError{
		StatusCode: r.StatusCode,
		Status:     strconv.Itoa(r.StatusCode) + " " + http.StatusText(r.StatusCode),
		RetryAfter: retryAfterHeader(r.Header),
		Body:       shown(string(head)),
	}
}

// payload is the Body's single child element of a response: its name and
// a way to decode it, from verified canonical bytes or from a plain parse.
type payload struct {
	name   xml.Name
	decode func(v any) error
}

// plainPayload parses an unsigned response (management answers, faults,
// and device answers when verification is switched off) after the limits
// check; encoding/xml never fetches or expands entities, and CheckLimits
// has already refused any DOCTYPE.
func (c *Config) plainPayload(raw []byte) (*payload, error) {
	raw, err := wssec.CheckLimits(raw, c.ResponseLimits)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(bytes.NewReader(raw))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("no SOAP Body element: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && t.Name != xml.Name{Space: nsSoap11, Local: "Envelope"}:
				return nil, fmt.Errorf("root element is {%s}%s, not a SOAP 1.1 Envelope", t.Name.Space, t.Name.Local)
			case depth == 2 && t.Name.Space == nsSoap11 && t.Name.Local == "Header":
				if err := dec.Skip(); err != nil {
					return nil, err
				}
				depth--
			case depth == 2 && t.Name != xml.Name{Space: nsSoap11, Local: "Body"}:
				return nil, fmt.Errorf("unexpected {%s}%s in the Envelope", t.Name.Space, t.Name.Local)
			case depth == 3:
				return &payload{name: t.Name, decode: func(v any) error { return dec.DecodeElement(v, &t) }}, nil
			}
		case xml.EndElement:
			return nil, errors.New("the SOAP Body is empty")
		}
	}
}

type faultXML struct {
	Code   string `xml:"faultcode"`
	String string `xml:"faultstring"`
	Detail struct {
		Items []struct {
			XMLName           xml.Name
			Code              string `xml:"code"`
			Retryable         string `xml:"retryable"`
			RetryAfterSeconds string `xml:"retryAfterSeconds"`
			Message           string `xml:"message"`
		} `xml:",any"`
	} `xml:"detail"`
}

// parseFault returns the fault a response carries, or nil if its body is
// not a SOAP 1.1 fault.
func (c *Config) parseFault(r *Response) *Fault {
	p, err := c.plainPayload(r.Body)
	if err != nil || p.name != faultName {
		return nil
	}
	f, err := decodeFault(p, r.StatusCode)
	if err != nil {
		return nil
	}
	return f
}

// decodeFault reads a Fault element. Only FaultDetail in one of our two
// namespaces is interpreted; everything else is text to show.
func decodeFault(p *payload, status int) (*Fault, error) {
	var fx faultXML
	if err := p.decode(&fx); err != nil {
		return nil, err
	}
	code := strings.TrimSpace(fx.Code)
	if i := strings.LastIndexByte(code, ':'); i >= 0 {
		code = code[i+1:]
	}
	f := &Fault{HTTPStatus: status, FaultCode: shown(code), FaultString: shown(fx.String)}
	for _, d := range fx.Detail.Items {
		if d.XMLName.Local != "FaultDetail" || (d.XMLName.Space != NSDevice && d.XMLName.Space != NSManagement) {
			continue
		}
		f.Code = shown(strings.TrimSpace(d.Code))
		f.Message = shown(d.Message)
		rt := strings.TrimSpace(d.Retryable)
		f.Retryable = rt == "true" || rt == "1"
		if n, err := strconv.Atoi(strings.TrimSpace(d.RetryAfterSeconds)); err == nil && n > 0 {
			f.RetryAfter = time.Duration(min(n, maxRetryAfterSeconds)) * time.Second
		}
		break
	}
	return f, nil
}

// decodeAnswer turns a 200 response's payload into out, or into the
// *Fault it carries, checking it is the element the operation promises.
func decodeAnswer(p *payload, want xml.Name, out any) error {
	switch p.name {
	case want:
	case faultName:
		f, err := decodeFault(p, http.StatusOK)
		if err != nil {
			return &ResponseError{Reason: "unreadable fault", Err: err}
		}
		return f
	default:
		return &ResponseError{Reason: fmt.Sprintf("payload is {%s}%s, expected {%s}%s",
			shown(p.name.Space), shown(p.name.Local), want.Space, want.Local)}
	}
	if err := p.decode(out); err != nil {
		return &ResponseError{Reason: "cannot decode " + want.Local, Err: err}
	}
	return nil
}

// marshalPayload marshals a generated request and checks that it is the
// element op names, so a request can never be sent under another
// operation's SOAPAction by mistake.
func marshalPayload(op, ns string, req any) ([]byte, error) {
	if v := reflect.ValueOf(req); !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("soapclient %s: nil request", op)
	}
	b, err := xml.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("soapclient %s: %w", op, err)
	}
	tok, err := xml.NewDecoder(bytes.NewReader(b)).Token()
	start, ok := tok.(xml.StartElement)
	if err != nil || !ok || start.Name != (xml.Name{Space: ns, Local: op}) {
		return nil, fmt.Errorf("soapclient %s: request %T is not a {%s}%s", op, req, ns, op)
	}
	return b, nil
}

// embedded returns the address of v's embedded *T field (the generated
// types' *DeviceRequest and *DeviceResponse), which is a promoted field
// and so reachable generically only by reflection.
func embedded[T any](v any) (**T, error) {
	rv := reflect.ValueOf(v)
	want := reflect.TypeFor[*T]()
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("%T is not a pointer to a generated struct", v)
	}
	f, ok := rv.Elem().Type().FieldByName(want.Elem().Name())
	if !ok || !f.Anonymous || f.Type != want {
		return nil, fmt.Errorf("%T does not embed %s", v, want)
	}
	return rv.Elem().FieldByIndex(f.Index).Addr().Interface().(**T), nil
}
