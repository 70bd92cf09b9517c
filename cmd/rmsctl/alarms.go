package main

import (
	"context"
	"flag"

	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/server/soapapi"
	"github.com/rmsproject/rms/soapclient"
)

var (
	alarmStates = []management.AlarmState{management.AlarmStateActive, management.AlarmStateAcknowledged,
		management.AlarmStateCleared}
	// severities are in the schema's order, most severe first.
	severities = []management.Severity{management.SeverityCritical, management.SeverityMajor,
		management.SeverityMinor, management.SeverityWarning, management.SeverityInfo}
)

func alarmsCommand() *command {
	return &command{
		name:    "alarms",
		summary: "List alarms, acknowledge and clear them",
		subs: []*command{
			alarmsListVerb().command("alarms"),
			alarmChangeVerb("ack", "Acknowledge an active alarm", acknowledgeAlarm).command("alarms"),
			alarmChangeVerb("clear", "Clear an alarm by hand", clearAlarm).command("alarms"),
		},
	}
}

var alarmColumns = columns[*management.Alarm]{
	header: []string{"ID", "DEVICE", "CODE", "SEVERITY", "STATE", "RAISED", "TEXT"},
	row: func(a *management.Alarm) []string {
		return []string{a.AlarmId, a.DeviceId, a.Code, str(a.Severity), str(a.State), when(a.RaisedAt), a.Text}
	},
}

func alarmsListVerb() remoteVerb {
	return remoteVerb{
		name:     "list",
		summary:  "List alarms, newest first",
		synopsis: "[--device ID] [--state STATE] [--min-severity SEV] [--since TIME] [--limit N] [--page-token T] [--all]",
		setup: func(fs *flag.FlagSet) prepare {
			device := fs.String("device", "", "only alarms of this device `id`")
			state := enumFlag(fs, "state", "only alarms in this `state`", alarmStates...)
			minSev := enumFlag(fs, "min-severity", "only alarms at least this `severe`", severities...)
			since := timeFlag(fs, "since", "only alarms raised at or after this `time`")
			pg := addPaging(fs)
			return func(args []string) (call, error) {
				if err := wantArgs(args); err != nil {
					return nil, err
				}
				return func(ctx context.Context, s *session) error {
					return list(ctx, s, pg, alarmColumns, func(ctx context.Context, token string) ([]*management.Alarm, string, error) {
						r, err := s.m.ListAlarms(ctx, &management.ListAlarms{DeviceId: *device, State: state.val,
							MinSeverity: minSev.val, Since: since.xsd(), Limit: int32(pg.limit), PageToken: token})
						if err != nil {
							return nil, "", err
						}
						return r.Alarm, r.NextPageToken, nil
					})
				}, nil
			}
		},
	}
}

// alarmChange is one of the two alarm changes, so ack and clear share one
// verb builder.
type alarmChange func(ctx context.Context, m *soapclient.Management, id, comment string) (*management.Alarm, error)

func acknowledgeAlarm(ctx context.Context, m *soapclient.Management, id, comment string) (*management.Alarm, error) {
	r, err := m.AcknowledgeAlarm(ctx, &management.AcknowledgeAlarm{AlarmId: id, Comment: comment})
	if err != nil {
		return nil, err
	}
	return r.Alarm, nil
}

func clearAlarm(ctx context.Context, m *soapclient.Management, id, comment string) (*management.Alarm, error) {
	r, err := m.ClearAlarm(ctx, &management.ClearAlarm{AlarmId: id, Comment: comment})
	if err != nil {
		return nil, err
	}
	return r.Alarm, nil
}

// alarmChangeVerb is "alarms ack" or "alarms clear": one alarm id, an
// optional comment, and the changed alarm printed back.
func alarmChangeVerb(name, summary string, change alarmChange) remoteVerb {
	return remoteVerb{
		name:     name,
		summary:  summary,
		synopsis: "ID [--comment TEXT]",
		setup: func(fs *flag.FlagSet) prepare {
			comment := fs.String("comment", "", "`text` recorded with the change")
			return func(args []string) (call, error) {
				if err := wantArgs(args, "ID"); err != nil {
					return nil, err
				}
				if len(*comment) > soapapi.MaxComment {
					return nil, usagef("--comment is limited to %d bytes", soapapi.MaxComment)
				}
				return func(ctx context.Context, s *session) error {
					a, err := change(ctx, s.m, args[0], *comment)
					if err != nil {
						return err
					}
					return s.showAlarm(a)
				}, nil
			}
		},
	}
}

func (s *session) showAlarm(a *management.Alarm) error {
	if a == nil {
		a = &management.Alarm{}
	}
	return s.show(a, [][2]string{
		{"ID", a.AlarmId}, {"Device", a.DeviceId}, {"Code", a.Code}, {"Severity", str(a.Severity)},
		{"State", str(a.State)}, {"Text", a.Text}, {"Raised", when(a.RaisedAt)},
		{"Acknowledged by", a.AcknowledgedBy}, {"Acknowledged", when(a.AcknowledgedAt)},
		{"Cleared by", a.ClearedBy}, {"Cleared", when(a.ClearedAt)}, {"Comment", a.Comment},
	}, propertySection("Context", a.Context))
}
