// Package metrics holds the server's Prometheus collectors, registered on
// their own registry so tests and several servers in one process do not
// collide, and served at /metrics.
package metrics
