// Package server holds the RMS server's domain: the types every part of the
// server speaks (devices, heartbeats, alarms, instructions, uploads, audit
// records, users), the error codes they fail with, and the service interfaces
// the SOAP adapter calls.
//
// Nothing here does I/O. Implementations live in sub-packages named for what
// they adapt: sqlstore (PostgreSQL and SQLite), ingest (batched heartbeat
// writes), uploads (chunk files on disk), soapapi (the two SOAP endpoints).
// Only soapapi imports the generated stubs; everything else speaks these
// types, so a second front end (the console) reuses the same services.
package server
