// Package replay is the device pipeline's replay guard backed by the store:
// a signed message's key is recorded in the shared database, so an exact
// re-send is refused after a restart and on every replica. Keys are
// recorded in batches, like heartbeats.
package replay
