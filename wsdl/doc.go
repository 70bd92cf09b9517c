// Package wsdl embeds the service contracts, so the server serves exactly
// the WSDLs in this folder at <endpoint>?wsdl.
package wsdl

import "embed"

// Files holds device.wsdl and management.wsdl.
//
//go:embed *.wsdl
var Files embed.FS
