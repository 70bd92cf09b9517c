package main

import (
	"context"
	"flag"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/server/soapapi"
	"github.com/rmsproject/rms/wssec/pki"
)

var healthStates = []management.HealthState{management.HealthStateOk, management.HealthStateWarning,
	management.HealthStateError, management.HealthStateMaintenance, management.HealthStateOffline}

func devicesCommand() *command {
	return &command{
		name:    "devices",
		summary: "List devices, show one, read its heartbeat history; register devices, revoke certificates",
		subs: []*command{
			devicesListVerb().command("devices"),
			devicesShowVerb().command("devices"),
			devicesHistoryVerb().command("devices"),
			devicesRegisterVerb().command("devices"),
			devicesRevokeVerb().command("devices"),
		},
	}
}

var deviceColumns = columns[*management.DeviceSummary]{
	header: []string{"ID", "NAME", "CUSTOMER", "SITE", "MODEL", "STATE", "LAST SEEN", "ALARMS"},
	row: func(d *management.DeviceSummary) []string {
		return []string{d.DeviceId, d.DisplayName, d.Customer, d.Site, d.Model, str(d.State), when(d.LastSeen),
			strconv.Itoa(int(d.OpenAlarms))}
	},
}

func devicesListVerb() remoteVerb {
	return remoteVerb{
		name:     "list",
		summary:  "List the devices you may see",
		synopsis: "[--customer C] [--site S] [--state STATE] [--search TEXT] [--limit N] [--page-token T] [--all]",
		setup: func(fs *flag.FlagSet) prepare {
			customer := fs.String("customer", "", "only devices of this `customer`")
			site := fs.String("site", "", "only devices at this `site`")
			state := enumFlag(fs, "state", "only devices in this `state`", healthStates...)
			search := fs.String("search", "", "only devices whose id or name contains `text`")
			pg := addPaging(fs)
			return func(args []string) (call, error) {
				if err := wantArgs(args); err != nil {
					return nil, err
				}
				return func(ctx context.Context, s *session) error {
					return list(ctx, s, pg, deviceColumns, func(ctx context.Context, token string) ([]*management.DeviceSummary, string, error) {
						r, err := s.m.ListDevices(ctx, &management.ListDevices{Customer: *customer, Site: *site, State: state.val,
							Search: *search, Limit: int32(pg.limit), PageToken: token})
						if err != nil {
							return nil, "", err
						}
						return r.Device, r.NextPageToken, nil
					})
				}, nil
			}
		},
	}
}

func devicesShowVerb() remoteVerb {
	return remoteVerb{
		name:     "show",
		summary:  "Show one device with its current state, metrics and properties",
		synopsis: "ID",
		setup: byID(func(ctx context.Context, s *session, id string) error {
			r, err := s.m.GetDevice(ctx, &management.GetDevice{DeviceId: id})
			if err != nil {
				return err
			}
			return s.showDevice(r.Device)
		}),
	}
}

func (s *session) showDevice(d *management.Device) error {
	if d == nil {
		d = &management.Device{}
	}
	sum := d.Summary
	if sum == nil {
		sum = &management.DeviceSummary{}
	}
	return s.show(d, [][2]string{
		{"ID", sum.DeviceId}, {"Name", sum.DisplayName}, {"Customer", sum.Customer}, {"Site", sum.Site},
		{"Model", sum.Model}, {"State", str(sum.State)}, {"Last seen", when(sum.LastSeen)},
		{"Open alarms", strconv.Itoa(int(sum.OpenAlarms))}, {"Gateway", d.GatewayId},
		{"Agent version", d.AgentVersion}, {"Certificate", d.CertificateSubject},
		{"Certificate expires", when(d.CertificateExpiresAt)},
		{"Heartbeat interval", seconds(d.HeartbeatIntervalSeconds)},
	}, metricSection(d.Metric), propertySection("Properties", d.Property))
}

func devicesRegisterVerb() remoteVerb {
	return remoteVerb{
		name:     "register",
		summary:  "Pre-register a device (needed when the server runs with --require-registration)",
		synopsis: "ID [--display-name NAME] [--customer C] [--site S] [--model M]",
		details: "The device is admitted from its first request on, with a certificate whose CN is ID.\n" +
			"Registering a device that exists is refused with CONFLICT.",
		setup: func(fs *flag.FlagSet) prepare {
			name := fs.String("display-name", "", "the device's display `name`")
			customer := fs.String("customer", "", "the `customer` the device belongs to")
			site := fs.String("site", "", "the `site` within the customer")
			model := fs.String("model", "", "the device `model`")
			return func(args []string) (call, error) {
				if err := wantArgs(args, "ID"); err != nil {
					return nil, err
				}
				if !pki.ValidDeviceID(args[0]) {
					return nil, usagef("device id %q: want 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit", args[0])
				}
				for _, f := range []struct{ flag, val string }{{"display-name", *name}, {"customer", *customer},
					{"site", *site}, {"model", *model}} {
					if utf8.RuneCountInString(f.val) > soapapi.MaxDeviceLabel {
						return nil, usagef("--%s is limited to %d characters", f.flag, soapapi.MaxDeviceLabel)
					}
				}
				req := &management.RegisterDevice{DeviceId: args[0], DisplayName: *name, Customer: *customer,
					Site: *site, Model: *model}
				return func(ctx context.Context, s *session) error {
					r, err := s.m.RegisterDevice(ctx, req)
					if err != nil {
						return err
					}
					return s.showDevice(r.Device)
				}, nil
			}
		},
	}
}

