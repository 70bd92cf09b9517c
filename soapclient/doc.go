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
// # Proxies
//
// Customer networks often let traffic out only through a proxy, so
// Config.ProxyConfig (from a config-file string via ParseProxy) chooses the
// route: "direct" (the default; HTTPS_PROXY is ignored unless asked for),
// "env" (HTTPS_PROXY/NO_PROXY), "http://user:pass@proxy:3128" or
// "https://…" (a CONNECT tunnel; the credentials go on the CONNECT request
// only), "socks5://user:pass@proxy:1080", or "pac:FILE-OR-URL". On every
// route the server's TLS runs end to end inside the tunnel, unchanged:
// pinned CA, client certificate, keep-alive, session resumption. An
// https:// proxy is verified with ProxyConfig.RootCAs (or the system
// roots), never with the server's pinned CA.
//
// A PAC script runs in goja, a JavaScript engine in pure Go, with the
// standard helpers (dnsDomainIs, shExpMatch, isInNet, dnsResolve,
// myIpAddress, weekdayRange, dateRange, timeRange, …; DNS lookups bounded
// by the run's deadline). Each run is limited to PACTimeout (1 s) and the
// script to 1 MiB; an answer is cached per host for PACCacheTTL (5 min);
// the script is read again every PACRefresh (1 h), keeping the old one if
// that fails. A PAC file is read when the client is built, so a broken one
// stops the program at start; a PAC URL is fetched directly on the first
// request. Of an answer like "PROXY a:3128; SOCKS b:1080; DIRECT" the first
// entry this client understands is used (SOCKS means SOCKS5; SOCKS4 and
// unknown types are skipped); the next is not tried when that proxy
// fails, since the request fails retryably and the caller retries. Proxy
// and PAC failures are *ProxyError inside a *TransportError, retryable.
//
// The generated stubs' own soap.Client is not used: gowsdl v0.5.0 cannot
// sign, sends SOAPAction unquoted and reports HTTP 500 faults as plain HTTP
// errors.
package soapclient
