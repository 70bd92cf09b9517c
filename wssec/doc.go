// Package wssec signs and verifies SOAP 1.1 envelopes with WS-Security 1.1
// (an XML Signature over the Body and a wsu:Timestamp, exclusive c14n), the
// one message-security profile both the agent and the server speak.
//
// Verification is deliberately strict, because every byte it accepts is
// attacker-controlled: input limits are enforced before any parsing, the
// envelope must have exactly the shape we sign (so signature-wrapping,
// exclusion and duplicate-ID tricks have nowhere to hide), only modern
// algorithms pass, the signing certificate must chain to a configured trust
// anchor (a certificate carried in the message is never trusted on its own),
// and the caller gets the Body back from the very canonical bytes whose
// digest was checked, never from a second read of the raw input.
//
// The package does no I/O: replay detection is a hook (ReplayGuard) that the
// server backs with its store, and certificates are looked up through a
// CertificateSource the caller provides.
package wssec
