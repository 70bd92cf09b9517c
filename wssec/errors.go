package wssec

import (
	"errors"
	"fmt"
)

// Code is a stable error code; it is what a SOAP fault's detail carries, so
// clients can act on it without parsing prose.
type Code string

// The codes this package produces. Servers add their own (UNKNOWN_DEVICE,
// FORBIDDEN, UNAVAILABLE, INTERNAL) from the same vocabulary.
const (
	CodeMalformed    Code = "MALFORMED"
	CodeTooLarge     Code = "TOO_LARGE"
	CodeBadSignature Code = "BAD_SIGNATURE"
	CodeExpired      Code = "EXPIRED"
	CodeReplay       Code = "REPLAY"
	CodeUnavailable  Code = "UNAVAILABLE"
	CodeInternal     Code = "INTERNAL"
)

// Error is a verification or signing failure with its code and a reason fit
// to show the peer: it names what was wrong with the message, never an
// internal detail of ours.
type Error struct {
	Code   Code
	Reason string
	Err    error // the underlying cause, for logs; not for the wire
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Reason, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

func fail(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func failWrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the code carried by err, or INTERNAL for an error that has
// none (and "" for nil).
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
