package executors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/rmsproject/rms/agent/statefile"
)

// Settings are per-device values set by instructions, kept in one JSON
// file written atomically (statefile).
type Settings struct {
	path string
	mu   sync.Mutex
	data map[string]map[string]string
}

// OpenSettings reads path, or starts empty when it does not exist.
func OpenSettings(path string) (*Settings, error) {
	s := &Settings{path: path, data: map[string]map[string]string{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("executors.OpenSettings: %w", err)
	}
	if err := json.Unmarshal(b, &s.data); err != nil {
		return nil, fmt.Errorf("executors.OpenSettings: %s is corrupt: %w", path, err)
	}
	return s, nil
}

// Get returns a device's setting.
func (s *Settings) Get(deviceID, key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[deviceID][key]
	return v, ok
}

// Set stores one setting durably.
func (s *Settings) Set(deviceID, key, value string) error {
	return s.SetAll(deviceID, map[string]string{key: value})
}

// SetAll stores several settings durably, all or none.
func (s *Settings) SetAll(deviceID string, kv map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := map[string]map[string]string{}
	for d, m := range s.data {
		next[d] = map[string]string{}
		for k, v := range m {
			next[d][k] = v
		}
	}
	if next[deviceID] == nil {
		next[deviceID] = map[string]string{}
	}
	for k, v := range kv {
		next[deviceID][k] = v
	}
	if err := statefile.WriteJSON(s.path, next); err != nil {
		return err
	}
	s.data = next
	return nil
}
