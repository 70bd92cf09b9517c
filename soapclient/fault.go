package soapclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Namespaces whose FaultDetail this package understands.
const (
	NSDevice     = "urn:rms:device:v1"
	NSManagement = "urn:rms:management:v1"
)

// maxShownText bounds fault and error text taken from a response: it is
// the peer's prose, fit to show and log, and nothing more.
const maxShownText = 512

// Fault is a SOAP 1.1 Fault returned by the server.
type Fault struct {
	HTTPStatus  int
	FaultCode   string // "Client" or "Server" (the local part of faultcode)
	FaultString string
	// Code is the detail's stable error code (MALFORMED, REPLAY, ...);
	// empty when the fault carried no FaultDetail.
	Code       string
	Retryable  bool
	RetryAfter time.Duration
	Message    string
	// Verified is set when the fault came in an envelope whose server
	// signature verified: only such a fault may make a device give up on
	// a message, since anything on the path can forge an unsigned one.
	Verified bool
}

func (f *Fault) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "SOAP fault (HTTP %d, %s)", f.HTTPStatus, f.FaultCode)
	if f.Code != "" {
		b.WriteString(" " + f.Code)
	}
	text := f.Message
	if text == "" {
		text = f.FaultString
	}
	if text != "" {
		b.WriteString(": " + text)
	}
	if f.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", f.RetryAfter)
	}
	return b.String()
}

// HTTPError is a response that was neither a success nor a SOAP fault: a
// balancer's error page, a wrong URL, an overloaded proxy.
type HTTPError struct {
	StatusCode int
	Status     string
	RetryAfter time.Duration // from a Retry-After header, if any
	Body       string        // the start of the body, sanitized, for people
}

func (e *HTTPError) Error() string {
	msg := "HTTP " + e.Status
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// ResponseError is a response that arrived but cannot be trusted or read:
// too large, malformed, unsigned or signed by the wrong key, a different
// payload or messageId than the request asked for.
type ResponseError struct {
	Reason string
	Err    error
}

func (e *ResponseError) Error() string {
	if e.Err != nil {
		return "response refused: " + e.Reason + ": " + e.Err.Error()
	}
	return "response refused: " + e.Reason
}

func (e *ResponseError) Unwrap() error { return e.Err }

// ErrResponseTooLarge is wrapped by the error for a response over
// MaxResponseBytes.
var ErrResponseTooLarge = errors.New("response exceeds MaxResponseBytes")

// TransportError is a failure to exchange a request and response at all:
// DNS, TCP, TLS, a timeout, a connection reset.
type TransportError struct {
	Op  string // the SOAP operation
	Err error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Op, describeTransport(e.Err), e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// describeTransport names the kind of failure, so a log line says at once
// whether to look at the clock, the CA bundle or the network.
func describeTransport(err error) string {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		recordHeader     tls.RecordHeaderError
		alert            tls.AlertError
		dnsErr           *net.DNSError
		opErr            *net.OpError
		proxyErr         *ProxyError
	)
	switch {
	case errors.As(err, &proxyErr):
		// First: a proxy's TLS or DNS failure is not the server's.
		return "proxy or PAC script failed"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &unknownAuthority):
		return "TLS: the server certificate is not issued by a trusted CA"
	case errors.As(err, &hostname):
		return "TLS: the server certificate does not match the host name"
	case errors.As(err, &invalid):
		return "TLS: the server certificate is not valid"
	case errors.As(err, &recordHeader):
		return "TLS: the server did not answer with TLS (plain HTTP port?)"
	case errors.As(err, &alert), errors.As(err, &opErr) && opErr.Op == "remote error":
		// crypto/tls reports an alert from the peer as a net.OpError
		// with Op "remote error"; AlertError is only used over QUIC.
		return "TLS: the server refused the handshake (client certificate missing or not trusted?)"
	case errors.As(err, &dnsErr):
		return "DNS lookup failed"
	case errors.As(err, &opErr):
		return "network error"
	}
	return "request failed"
}

// Retryable reports whether sending the same message again later may
// succeed, and the server's requested delay (0: use your own backoff). It
// is what the agent's outbox consults for every error this package returns:
//   - a *Fault: its detail decides; a fault without detail is retryable
//     when it is a Server fault (a balancer or a crashed replica);
//   - an *HTTPError: 5xx, 408 and 429 are retryable;
//   - a *TransportError or timeout: retryable (the server is idempotent,
//     so a message that did arrive is applied once); a cancellation by the
//     caller is not;
//   - a *ResponseError: retryable, for the same reason: the answer could
//     not be trusted, but the question may be asked again;
//   - anything else (a request that cannot be built or signed): not.
func Retryable(err error) (bool, time.Duration) {
	var (
		fault *Fault
		httpE *HTTPError
		trE   *TransportError
		resE  *ResponseError
	)
	switch {
	case err == nil:
		return false, 0
	case errors.As(err, &fault):
		if fault.Code == "" {
			return fault.FaultCode == "Server", fault.RetryAfter
		}
		return fault.Retryable, fault.RetryAfter
	case errors.As(err, &httpE):
		s := httpE.StatusCode
		return s >= 500 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests, httpE.RetryAfter
	case errors.Is(err, context.Canceled):
		return false, 0
	case errors.As(err, &trE), errors.As(err, &resE), errors.Is(err, context.DeadlineExceeded):
		return true, 0
	}
	return false, 0
}

// retryAfterHeader reads a Retry-After header given in seconds; the HTTP
// date form is rare from balancers and ignored.
func retryAfterHeader(h http.Header) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, maxRetryAfterSeconds)) * time.Second
}

// maxRetryAfterSeconds caps a server's retry hint at the schema's maximum,
// so a hostile or broken answer cannot park an agent for years.
const maxRetryAfterSeconds = 86400

// shown makes peer-supplied text safe to print: control and format
// characters become spaces (no forged log lines, terminal escapes or
// bidirectional overrides), runs of space collapse, and it is cut to
// maxShownText bytes.
func shown(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == unicode.ReplacementChar || unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+len(string(r)) > maxShownText {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
