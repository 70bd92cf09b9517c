// Package xsd embeds the schemas the WSDLs import, so the server serves
// exactly the files in this folder at <endpoint>?xsd=<name>.
package xsd

import "embed"

// Files holds device.xsd and management.xsd.
//
//go:embed *.xsd
var Files embed.FS
