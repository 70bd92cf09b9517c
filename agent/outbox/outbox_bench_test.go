package outbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/outbox"
)

// BenchmarkPut measures a durable Put (bbolt commit with fsync) of a
// heartbeat-sized message: run it on the disk the agent will use, since
// the figure is the disk's fsync latency far more than our code.
//
//	go test -run '^$' -bench Put -benchtime 2000x ./agent/outbox/
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{1500, 16 << 10} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			o, err := outbox.Open(filepath.Join(b.TempDir(), "outbox.db"), outbox.Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			m := agent.Message{DeviceID: "dev-1", Kind: agent.KindHeartbeat, Operation: "Heartbeat",
				MessageID: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", Payload: make([]byte, size)}
			b.SetBytes(outbox.Size(m))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := o.Put(context.Background(), m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutFullCoalescing measures Put when every call must first drop
// a heartbeat to make room: the steady state of a long outage.
func BenchmarkPutFullCoalescing(b *testing.B) {
	o, err := outbox.Open(filepath.Join(b.TempDir(), "outbox.db"), outbox.Config{MaxBytes: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	m := agent.Message{DeviceID: "dev-1", Kind: agent.KindHeartbeat, Operation: "Heartbeat",
		MessageID: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", Payload: make([]byte, 1500)}
	for i := int64(0); i < (1<<20)/outbox.Size(m)+1; i++ {
		if _, err := o.Put(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Put(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
}
