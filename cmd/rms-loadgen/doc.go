// Command rms-loadgen drives a running rms-server with simulated devices,
// each with its own certificate issued from a dev PKI's CA.
//
//	rms-loadgen bench    N devices, pre-signed heartbeats, as fast as the
//	                     server answers (or at --rate); reports throughput
//	                     and latency percentiles
//	rms-loadgen simulate a few devices that behave like agents: drifting
//	                     metrics, occasional alarms, long-polls answered
//	                     (what `make run` starts until the agent's own
//	                     simulator exists)
package main
