// Command rms-agent runs beside (or inside) a device and reports to the RMS
// server through outbound HTTPS only.
//
//	rms-agent --config /etc/rms-agent/agent.yaml     run as configured
//	rms-agent --server URL --ca CA --cert C --key K --server-cert S \
//	          --state-dir DIR --adapter simulator      one device, no config file
//	rms-agent simulate --devices N --server URL --pki DIR
//	                                                  N simulated devices in one process
//	rms-agent audit show|verify [--state-dir DIR]      the local audit trail
//
// Under systemd (Type=notify) it reports readiness and pings the watchdog;
// SIGTERM stops it after the outbox and audit files are flushed.
package main
