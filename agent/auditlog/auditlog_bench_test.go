package auditlog_test

import (
	"testing"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/auditlog"
)

// BenchmarkAppend measures a durable Append (one write and one fsync, a
// rotation every ~4000 records at the default 1 MiB):
//
//	go test -run '^$' -bench Append -benchtime 2000x ./agent/auditlog/
func BenchmarkAppend(b *testing.B) {
	l, err := auditlog.Open(b.TempDir(), auditlog.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := agent.AuditEvent{Actor: "server", Action: "instruction.run", Outcome: "succeeded", Detail: "RunDiagnostic disk-usage exit 0"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Append(e); err != nil {
			b.Fatal(err)
		}
	}
}
