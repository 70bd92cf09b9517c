// Command putter is the outbox crash test's victim: it Puts messages in a
// loop and prints each one only after Put returned, so every printed line
// is a promise the outbox made. The test kills it with SIGKILL mid-stream
// and checks the promises against the reopened file.
//
// Output lines, each written before the next operation starts:
//
//	P <seq> <messageID> <kind>   Put returned seq
//	a <seq>               about to Ack seq
//	A <seq>               Ack returned
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/agent/outbox"
	"github.com/rmsproject/rms/agent/outbox/testdata/putter/payload"
)

func main() {
	path := flag.String("path", "", "outbox file")
	round := flag.Int("round", 0, "distinguishes message ids between runs")
	maxBytes := flag.Int64("max", 0, "outbox MaxBytes (0: default)")
	flag.Parse()

	o, err := outbox.Open(*path, outbox.Config{MaxBytes: *maxBytes})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	kinds := []agent.Kind{agent.KindHeartbeat, agent.KindAlarms, agent.KindHeartbeat, agent.KindResult, agent.KindAudit}
	ack := func(device string) {
		p, err := o.Pending(device, 1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if len(p) == 0 {
			return
		}
		fmt.Printf("a %d\n", p[0].Seq)
		if err := o.Ack(p[0].Seq); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("A %d\n", p[0].Seq)
	}
	for i := 0; ; i++ {
		device := fmt.Sprintf("dev-%d", i%3)
		id := fmt.Sprintf("r%d-%d", *round, i)
		m := agent.Message{
			DeviceID: device, Kind: kinds[i%len(kinds)], Operation: "Op",
			MessageID: id, Payload: payload.For(id),
		}
		seq, err := o.Put(context.Background(), m)
		for errors.Is(err, outbox.ErrFull) {
			// Make room as the server would: acknowledge the oldest
			// message of whichever device has one.
			devices, derr := o.Devices()
			if derr != nil || len(devices) == 0 {
				fmt.Fprintln(os.Stderr, "full with nothing held:", derr)
				os.Exit(2)
			}
			oldest := devices[0]
			var oldestSeq uint64
			for _, d := range devices {
				p, perr := o.Pending(d, 1)
				if perr == nil && len(p) > 0 && (oldestSeq == 0 || p[0].Seq < oldestSeq) {
					oldest, oldestSeq = d, p[0].Seq
				}
			}
			ack(oldest)
			seq, err = o.Put(context.Background(), m)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("P %d %s %s\n", seq, id, m.Kind)
		if i%7 == 6 {
			ack(device)
		}
	}
}