func devicesRevokeVerb() remoteVerb {
	return remoteVerb{
		name:     "revoke",
		summary:  "Revoke a device certificate by serial number",
		synopsis: "SERIAL [--reason TEXT]",
		details: "SERIAL is the certificate's serial number in hex, e.g. from\n" +
			"openssl x509 -noout -serial -in dev.crt (the serial= prefix, colons, case\n" +
			"and leading zeros do not matter). Every later request with that certificate\n" +
			"is refused with FORBIDDEN: at once on the server replica that takes the\n" +
			"revocation, within 30 seconds on the others.",
		setup: func(fs *flag.FlagSet) prepare {
			reason := fs.String("reason", "", "the `reason`, for the record, e.g. \"key compromise\"")
			return func(args []string) (call, error) {
				if err := wantArgs(args, "SERIAL"); err != nil {
					return nil, err
				}
				serial := soapapi.CertSerial(strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(args[0]), "serial="), ":", ""))
				if serial == "" {
					return nil, usagef("serial %q: want the certificate serial number in hex (at most 64 digits)", args[0])
				}
				if utf8.RuneCountInString(*reason) > soapapi.MaxRevocationReason {
					return nil, usagef("--reason is limited to %d characters", soapapi.MaxRevocationReason)
				}
				return func(ctx context.Context, s *session) error {
					r, err := s.m.RevokeCertificate(ctx, &management.RevokeCertificate{Serial: serial, Reason: *reason})
					if err != nil {
						return err
					}
					return s.show(r, [][2]string{{"Revoked serial", r.Serial}})
				}, nil
			}
		},
	}
}

var historyColumns = columns[*management.HistoryEntry]{
	header: []string{"TIME", "STATE", "METRICS", "PROPERTIES"},
	row: func(h *management.HistoryEntry) []string {
		return []string{when(h.Time), str(h.State), metricsText(h.Metric), nameValuesText(h.Property)}
	},
}

func devicesHistoryVerb() remoteVerb {
	return remoteVerb{
		name:     "history",
		summary:  "List a device's heartbeats, newest first",
		synopsis: "ID [--from TIME] [--to TIME] [--limit N] [--page-token T] [--all]",
		setup: func(fs *flag.FlagSet) prepare {
			from := timeFlag(fs, "from", "only heartbeats at or after this `time`")
			to := timeFlag(fs, "to", "only heartbeats before this `time`")
			pg := addPaging(fs)
			return func(args []string) (call, error) {
				if err := wantArgs(args, "ID"); err != nil {
					return nil, err
				}
				if err := checkRange(from, to); err != nil {
					return nil, err
				}
				return func(ctx context.Context, s *session) error {
					return list(ctx, s, pg, historyColumns, func(ctx context.Context, token string) ([]*management.HistoryEntry, string, error) {
						r, err := s.m.GetDeviceHistory(ctx, &management.GetDeviceHistory{DeviceId: args[0], From: from.xsd(), To: to.xsd(),
							Limit: int32(pg.limit), PageToken: token})
						if err != nil {
							return nil, "", err
						}
						return r.Entry, r.NextPageToken, nil
					})
				}, nil
			}
		},
	}
}

func seconds(n int32) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(int(n)) + "s"
}

func metricSection(ms []*management.Metric) section {
	sec := section{title: "Metrics", header: []string{"NAME", "VALUE", "UNIT"}}
	for _, m := range ms {
		if m != nil {
			sec.rows = append(sec.rows, []string{m.Name, formatFloat(m.Value), m.Unit})
		}
	}
	return sec
}

func propertySection(title string, nvs []*management.NameValue) section {
	sec := section{title: title, header: []string{"NAME", "VALUE"}}
	for _, nv := range nvs {
		if nv != nil {
			sec.rows = append(sec.rows, []string{nv.Name, nv.Value})
		}
	}
	return sec
}

// metricsText and nameValuesText fit a list into one table cell.
func metricsText(ms []*management.Metric) string {
	var out string
	for _, m := range ms {
		if m == nil {
			continue
		}
		if out != "" {
			out += " "
		}
		out += m.Name + "=" + formatFloat(m.Value) + m.Unit
	}
	return out
}

func nameValuesText(nvs []*management.NameValue) string {
	var out string
	for _, nv := range nvs {
		if nv == nil {
			continue
		}
		if out != "" {
			out += " "
		}
		out += nv.Name + "=" + nv.Value
	}
	return out
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
