package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/soapapi"
)

var instructionStatuses = []management.InstructionStatus{management.InstructionStatusQueued,
	management.InstructionStatusDelivered, management.InstructionStatusAccepted, management.InstructionStatusRunning,
	management.InstructionStatusSucceeded, management.InstructionStatusFailed, management.InstructionStatusRejected,
	management.InstructionStatusExpired, management.InstructionStatusCancelled}

func instructionsCommand() *command {
	return &command{
		name:    "instructions",
		summary: "Queue instructions for devices, follow their results, cancel them",
		subs: []*command{
			instructionsQueueVerb().command("instructions"),
			instructionsShowVerb().command("instructions"),
			instructionsListVerb().command("instructions"),
			instructionsCancelVerb().command("instructions"),
		},
	}
}

func instructionsQueueVerb() remoteVerb {
	return remoteVerb{
		name:     "queue",
		summary:  "Queue an instruction for a device",
		synopsis: "DEVICE TYPE [name=value ...] [--ttl 24h] [--request-id ID]",
		details: "Parameters are name=value pairs; the value may be empty or contain '='.\n" +
			"Put -- before parameters whose name starts with '-'.\n" +
			"Queueing again with the same --request-id returns the first instruction\n" +
			"instead of queueing a second one, so a retried script does no harm.",
		setup: func(fs *flag.FlagSet) prepare {
			ttl := fs.Duration("ttl", server.DefaultInstructionTTL, "how long the instruction may wait for the device, whole seconds up to "+
				strconv.Itoa(int(server.MaxInstructionTTL/time.Hour))+"h")
			requestID := fs.String("request-id", "", "idempotency `key` for this request")
			return func(args []string) (call, error) {
				// Arguments after the first two are parameters.
				if err := wantArgs(args[:min(len(args), 2)], "DEVICE", "TYPE"); err != nil {
					return nil, err
				}
				if *ttl <= 0 || *ttl > server.MaxInstructionTTL || *ttl%time.Second != 0 {
					return nil, usagef("--ttl %s: want whole seconds from 1s to %s", *ttl, server.MaxInstructionTTL)
				}
				params, err := parseParameters(args[2:])
				if err != nil {
					return nil, err
				}
				req := &management.QueueInstruction{DeviceId: args[0], Type: args[1], Parameter: params,
					TtlSeconds: int32(*ttl / time.Second), RequestId: *requestID}
				return func(ctx context.Context, s *session) error {
					r, err := s.m.QueueInstruction(ctx, req)
					if err != nil {
						return err
					}
					return s.showInstruction(r.Instruction)
				}, nil
			}
		},
	}
}

// parseParameters reads name=value arguments with the server's limits.
func parseParameters(args []string) ([]*management.NameValue, error) {
	if len(args) > soapapi.MaxInstructionParameters {
		return nil, usagef("at most %d parameters", soapapi.MaxInstructionParameters)
	}
	var out []*management.NameValue
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, usagef("parameter %q: want name=value", a)
		}
		if len(name)+len(value) > soapapi.MaxParameterBytes {
			return nil, usagef("parameter %q: name and value together are limited to %d bytes", name, soapapi.MaxParameterBytes)
		}
		out = append(out, &management.NameValue{Name: name, Value: value})
	}
	return out, nil
}

func instructionsShowVerb() remoteVerb {
	return remoteVerb{
		name:     "show",
		summary:  "Show one instruction with its latest result",
		synopsis: "ID",
		setup: byID(func(ctx context.Context, s *session, id string) error {
			r, err := s.m.GetInstruction(ctx, &management.GetInstruction{InstructionId: id})
			if err != nil {
				return err
			}
			return s.showInstruction(r.Instruction)
		}),
	}
}

func instructionsCancelVerb() remoteVerb {
	return remoteVerb{
		name:     "cancel",
		summary:  "Cancel an instruction that has not finished",
		synopsis: "ID",
		details: "A cancelled instruction is no longer handed out; a device already running it\n" +
			"is told to stop when it next reports on it. Cancelling a finished instruction\n" +
			"is refused with CONFLICT.",
		setup: byID(func(ctx context.Context, s *session, id string) error {
			r, err := s.m.CancelInstruction(ctx, &management.CancelInstruction{InstructionId: id})
			if err != nil {
				return err
			}
			return s.showInstruction(r.Instruction)
		}),
	}
}

func (s *session) showInstruction(in *management.Instruction) error {
	if in == nil {
		in = &management.Instruction{}
	}
	fields := [][2]string{
		{"ID", in.InstructionId}, {"Device", in.DeviceId}, {"Type", in.Type}, {"Status", str(in.Status)},
		{"Created by", in.CreatedBy}, {"Created", when(in.CreatedAt)}, {"Expires", when(in.ExpiresAt)},
		{"Updated", when(in.UpdatedAt)}, {"Exit code", exitCode(in)}, {"Upload", in.UploadId},
	}
	if err := s.show(in, fields, propertySection("Parameters", in.Parameter)); err != nil || s.json || in.Output == "" {
		return err
	}
	// Output is the device's own text, possibly many lines: printed after
	// the fields rather than squeezed into a cell, with control characters
	// other than line breaks and tabs blanked so it cannot drive the
	// terminal.
	out := strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			return ' '
		}
		return r
	}, strings.TrimRight(in.Output, "\n"))
	_, err := fmt.Fprintf(s.stdout, "\nOutput:\n%s\n", out)
	return err
}

// exitCode is shown only once the device has finished: before that the
// schema's zero would read as a success that has not happened.
func exitCode(in *management.Instruction) string {
	switch str(in.Status) {
	case string(management.InstructionStatusSucceeded), string(management.InstructionStatusFailed),
		string(management.InstructionStatusRejected):
		return strconv.Itoa(int(in.ExitCode))
	}
	return ""
}

var instructionColumns = columns[*management.Instruction]{
	header: []string{"ID", "DEVICE", "TYPE", "STATUS", "CREATED", "BY", "UPDATED"},
	row: func(in *management.Instruction) []string {
		return []string{in.InstructionId, in.DeviceId, in.Type, str(in.Status), when(in.CreatedAt), in.CreatedBy, when(in.UpdatedAt)}
	},
}

func instructionsListVerb() remoteVerb {
	return remoteVerb{
		name:     "list",
		summary:  "List instructions, newest first",
		synopsis: "[--device ID] [--status STATUS] [--limit N] [--page-token T] [--all]",
		setup: func(fs *flag.FlagSet) prepare {
			device := fs.String("device", "", "only instructions for this device `id`")
			status := enumFlag(fs, "status", "only instructions with this `status`", instructionStatuses...)
			pg := addPaging(fs)
			return func(args []string) (call, error) {
				if err := wantArgs(args); err != nil {
					return nil, err
				}
				return func(ctx context.Context, s *session) error {
					return list(ctx, s, pg, instructionColumns, func(ctx context.Context, token string) ([]*management.Instruction, string, error) {
						r, err := s.m.ListInstructions(ctx, &management.ListInstructions{DeviceId: *device, Status: status.val,
							Limit: int32(pg.limit), PageToken: token})
						if err != nil {
							return nil, "", err
						}
						return r.Instruction, r.NextPageToken, nil
					})
				}, nil
			}
		},
	}
}
