package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/soapclient"
)

// instructions long-polls for work. A poll whose answer could not be
// trusted (its signature did not verify) or did not arrive is asked again
// under the same messageId: the server answers a repeated id at once with
// the same instructions, so none is lost to a tampered or dropped answer.
func (d *deviceLoop) instructions(ctx context.Context) {
	b := &Backoff{Min: d.r.cfg.MinBackoff, Max: d.r.cfg.MaxBackoff}
	messageID := ""
	for ctx.Err() == nil {
		if messageID == "" {
			messageID = uuid.NewString()
		}
		req := &soapclient.RequestInstructions{
			DeviceRequest:   &soapclient.DeviceRequest{MessageId: messageID},
			WaitSeconds:     int32(d.r.cfg.PollWait / time.Second),
			MaxInstructions: 10,
		}
		resp, err := d.dev.Client.RequestInstructions(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var refused *soapclient.ResponseError
			if errors.As(err, &refused) {
				d.log.WithError(err).Error("instructions refused: the answer's server signature does not verify")
				d.r.audit(d.dev.ID, "agent", "instruction.refused", "denied", err.Error())
			} else {
				d.log.WithError(err).Warn("instruction poll failed")
			}
			_, after := soapclient.Retryable(err)
			sleep(ctx, b.Next(after))
			continue
		}
		messageID = ""
		b.Reset()
		for _, in := range resp.Instruction {
			if in == nil {
				continue
			}
			d.execute(ctx, instruction(in))
		}
	}
}

func instruction(in *soapclient.Instruction) agent.Instruction {
	out := agent.Instruction{ID: in.Id, Type: in.Type, Parameters: map[string]string{}, ExpiresAt: in.ExpiresAt.ToGoTime()}
	for _, p := range in.Parameter {
		if p != nil {
			out.Parameters[p.Name] = p.Value
		}
	}
	return out
}

// execute runs one verified instruction and queues its result; both are
// audited locally.
func (d *deviceLoop) execute(ctx context.Context, in agent.Instruction) {
	d.r.audit(d.dev.ID, "server", "instruction.received", "success", fmt.Sprintf("%s %s %v", in.ID, in.Type, in.Parameters))
	var res agent.Result
	exec, ok := d.r.cfg.Executors[in.Type]
	switch {
	case !ok:
		res = agent.Result{Status: "rejected", ExitCode: -1, Output: "unknown or disallowed instruction type " + in.Type}
	case !in.ExpiresAt.IsZero() && d.r.cfg.Now().After(in.ExpiresAt):
		res = agent.Result{Status: "rejected", ExitCode: -1, Output: "instruction expired before it could run"}
	default:
		res = exec.Execute(ctx, d.dev.ID, in)
	}
	outcome := "success"
	if res.Status != "succeeded" {
		outcome = "failure"
	}
	d.r.audit(d.dev.ID, "agent", "instruction."+res.Status, outcome, fmt.Sprintf("%s %s exit=%d", in.ID, in.Type, res.ExitCode))
	status := soapclient.InstructionStatus(res.Status)
	// The result is queued even when the agent is stopping: it is owed.
	d.put(context.WithoutCancel(ctx), agent.KindResult, "ReportInstructionResult", &soapclient.ReportInstructionResult{
		InstructionId: in.ID, Status: &status, ExitCode: int32(res.ExitCode), Output: res.Output,
		FinishedAt: soapclient.NewDateTime(d.r.cfg.Now()),
	})
	if res.Then != nil {
		res.Then()
	}
}
