// Command rms-loadgen drives a running rms-server with simulated devices,
// each with its own certificate issued from a dev PKI's CA.
//
//	rms-loadgen bench    N devices, pre-signed heartbeats, as fast as the
//	                     server answers (or at --rate); reports throughput
//	                     and latency percentiles
//
// Agent-like simulated devices are `rms-agent simulate`.
package main
