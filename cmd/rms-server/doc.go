// Command rms-server runs the RMS server: the DeviceService and
// ManagementService SOAP endpoints over TLS, on PostgreSQL or the embedded
// SQLite store. Every flag can also be set as an RMS_* environment variable
// (--db → RMS_DB, --tls-cert → RMS_TLS_CERT) or in a config file of
// "name: value" lines given with --config; flags win over the environment,
// which wins over the file.
package main
