// Package generated holds the Go SOAP stubs for the RMS contracts: gowsdl
// v0.5.0 output, one package per WSDL (device for wsdl/device.wsdl,
// management for wsdl/management.wsdl).
//
// Nothing under this folder's sub-packages is edited by hand. Change the WSDL
// or XSD and run `make generate` (scripts/generate.sh), which rewrites the
// files byte for byte. The tests in this package prove that every request and
// response the stubs produce validates against the XSD, that zero values
// survive a round trip, and that the fixtures and third-party tools (xmllint,
// zeep, gSOAP) agree with the contracts.
//
// Things to know when using the stubs (gowsdl v0.5.0 behaviour):
//   - Every field is tagged omitempty, so false, 0, "" and empty lists are
//     never written; the schemas make those elements optional and define
//     absence as the zero value.
//   - Enumerations and nested structures are pointer fields (*HealthState,
//     *Metric); the common leading elements of device messages come from the
//     embedded *DeviceRequest / *DeviceResponse, which must be non-nil.
//   - A zero soap.XSDDateTime is not written at all; a required dateTime must
//     be set.
//   - base64Binary fields ([]byte) hold the base64 text itself: encoding/xml
//     writes a []byte verbatim, so callers encode before and decode after.
//   - The generated clients send SOAPAction unquoted; the server accepts it.
package generated
