// Package soapclient is the client side of the RMS wire: it builds SOAP 1.1
// envelopes from the generated types, signs device requests (or adds a
// UsernameToken to management requests), sends them over HTTPS with mutual
// TLS, and turns what comes back into a verified, decoded response, a typed
// *Fault, or an error that says what went wrong and whether a retry can help.
//
// The agent, rmsctl, the load generator and the tests all use it, so it is
// strict where trust is concerned and plain about everything else:
//
//   - A device response is acted on only once its WS-Security signature
//     verifies against the server's CA (with a replay guard of its own), its
//     Body is the response element the operation promises, and it echoes
//     the request's messageId. A response that fails any of this is an
//     error, never a partly trusted result.
//   - Responses are read through a bound (MaxResponseBytes) and pass
//     wssec.CheckLimits before any parser sees them; a fault's text is
//     shown to people, never interpreted beyond its typed detail.
//   - Retryable tells the agent's outbox what to do with any error this
//     package returns.
//
// The DeviceService types are re-exported here (types.go) so the agent
// needs no import of generated/, which the layout rules keep to soapclient,
// the server's SOAP adapter and cmd/.
//
// The generated stubs' own soap.Client is not used: gowsdl v0.5.0 cannot
// sign, sends SOAPAction unquoted and reports HTTP 500 faults as plain HTTP
// errors.
package soapclient
