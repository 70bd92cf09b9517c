package server

import (
	"errors"
	"fmt"
)

// Code is a stable error code. It is the vocabulary of the fault detail on
// the wire (wsdl FaultCode), so the SOAP adapter maps it one to one.
type Code string

// Error codes. They match wssec's codes where both exist.
const (
	CodeMalformed     Code = "MALFORMED"      // the request is invalid; do not retry it unchanged
	CodeTooLarge      Code = "TOO_LARGE"      // a size or count limit was passed
	CodeBadSignature  Code = "BAD_SIGNATURE"  // signature or identity checks failed
	CodeExpired       Code = "EXPIRED"        // timestamp outside the window
	CodeReplay        Code = "REPLAY"         // these exact signed bytes were seen before
	CodeUnknownDevice Code = "UNKNOWN_DEVICE" // no such device, or it may not register itself
	CodeForbidden     Code = "FORBIDDEN"      // authenticated but not allowed
	CodeNotFound      Code = "NOT_FOUND"      // the named object does not exist
	CodeConflict      Code = "CONFLICT"       // the object is in a state that does not allow this
	CodeUnavailable   Code = "UNAVAILABLE"    // try again later (store down, overloaded, shutting down)
	CodeInternal      Code = "INTERNAL"       // a bug; details are logged, never sent
)

// Error is a domain error: a code for machines, a message fit to show the
// caller (it never names SQL, paths or stack frames), and the cause for logs.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted message and no cause.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error that keeps err as its cause. A nil err gives nil.
func Wrap(code Code, message string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Message: message, Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, CodeInternal
// for any other non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// MessageOf returns the caller-safe message of err: the *Error's message,
// or a generic sentence for anything else, so internals never leak.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	switch CodeOf(err) {
	case "":
		return ""
	case CodeUnavailable:
		return "the service is temporarily unavailable"
	default:
		return "internal error"
	}
}

// Retryable reports whether sending the same request again later can help.
func Retryable(code Code) bool {
	return code == CodeUnavailable || code == CodeInternal
}
