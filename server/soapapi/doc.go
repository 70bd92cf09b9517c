// Package soapapi is the SOAP adapter: it serves DeviceService at
// /soap/device and ManagementService at /soap/manage, plus their WSDLs and
// schemas. It only translates: the device pipeline (mTLS identity, limits,
// strict signature verification, identity match, revocation, timestamp,
// replay, authorization) decides whether a request reaches a service, and
// the services in package server decide what it does. It is the only
// server package that imports the generated stubs.
package soapapi
