package auditlog_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/auditlog"
	"github.com/rmsproject/rms/server/batch"
)

// fakeAudit chains appended entries as a store would, and hands ScanAudit
// whatever records a spec put there (tampered ones included).
type fakeAudit struct {
	server.AuditStore // the rest panics if ever called

	mu      sync.Mutex
	records []server.AuditRecord
	err     error
	scanErr error
}

func (f *fakeAudit) AppendAudit(_ context.Context, entries []server.AuditEntry) ([]server.AuditRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := make([]server.AuditRecord, 0, len(entries))
	for _, e := range entries {
		prev := server.GenesisHash
		if n := len(f.records); n > 0 {
			prev = f.records[n-1].Hash
		}
		seq := int64(len(f.records) + 1)
		r := server.AuditRecord{AuditEntry: e, Sequence: seq, PrevHash: prev, Hash: server.AuditHash(prev, seq, e)}
		f.records = append(f.records, r)
		out = append(out, r)
	}
	return out, nil
}

func (f *fakeAudit) ScanAudit(_ context.Context, from int64, fn func(server.AuditRecord) error) error {
	if f.scanErr != nil {
		return f.scanErr
	}
	for _, r := range f.records {
		if r.Sequence < from {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func entry(action string) server.AuditEntry {
	return server.AuditEntry{Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Actor: "system", Action: action,
		Outcome: server.OutcomeSuccess}
}

var _ = Describe("Log", func() {
	var (
		store *fakeAudit
		log   *auditlog.Log
		ctx   context.Context
		now   time.Time
	)
	BeforeEach(func() {
		ctx = context.Background()
		now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		store = &fakeAudit{}
		var err error
		log, err = auditlog.New(store, batch.Config{Linger: time.Millisecond}, func() time.Time { return now })
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(log.Close)
	})

	It("needs a store", func() {
		_, err := auditlog.New(nil, batch.Config{}, nil)
		Expect(err).To(HaveOccurred())
	})

	It("stamps entries without a time with its clock, and keeps given times", func() {
		Expect(log.Record(ctx, server.AuditEntry{Actor: "system", Action: "a"})).To(Succeed())
		Expect(log.Record(ctx, entry("b"))).To(Succeed())
		Expect(store.records[0].Time).To(Equal(now))
		Expect(store.records[1].Time).To(Equal(entry("b").Time))
	})

	DescribeTable("bounds the detail to MaxDetail bytes",
		func(detail string, want int) {
			e := entry("a")
			e.Detail = detail
			Expect(log.Record(ctx, e)).To(Succeed())
			got := store.records[0].Detail
			Expect(len(got)).To(Equal(want))
			Expect(detail).To(HavePrefix(got))
			// PostgreSQL refuses invalid UTF-8 in text columns, and the
			// record is served in XML: a cut must not split a character.
			Expect(utf8.ValidString(got)).To(BeTrue())
		},
		Entry("at the limit", strings.Repeat("d", auditlog.MaxDetail), auditlog.MaxDetail),
		Entry("one past the limit", strings.Repeat("d", auditlog.MaxDetail+1), auditlog.MaxDetail),
		Entry("a two-byte character across the limit", strings.Repeat("d", auditlog.MaxDetail-1)+"é", auditlog.MaxDetail-1),
		Entry("a four-byte character across the limit", strings.Repeat("d", auditlog.MaxDetail-2)+"😀", auditlog.MaxDetail-2),
	)

	DescribeTable("maps failures to UNAVAILABLE",
		func(setup func()) {
			setup()
			err := log.Record(ctx, entry("a"))
			Expect(server.CodeOf(err)).To(Equal(server.CodeUnavailable))
		},
		Entry("a coded store outage", func() {
			store.err = server.Wrap(server.CodeUnavailable, "store is unavailable", errors.New("connection reset"))
		}),
		Entry("an uncoded store error", func() { store.err = errors.New("connection reset") }),
		Entry("a closed log", func() { log.Close() }),
	)
})

var _ = Describe("Verify", func() {
	var (
		store *fakeAudit
		ctx   context.Context
	)
	BeforeEach(func() {
		ctx = context.Background()
		store = &fakeAudit{}
		for _, a := range []string{"one", "two", "three", "four", "five"} {
			_, err := store.AppendAudit(ctx, []server.AuditEntry{entry(a)})
			Expect(err).NotTo(HaveOccurred())
		}
	})
	// rehash makes record i consistent with itself again, as a forger
	// would, so only the link to the next record can give it away.
	rehash := func(i int) {
		r := &store.records[i]
		r.Hash = server.AuditHash(r.PrevHash, r.Sequence, r.AuditEntry)
	}

	It("holds for an intact chain", func() {
		rep, err := auditlog.Verify(ctx, store)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Break).To(BeNil())
		Expect(rep.Checked).To(BeEquivalentTo(5))
	})

	It("holds for an empty chain", func() {
		rep, err := auditlog.Verify(ctx, &fakeAudit{})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Break).To(BeNil())
		Expect(rep.Checked).To(BeZero())
	})

	DescribeTable("names the sequence of the first broken record",
		func(tamper func(), seq int64, reason string, checked int64) {
			tamper()
			rep, err := auditlog.Verify(ctx, store)
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Break).NotTo(BeNil())
			Expect(rep.Break.Sequence).To(Equal(seq))
			Expect(rep.Break.Reason).To(ContainSubstring(reason))
			Expect(rep.Checked).To(Equal(checked))
		},
		Entry("an edited detail", func() { store.records[2].Detail = "nothing happened" }, int64(3), "content", int64(2)),
		Entry("an edited outcome", func() { store.records[0].Outcome = server.OutcomeDenied }, int64(1), "content", int64(0)),
		Entry("a shifted time", func() { store.records[4].Time = store.records[4].Time.Add(time.Second) }, int64(5), "content", int64(4)),
		Entry("an edit with its own hash recomputed", func() {
			store.records[2].Actor = "user:mallory"
			rehash(2)
		}, int64(4), "link", int64(3)),
		Entry("a deleted record", func() {
			store.records = append(store.records[:2], store.records[3:]...)
		}, int64(3), "missing", int64(2)),
		Entry("a chain that does not start from genesis", func() {
			store.records[0].PrevHash = strings.Repeat("1", 64)
			rehash(0)
		}, int64(1), "genesis", int64(0)),
		Entry("the first records deleted", func() {
			store.records = store.records[2:]
		}, int64(1), "missing", int64(0)),
	)

	It("reports a store that cannot be read as an error, not as a break", func() {
		store.scanErr = server.Wrap(server.CodeUnavailable, "store is unavailable", errors.New("boom"))
		_, err := auditlog.Verify(ctx, store)
		Expect(server.CodeOf(err)).To(Equal(server.CodeUnavailable))
	})
})
