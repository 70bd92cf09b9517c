package soapapi

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"

	"github.com/rmsproject/rms/server"
)

const (
	nsSOAP       = "http://schemas.xmlsoap.org/soap/envelope/"
	nsDevice     = "urn:rms:device:v1"
	nsManagement = "urn:rms:management:v1"
	contentType  = "text/xml; charset=utf-8"
)

// envelope wraps a response payload in a SOAP 1.1 envelope.
func envelope(payload any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<soap:Envelope xmlns:soap="` + nsSOAP + `"><soap:Body>`)
	if err := xml.NewEncoder(&b).Encode(payload); err != nil {
		return nil, fmt.Errorf("soapapi.envelope: %w", err)
	}
	b.WriteString(`</soap:Body></soap:Envelope>`)
	return b.Bytes(), nil
}

// faultBody is a SOAP 1.1 Fault whose detail is the namespace's FaultDetail.
// It is written by hand rather than through the generated FaultDetail types
// so both services share one writer.
type faultBody struct {
	XMLName xml.Name `xml:"soap:Fault"`
	Code    string   `xml:"faultcode"`
	String  string   `xml:"faultstring"`
	Detail  struct {
		Inner faultDetail
	} `xml:"detail"`
}

type faultDetail struct {
	XMLName    xml.Name
	Code       string `xml:"code"`
	Retryable  bool   `xml:"retryable"`
	RetryAfter int    `xml:"retryAfterSeconds,omitempty"`
	Message    string `xml:"message"`
}

// clientCodes are the faults a retry of the same request cannot fix.
func faultCode(code server.Code) string {
	if server.Retryable(code) {
		return "soap:Server"
	}
	return "soap:Client"
}

// RetryAfterUnavailable is the hint sent with UNAVAILABLE faults.
const RetryAfterUnavailable = 5

func faultEnvelope(ns string, err error) []byte {
	code := server.CodeOf(err)
	f := faultBody{Code: faultCode(code), String: server.MessageOf(err)}
	f.Detail.Inner = faultDetail{
		XMLName:   xml.Name{Space: ns, Local: "FaultDetail"},
		Code:      string(code),
		Retryable: server.Retryable(code),
		Message:   server.MessageOf(err),
	}
	if code == server.CodeUnavailable {
		f.Detail.Inner.RetryAfter = RetryAfterUnavailable
	}
	env, mErr := envelope(f)
	if mErr != nil {
		// Unreachable with the fixed shape above; keep a valid answer anyway.
		return []byte(`<soap:Envelope xmlns:soap="` + nsSOAP + `"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>internal error</faultstring></soap:Fault></soap:Body></soap:Envelope>`)
	}
	return env
}

// faultStatus is 413 for an oversized body and 500 for every other fault,
// as SOAP 1.1 over HTTP requires.
func faultStatus(code server.Code) int {
	if code == server.CodeTooLarge {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

func writeXML(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
