package auditlog_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/auditlog"
)

// event builds an event whose JSON line has the same length for every
// seq of the same digit count, so rotation edges can be computed.
func event(i int) agent.AuditEvent {
	return agent.AuditEvent{Actor: "agent", Action: "instruction.run", Outcome: "succeeded", Detail: fmt.Sprintf("run %04d", i)}
}

// files returns the trail's file names, oldest first (audit.log last).
func files(dir string) []string {
	entries, err := os.ReadDir(dir)
	Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, e := range entries {
		if e.Name() != auditlog.CurrentName {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return append(names, auditlog.CurrentName)
}

func readLines(path string) []string {
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	return strings.SplitAfter(string(data), "\n")[:strings.Count(string(data), "\n")]
}

func writeLines(path string, lines []string) {
	Expect(os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600)).To(Succeed())
}

// locate finds the file and 1-based line holding seq.
func locate(dir string, seq uint64) (string, int) {
	for _, f := range files(dir) {
		for i, l := range readLines(filepath.Join(dir, f)) {
			var e agent.AuditEvent
			Expect(json.Unmarshal([]byte(l), &e)).To(Succeed())
			if e.Seq == seq {
				return f, i + 1
			}
		}
	}
	Fail(fmt.Sprintf("seq %d not found", seq))
	return "", 0
}

func readAll(dir string, from uint64) []agent.AuditEvent {
	var out []agent.AuditEvent
	Expect(auditlog.Read(dir, from, func(e agent.AuditEvent) error {
		out = append(out, e)
		return nil
	})).To(Succeed())
	return out
}

var _ = Describe("Log", func() {
	var (
		dir  string
		cfg  auditlog.Config
		hook *test.Hook
		now  time.Time
		l    *auditlog.Log
	)

	open := func() *auditlog.Log {
		lg, err := auditlog.Open(dir, cfg)
		Expect(err).NotTo(HaveOccurred())
		return lg
	}
	appendN := func(n int) []agent.AuditEvent {
		var out []agent.AuditEvent
		for i := range n {
			e, err := l.Append(event(i))
			Expect(err).NotTo(HaveOccurred())
			out = append(out, e)
		}
		return out
	}
	verify := func() auditlog.Report {
		r, err := auditlog.Verify(dir)
		Expect(err).NotTo(HaveOccurred())
		return r
	}

	BeforeEach(func() {
		dir = filepath.Join(GinkgoT().TempDir(), "audit")
		var logger *logrus.Logger
		logger, hook = test.NewNullLogger()
		now = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
		cfg = auditlog.Config{Logger: logrus.NewEntry(logger), Now: func() time.Time { return now }}
		l = nil
	})
	AfterEach(func() {
		if l != nil {
			Expect(l.Close()).To(Succeed())
		}
	})

	Describe("Config", func() {
		It("fills defaults and refuses negatives", func() {
			l = open()
			_, err := auditlog.Open(dir, auditlog.Config{MaxFileBytes: -1})
			Expect(err).To(MatchError(ContainSubstring("MaxFileBytes")))
			_, err = auditlog.Open(dir, auditlog.Config{MaxFiles: -1})
			Expect(err).To(MatchError(ContainSubstring("MaxFiles")))
			// The defaults: 1 MiB files, so 100 small records stay in one.
			appendN(100)
			Expect(files(dir)).To(Equal([]string{auditlog.CurrentName}))
		})
	})

	Describe("Append", func() {
		BeforeEach(func() { l = open() })

		It("fills seq, time, the link and the hash, and writes one JSON line", func() {
			e1, err := l.Append(agent.AuditEvent{Actor: "server", Action: "instruction.run", Outcome: "accepted"})
			Expect(err).NotTo(HaveOccurred())
			Expect(e1.Seq).To(Equal(uint64(1)))
			Expect(e1.PrevHash).To(Equal(auditlog.Genesis))
			Expect(e1.Time).To(BeTemporally("==", now))
			Expect(e1.Hash).To(Equal(auditlog.Hash(e1)))
			Expect(e1.Hash).To(MatchRegexp(`^[0-9a-f]{64}$`))

			given := time.Date(2026, 2, 3, 4, 5, 6, 7, time.FixedZone("X", -7200))
			e2, err := l.Append(agent.AuditEvent{Time: given, Actor: "agent", Action: "restart", Outcome: "ok", Detail: "by request"})
			Expect(err).NotTo(HaveOccurred())
			Expect(e2.Seq).To(Equal(uint64(2)))
			Expect(e2.PrevHash).To(Equal(e1.Hash))
			Expect(e2.Time).To(BeTemporally("==", given))

			lines := readLines(filepath.Join(dir, auditlog.CurrentName))
			Expect(lines).To(HaveLen(2))
			var back agent.AuditEvent
			Expect(json.Unmarshal([]byte(lines[1]), &back)).To(Succeed())
			Expect(back).To(Equal(e2))
			Expect(readAll(dir, 0)).To(Equal([]agent.AuditEvent{e1, e2}))
			seq, hash := l.Head()
			Expect(seq).To(Equal(e2.Seq))
			Expect(hash).To(Equal(e2.Hash))
		})

		It("hashes over the fields, not the JSON: the same record re-encoded still verifies", func() {
			appendN(3)
			path := filepath.Join(dir, auditlog.CurrentName)
			lines := readLines(path)
			var m map[string]any
			Expect(json.Unmarshal([]byte(lines[1]), &m)).To(Succeed())
			again, err := json.MarshalIndent(m, "", "") // other order, other spacing
			Expect(err).NotTo(HaveOccurred())
			lines[1] = strings.ReplaceAll(string(again), "\n", " ") + "\n"
			writeLines(path, lines)
			Expect(verify().OK()).To(BeTrue())
		})

		It("keeps a detail with invalid UTF-8 verifiable", func() {
			e, err := l.Append(agent.AuditEvent{Actor: "agent", Action: "x", Outcome: "ok", Detail: "bad \xff\xfe byte"})
			Expect(err).NotTo(HaveOccurred())
			Expect(e.Detail).To(Equal("bad \uFFFD\uFFFD byte"))
			Expect(verify().OK()).To(BeTrue())
			Expect(readAll(dir, 0)[0].Detail).To(Equal(e.Detail))
		})

		It("cannot be confused by a field holding the encoding's separators", func() {
			a := agent.AuditEvent{Seq: 1, PrevHash: auditlog.Genesis, Actor: "a;6:action", Action: "b"}
			b := agent.AuditEvent{Seq: 1, PrevHash: auditlog.Genesis, Actor: "a", Action: "action;1:b"}
			Expect(auditlog.Hash(a)).NotTo(Equal(auditlog.Hash(b)))
		})

		It("fails after Close", func() {
			Expect(l.Close()).To(Succeed())
			_, err := l.Append(event(0))
			Expect(err).To(MatchError(auditlog.ErrClosed))
			l = nil
		})

		It("chains concurrent appends without gaps", func() {
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					defer GinkgoRecover()
					for i := range 50 {
						_, err := l.Append(event(i))
						Expect(err).NotTo(HaveOccurred())
					}
				})
			}
			wg.Wait()
			r := verify()
			Expect(r.Break).To(BeNil())
			Expect(r.Checked).To(Equal(200))
		})
	})

	Describe("rotation", func() {
		var lineLen int64

		BeforeEach(func() {
			// Measure one line: seqs 1-9 give lines of equal length.
			probe := filepath.Join(GinkgoT().TempDir(), "probe")
			pl, err := auditlog.Open(probe, cfg)
			Expect(err).NotTo(HaveOccurred())
			_, err = pl.Append(event(0))
			Expect(err).NotTo(HaveOccurred())
			Expect(pl.Close()).To(Succeed())
			st, err := os.Stat(filepath.Join(probe, auditlog.CurrentName))
			Expect(err).NotTo(HaveOccurred())
			lineLen = st.Size()
		})

		It("keeps a file that fills MaxFileBytes exactly", func() {
			cfg.MaxFileBytes = 3 * lineLen
			l = open()
			appendN(3)
			Expect(files(dir)).To(Equal([]string{auditlog.CurrentName}))
			appendN(1)
			Expect(files(dir)).To(Equal([]string{"audit-00000000000000000001.log", auditlog.CurrentName}))
			st, _ := os.Stat(filepath.Join(dir, "audit-00000000000000000001.log"))
			Expect(st.Size()).To(Equal(3 * lineLen))
		})

		It("rotates before the line that would pass MaxFileBytes by one byte", func() {
			cfg.MaxFileBytes = 3*lineLen - 1
			l = open()
			appendN(3)
			Expect(files(dir)).To(Equal([]string{"audit-00000000000000000001.log", auditlog.CurrentName}))
			Expect(readLines(filepath.Join(dir, "audit-00000000000000000001.log"))).To(HaveLen(2))
		})

		It("gives a record larger than MaxFileBytes a file of its own", func() {
			cfg.MaxFileBytes = lineLen
			l = open()
			appendN(1)
			_, err := l.Append(agent.AuditEvent{Actor: "agent", Action: "big", Outcome: "ok", Detail: strings.Repeat("d", int(lineLen))})
			Expect(err).NotTo(HaveOccurred())
			appendN(1)
			Expect(files(dir)).To(Equal([]string{"audit-00000000000000000001.log", "audit-00000000000000000002.log", auditlog.CurrentName}))
			Expect(verify().OK()).To(BeTrue())
		})

		It("chains across many rotations and verifies end to end", func() {
			cfg.MaxFileBytes = 5 * lineLen
			cfg.MaxFiles = 1000
			l = open()
			events := appendN(300)
			names := files(dir)
			Expect(len(names)).To(BeNumerically(">", 50))
			// The first line of each file links to the last of the one before.
			for i := 1; i < len(names); i++ {
				prev := readLines(filepath.Join(dir, names[i-1]))
				next := readLines(filepath.Join(dir, names[i]))
				var a, b agent.AuditEvent
				Expect(json.Unmarshal([]byte(prev[len(prev)-1]), &a)).To(Succeed())
				Expect(json.Unmarshal([]byte(next[0]), &b)).To(Succeed())
				Expect(b.PrevHash).To(Equal(a.Hash))
				Expect(b.Seq).To(Equal(a.Seq + 1))
				if i < len(names)-1 {
					Expect(names[i]).To(Equal(fmt.Sprintf("audit-%020d.log", b.Seq)))
				}
			}
			r := verify()
			Expect(r.Break).To(BeNil())
			Expect(r.Checked).To(Equal(300))
			Expect(r.FirstSeq).To(Equal(uint64(1)))
			Expect(r.LastSeq).To(Equal(uint64(300)))
			Expect(r.Files).To(Equal(len(names)))
			Expect(r.String()).To(Equal("300 records checked from seq 1 to 300; chain intact"))
			Expect(readAll(dir, 0)).To(Equal(events))
			Expect(readAll(dir, 123)).To(Equal(events[122:]))
			Expect(readAll(dir, 301)).To(BeEmpty())
		})

		DescribeTable("keeps at most MaxFiles files, audit.log included",
			func(maxFiles, appends, wantFiles int, wantFirst uint64) {
				cfg.MaxFileBytes = 2 * lineLen
				cfg.MaxFiles = maxFiles
				l = open()
				appendN(appends)
				Expect(files(dir)).To(HaveLen(wantFiles))
				r := verify()
				Expect(r.Break).To(BeNil())
				Expect(r.FirstSeq).To(Equal(wantFirst))
				Expect(r.LastSeq).To(Equal(uint64(appends)))
				Expect(r.Checked).To(Equal(appends - int(wantFirst) + 1))
				if wantFirst > 1 {
					Expect(r.String()).To(HavePrefix(fmt.Sprintf("%d records checked from seq %d", r.Checked, wantFirst)))
				}
			},
			// Two records a file: 6 records fill 3 files exactly.
			Entry("at the edge: nothing deleted", 3, 6, 3, uint64(1)),
			Entry("one record past the edge: the oldest file goes", 3, 7, 3, uint64(3)),
			Entry("far past it", 3, 9, 3, uint64(5)),
			Entry("MaxFiles 1: only audit.log", 1, 7, 1, uint64(7)),
		)

		It("applies a lowered MaxFiles on Open", func() {
			cfg.MaxFileBytes = 2 * lineLen
			l = open()
			appendN(9)
			Expect(l.Close()).To(Succeed())
			Expect(files(dir)).To(HaveLen(5))
			cfg.MaxFiles = 2
			l = open()
			Expect(files(dir)).To(Equal([]string{"audit-00000000000000000007.log", auditlog.CurrentName}))
		})
	})

	Describe("restart", func() {
		It("continues seq and chain", func() {
			l = open()
			before := appendN(5)
			Expect(l.Close()).To(Succeed())
			l = open()
			after := appendN(5)
			Expect(after[0].Seq).To(Equal(uint64(6)))
			Expect(after[0].PrevHash).To(Equal(before[4].Hash))
			Expect(verify().Checked).To(Equal(10))
		})

		It("continues from the newest rotated file when audit.log is missing (a crash inside rotation)", func() {
			l = open()
			before := appendN(5)
			Expect(l.Close()).To(Succeed())
			// Rename as rotate() does, then "crash" before the new audit.log.
			cur := filepath.Join(dir, auditlog.CurrentName)
			Expect(os.Rename(cur, filepath.Join(dir, "audit-00000000000000000001.log"))).To(Succeed())

			l = open()
			e, err := l.Append(event(9))
			Expect(err).NotTo(HaveOccurred())
			Expect(e.Seq).To(Equal(uint64(6)))
			Expect(e.PrevHash).To(Equal(before[4].Hash))
			r := verify()
			Expect(r.Break).To(BeNil())
			Expect(r.Checked).To(Equal(6))
		})

		It("continues with seq and hash after every record was rotated away", func() {
			cfg.MaxFileBytes = 1
			cfg.MaxFiles = 1
			l = open()
			before := appendN(4)
			Expect(l.Close()).To(Succeed())
			l = open()
			e, err := l.Append(event(4))
			Expect(err).NotTo(HaveOccurred())
			Expect(e.Seq).To(Equal(uint64(5)))
			Expect(e.PrevHash).To(Equal(before[3].Hash))
		})
	})

	Describe("a torn last line", func() {
		var cur string

		BeforeEach(func() {
			cur = filepath.Join(dir, auditlog.CurrentName)
		})

		tear := func(keep int64) {
			st, err := os.Stat(cur)
			Expect(err).NotTo(HaveOccurred())
			Expect(os.Truncate(cur, st.Size()-keep)).To(Succeed())
		}

		It("is reported by Verify, cut off by Open with a warning, and the chain continues", func() {
			l = open()
			events := appendN(5)
			Expect(l.Close()).To(Succeed())
			tear(20) // mid-line: the last record loses its tail and newline

			r := verify()
			Expect(r.Break).NotTo(BeNil())
			Expect(r.Break.Seq).To(Equal(uint64(5)))
			Expect(r.Break.Line).To(Equal(5))
			Expect(r.Break.Reason).To(ContainSubstring("incomplete last line"))

			l = open()
			Expect(hook.LastEntry()).NotTo(BeNil())
			Expect(hook.LastEntry().Level).To(Equal(logrus.WarnLevel))
			Expect(hook.LastEntry().Message).To(ContainSubstring("torn"))
			Expect(readLines(cur)).To(HaveLen(4))

			e, err := l.Append(event(5))
			Expect(err).NotTo(HaveOccurred())
			Expect(e.Seq).To(Equal(uint64(5)))
			Expect(e.PrevHash).To(Equal(events[3].Hash))
			r = verify()
			Expect(r.Break).To(BeNil())
			Expect(r.Checked).To(Equal(5))
		})

		It("cuts a file that is one torn line, continuing from the rotated file", func() {
			cfg.MaxFileBytes = 1 // every record in a file of its own
			l = open()
			events := appendN(3)
			Expect(l.Close()).To(Succeed())
			tear(1) // only the newline is lost

			l = open()
			st, _ := os.Stat(cur)
			Expect(st.Size()).To(BeZero())
			e, err := l.Append(event(3))
			Expect(err).NotTo(HaveOccurred())
			Expect(e.Seq).To(Equal(uint64(3)))
			Expect(e.PrevHash).To(Equal(events[1].Hash))
			Expect(verify().OK()).To(BeTrue())
		})

		It("is not to be confused with a damaged complete line, which Open refuses", func() {
			l = open()
			appendN(3)
			Expect(l.Close()).To(Succeed())
			lines := readLines(cur)
			lines[2] = "{not json}\n"
			writeLines(cur, lines)
			l = nil
			_, err := auditlog.Open(dir, cfg)
			Expect(err).To(MatchError(auditlog.ErrCorrupt))
			Expect(err).To(MatchError(ContainSubstring("line 3")))
		})
	})

	Describe("Verify names the first broken record", func() {
		const total = 40

		BeforeEach(func() {
			cfg.MaxFileBytes = 1500 // several records a file, several files
			cfg.MaxFiles = 100
			l = open()
			appendN(total)
			Expect(l.Close()).To(Succeed())
			l = nil
			Expect(len(files(dir))).To(BeNumerically(">=", 4))
			Expect(verify().OK()).To(BeTrue())
		})

		// edit changes line seq of the trail with fn.
		edit := func(seq uint64, fn func(m map[string]any)) (string, int) {
			file, line := locate(dir, seq)
			path := filepath.Join(dir, file)
			lines := readLines(path)
			var m map[string]any
			Expect(json.Unmarshal([]byte(lines[line-1]), &m)).To(Succeed())
			fn(m)
			b, err := json.Marshal(m)
			Expect(err).NotTo(HaveOccurred())
			lines[line-1] = string(b) + "\n"
			writeLines(path, lines)
			return file, line
		}
		expectBreak := func(seq uint64, file string, line int) *auditlog.Break {
			r := verify()
			Expect(r.Break).NotTo(BeNil())
			Expect(r.Break.Seq).To(Equal(seq), r.String())
			Expect(r.Break.File).To(Equal(file), r.String())
			Expect(r.Break.Line).To(Equal(line), r.String())
			Expect(r.Checked).To(Equal(int(seq-1)), "records before the break are counted")
			return r.Break
		}

		tamper := map[string]func(m map[string]any){
			"seq":     func(m map[string]any) { m["seq"] = m["seq"].(float64) + 100 },
			"time":    func(m map[string]any) { m["time"] = "2026-03-01T12:00:01.123456789Z" },
			"actor":   func(m map[string]any) { m["actor"] = "operator:mallory" },
			"action":  func(m map[string]any) { m["action"] = "instruction.refused" },
			"outcome": func(m map[string]any) { m["outcome"] = "failed" },
			"detail":  func(m map[string]any) { m["detail"] = "nothing to see" },
			"prev":    func(m map[string]any) { m["prev"] = strings.Repeat("a", 64) },
			"hash":    func(m map[string]any) { m["hash"] = strings.Repeat("b", 64) },
			"extra":   func(m map[string]any) { m["approved"] = true },
		}
		for _, field := range []string{"seq", "time", "actor", "action", "outcome", "detail", "prev", "hash", "extra"} {
			for _, seq := range []uint64{1, 2, 17, total} {
				It(fmt.Sprintf("%s altered at seq %d", field, seq), func() {
					if field == "seq" && seq == total {
						Skip("the newest record's seq is covered by its hash below")
					}
					file, line := edit(seq, tamper[field])
					expectBreak(seq, file, line)
				})
			}
		}

		It("the first line of a later file altered", func() {
			names := files(dir)
			var head agent.AuditEvent
			Expect(json.Unmarshal([]byte(readLines(filepath.Join(dir, names[2]))[0]), &head)).To(Succeed())
			file, line := edit(head.Seq, func(m map[string]any) { m["outcome"] = "failed" })
			Expect(line).To(Equal(1))
			expectBreak(head.Seq, file, line)
		})

		It("a line deleted", func() {
			file, line := locate(dir, 17)
			path := filepath.Join(dir, file)
			lines := readLines(path)
			writeLines(path, append(lines[:line-1:line-1], lines[line:]...))
			b := expectBreak(17, file, line)
			Expect(b.Reason).To(ContainSubstring("expected seq 17, found 18"))
		})

		It("the first line of a rotated file deleted", func() {
			names := files(dir)
			path := filepath.Join(dir, names[1])
			lines := readLines(path)
			var head agent.AuditEvent
			Expect(json.Unmarshal([]byte(lines[0]), &head)).To(Succeed())
			writeLines(path, lines[1:])
			expectBreak(head.Seq, names[1], 1)
		})

		It("the first line of the oldest file deleted: the file's name gives it away", func() {
			path := filepath.Join(dir, files(dir)[0])
			writeLines(path, readLines(path)[1:])
			expectBreak(1, files(dir)[0], 1)
		})

		It("two lines swapped", func() {
			file, line := locate(dir, 17)
			path := filepath.Join(dir, file)
			lines := readLines(path)
			Expect(len(lines)).To(BeNumerically(">", line), "17 and 18 share a file")
			lines[line-1], lines[line] = lines[line], lines[line-1]
			writeLines(path, lines)
			expectBreak(17, file, line)
		})

		It("two lines swapped across files", func() {
			names := files(dir)
			a, b := filepath.Join(dir, names[1]), filepath.Join(dir, names[2])
			la, lb := readLines(a), readLines(b)
			var last agent.AuditEvent
			Expect(json.Unmarshal([]byte(la[len(la)-1]), &last)).To(Succeed())
			la[len(la)-1], lb[0] = lb[0], la[len(la)-1]
			writeLines(a, la)
			writeLines(b, lb)
			expectBreak(last.Seq, names[1], len(la))
		})

		It("a whole middle file deleted", func() {
			names := files(dir)
			var head agent.AuditEvent
			Expect(json.Unmarshal([]byte(readLines(filepath.Join(dir, names[1]))[0]), &head)).To(Succeed())
			Expect(os.Remove(filepath.Join(dir, names[1]))).To(Succeed())
			expectBreak(head.Seq, names[2], 1)
		})

		It("a record rewritten with a fresh hash breaks the next record's link", func() {
			file, line := locate(dir, 17)
			path := filepath.Join(dir, file)
			lines := readLines(path)
			var e agent.AuditEvent
			Expect(json.Unmarshal([]byte(lines[line-1]), &e)).To(Succeed())
			e.Outcome = "failed"
			e.Hash = auditlog.Hash(e)
			b, _ := json.Marshal(e)
			lines[line-1] = string(b) + "\n"
			writeLines(path, lines)
			nf, nl := locate(dir, 18)
			br := expectBreak(18, nf, nl)
			Expect(br.Reason).To(ContainSubstring("link"))
		})

		It("a line replaced by garbage", func() {
			file, line := locate(dir, 17)
			path := filepath.Join(dir, file)
			lines := readLines(path)
			lines[line-1] = "\n"
			writeLines(path, lines)
			b := expectBreak(17, file, line)
			Expect(b.Reason).To(ContainSubstring("not a valid audit record"))
		})

		It("the oldest file deleted is not a break: verification starts after it", func() {
			names := files(dir)
			var head agent.AuditEvent
			Expect(json.Unmarshal([]byte(readLines(filepath.Join(dir, names[1]))[0]), &head)).To(Succeed())
			Expect(os.Remove(filepath.Join(dir, names[0]))).To(Succeed())
			r := verify()
			Expect(r.Break).To(BeNil())
			Expect(r.FirstSeq).To(Equal(head.Seq))
			Expect(r.Checked).To(Equal(total - int(head.Seq) + 1))
			Expect(r.String()).To(HavePrefix(fmt.Sprintf("%d records checked from seq %d", r.Checked, head.Seq)))
		})
	})

	Describe("Read", func() {
		It("stops at the callback's error and reports an unreadable line", func() {
			l = open()
			appendN(5)
			stop := errors.New("enough")
			n := 0
			err := auditlog.Read(dir, 2, func(e agent.AuditEvent) error {
				n++
				if e.Seq == 3 {
					return stop
				}
				return nil
			})
			Expect(err).To(MatchError(stop))
			Expect(n).To(Equal(2))

			path := filepath.Join(dir, auditlog.CurrentName)
			lines := readLines(path)
			lines[1] = "garbage\n"
			writeLines(path, lines)
			err = auditlog.Read(dir, 0, func(agent.AuditEvent) error { return nil })
			Expect(err).To(MatchError(auditlog.ErrCorrupt))
			Expect(err).To(MatchError(ContainSubstring("line 2")))
		})

		It("fails for a missing directory, as does Verify", func() {
			Expect(auditlog.Read(filepath.Join(dir, "nope"), 0, func(agent.AuditEvent) error { return nil })).NotTo(Succeed())
			_, err := auditlog.Verify(filepath.Join(dir, "nope"))
			Expect(err).To(HaveOccurred())
		})
	})
})
