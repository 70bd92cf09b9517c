package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/sqlstore"
)

// BenchmarkWriteHeartbeats writes batches of 500 heartbeats (500 devices,
// 8 metrics and one changed property each); ns/op is per batch.
func BenchmarkWriteHeartbeats(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchHeartbeats(b, "sqlite:"+filepath.Join(b.TempDir(), "rms.db"))
	})
	b.Run("postgres", func(b *testing.B) {
		u, err := createPGDatabase()
		if err != nil {
			b.Skipf("PostgreSQL at %s is not available: %v", pgBaseURL(), err)
		}
		defer dropPGDatabases()
		benchHeartbeats(b, u)
	})
}

func benchHeartbeats(b *testing.B, url string) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Config{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const size = 500
	now := time.Now()
	devices := make([]string, size)
	for i := range devices {
		devices[i] = fmt.Sprintf("bench-%04d", i)
		if err := s.RegisterDevice(ctx, server.Device{ID: devices[i]}, now); err != nil {
			b.Fatal(err)
		}
	}
	metrics := make([]server.Metric, 8)
	for i := range metrics {
		metrics[i] = server.Metric{Name: fmt.Sprintf("metric%d", i), Value: float64(i) * 1.5, Unit: "C"}
	}
	batch := make([]server.Heartbeat, size)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; b.Loop(); n++ {
		b.StopTimer()
		at := now.Add(time.Duration(n) * time.Second)
		for i := range batch {
			batch[i] = server.Heartbeat{
				MessageRef: server.MessageRef{DeviceID: devices[i], MessageID: uuid.NewString(), SentAt: at},
				ReceivedAt: at, State: server.StateOK, Metrics: metrics,
				Properties: []server.Attr{{Name: "uptime", Value: fmt.Sprint(n)}},
			}
		}
		b.StartTimer()
		if _, err := s.WriteHeartbeats(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/heartbeat")
}
