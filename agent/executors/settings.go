package executors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Settings are per-device values set by instructions, kept in one JSON
// file written atomically (temp file, fsync, rename), so a power cut
// leaves the old or the new file, never half of one.
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
	if err := writeAtomic(s.path, next); err != nil {
		return err
	}
	s.data = next
	return nil
}

func writeAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".settings-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
