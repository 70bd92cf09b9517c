package outbox_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/outbox"
	"github.com/rmsproject/rms/agent/outbox/testdata/putter/payload"
)

// promises is what a killed putter printed: each line was written only
// after the outbox call it reports had returned.
type promises struct {
	put      map[uint64]string // seq → messageID, Put returned
	kind     map[uint64]agent.Kind
	acking   map[uint64]bool // Ack started (it may or may not have committed)
	acked    map[uint64]bool // Ack returned
	maxSeq   uint64
	complete int // complete lines
}

func parsePromises(out []byte) promises {
	p := promises{put: map[uint64]string{}, kind: map[uint64]agent.Kind{}, acking: map[uint64]bool{}, acked: map[uint64]bool{}}
	// The last line may itself be torn by the kill; only whole lines count.
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[:i+1]
	} else {
		out = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		Expect(len(f)).To(BeNumerically(">=", 2), "putter line %q", sc.Text())
		seq, err := strconv.ParseUint(f[1], 10, 64)
		Expect(err).NotTo(HaveOccurred())
		switch f[0] {
		case "P":
			Expect(f).To(HaveLen(4))
			p.put[seq] = f[2]
			p.kind[seq] = agent.Kind(f[3])
			p.maxSeq = max(p.maxSeq, seq)
		case "a":
			p.acking[seq] = true
		case "A":
			p.acked[seq] = true
		}
		p.complete++
	}
	return p
}

var _ = Describe("a putter killed with SIGKILL mid-stream", Ordered, func() {
	var (
		putter string
		dir    string
	)

	BeforeAll(func() {
		var err error
		putter, err = gexec.Build("github.com/rmsproject/rms/agent/outbox/testdata/putter")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(gexec.CleanupBuildArtifacts)
		dir = GinkgoT().TempDir()
	})

	// crashAndCheck runs the putter on path until it printed at least
	// lines lines, kills it, and checks every promise against the reopened
	// outbox. Heartbeats may be coalesced when maxBytes is small; nothing
	// else may be missing.
	crashAndCheck := func(path string, round int, maxBytes int64, lines int) {
		cmd := exec.Command(putter, "-path", path, "-round", strconv.Itoa(round), "-max", strconv.FormatInt(maxBytes, 10))
		session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() int {
			if session.ExitCode() != -1 {
				StopTrying("the putter exited by itself").Now()
			}
			return bytes.Count(session.Out.Contents(), []byte("\n"))
		}).
			WithTimeout(time.Minute).Should(BeNumerically(">=", lines))
		session.Kill() // SIGKILL: no deferred Close, no flush
		Eventually(session).WithTimeout(time.Minute).Should(gexec.Exit())
		Expect(session.ExitCode()).To(Equal(128+int(syscall.SIGKILL)), "the putter must have died of the signal, not exited")
		p := parsePromises(session.Out.Contents())

		o, err := outbox.Open(path, outbox.Config{MaxBytes: maxBytes})
		Expect(err).NotTo(HaveOccurred(), "reopening after the kill")
		defer func() { Expect(o.Close()).To(Succeed()) }()
		Expect(o.Check()).To(Succeed(), "the file is whole after the kill")

		held := map[uint64]agent.Message{}
		var total int64
		devices, err := o.Devices()
		Expect(err).NotTo(HaveOccurred())
		for _, d := range devices {
			msgs, err := o.Pending(d, 1<<20)
			Expect(err).NotTo(HaveOccurred())
			for i, m := range msgs {
				if i > 0 {
					Expect(m.Seq).To(BeNumerically(">", msgs[i-1].Seq), "device %s out of order", d)
				}
				Expect(m.DeviceID).To(Equal(d))
				Expect(m.Payload).To(Equal(payload.For(m.MessageID)), "payload of %s is corrupt", m.MessageID)
				held[m.Seq] = m
				total += outbox.Size(m)
			}
		}
		n, bytes := o.Stats()
		Expect(n).To(Equal(len(held)))
		Expect(bytes).To(Equal(total))

		prefix := fmt.Sprintf("r%d-", round)
		unprinted := 0
		for seq, m := range held {
			if id, ok := p.put[seq]; ok {
				Expect(m.MessageID).To(Equal(id))
			} else if strings.HasPrefix(m.MessageID, prefix) {
				// Only the Put in flight when the kill came may have
				// committed without being printed, and it is the newest.
				unprinted++
				Expect(seq).To(BeNumerically(">", p.maxSeq))
			}
		}
		Expect(unprinted).To(BeNumerically("<=", 1))
		for seq, id := range p.put {
			_, ok := held[seq]
			switch {
			case p.acked[seq]:
				Expect(ok).To(BeFalse(), "acknowledged message %s came back", id)
			case p.acking[seq]:
				// Killed during its Ack: either outcome is correct.
			case !ok:
				Expect(p.kind[seq]).To(Equal(agent.KindHeartbeat), "message %s (seq %d) was promised and is lost", id, seq)
				Expect(maxBytes).NotTo(BeZero(), "heartbeat %s was lost with room to spare", id)
			}
		}
		// Within this round every promised message is accounted for:
		// the check above would have failed otherwise.
		GinkgoWriter.Printf("round %d: %d lines, %d puts promised, %d held after the kill\n", round, p.complete, len(p.put), len(held))
	}

	It("keeps every acknowledged Put, in order and intact, across repeated kills", func() {
		path := filepath.Join(dir, "big.db")
		for round, lines := range []int{150, 37, 290, 81} {
			crashAndCheck(path, round, 0, lines)
		}
	})

	It("keeps every non-heartbeat while coalescing under a small bound", func() {
		path := filepath.Join(dir, "small.db")
		for round, lines := range []int{400, 123, 333} {
			crashAndCheck(path, round, 30_000, lines)
		}
	})
})
